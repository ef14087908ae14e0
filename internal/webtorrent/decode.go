package webtorrent

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// Actions.
const (
	ActionAnnounce = "announce"
	ActionScrape   = "scrape"
)

// DecodeRequest decodes one client message: *Announce or *Scrape. Refusals are
// *DecodeError (wrapping ErrBadMessage) with the library's failure reason: "invalid
// info_hash", "invalid peer_id", "invalid `to_peer_id` (required with `answer`)",
// "invalid action in WS request: X", "invalid event"; and ours where the library has
// none or would crash: "invalid JSON", "invalid UTF-8", "invalid offers", "invalid answer".
// Member names are exact (unlike encoding/json) and the last duplicate wins, as in
// JSON.parse.
func DecodeRequest(b []byte) (Message, error) {
	if !utf8.Valid(b) {
		return nil, bad("invalid UTF-8")
	}
	if !json.Valid(b) {
		return nil, bad("invalid JSON")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil {
		return nil, bad("invalid action in WS request: undefined") // valid JSON, not an object
	}
	action, ok := obj["action"]
	if !ok {
		return nil, bad("invalid action in WS request: undefined")
	}
	switch jsString(action) {
	case ActionAnnounce:
		if s, ok := str(action); ok && s == ActionAnnounce {
			return decodeAnnounce(obj)
		}
	case ActionScrape:
		if s, ok := str(action); ok && s == ActionScrape {
			return decodeScrape(obj)
		}
	}
	return nil, bad("invalid action in WS request: " + jsString(action))
}

func decodeAnnounce(obj map[string]json.RawMessage) (*Announce, error) {
	a := &Announce{}
	var ok bool
	if a.InfoHash, ok = id(obj["info_hash"]); !ok {
		return nil, bad("invalid info_hash")
	}
	if a.PeerID, ok = id(obj["peer_id"]); !ok {
		return nil, bad("invalid peer_id")
	}
	if truthy(obj["answer"]) {
		if a.ToPeerID, ok = id(obj["to_peer_id"]); !ok {
			return nil, bad("invalid `to_peer_id` (required with `answer`)")
		}
		if a.OfferID, ok = id(obj["offer_id"]); !ok || !isObject(obj["answer"]) {
			return nil, bad("invalid answer: want an object and a 20-character offer_id")
		}
		a.Answer = compact(obj["answer"])
	}
	a.Left, a.Complete = left(obj["left"])
	a.NumWant = integer(obj["numwant"])
	if v := integer(obj["uploaded"]); v != nil && *v >= 0 {
		u := uint64(*v)
		a.Uploaded = &u
	}
	if v := integer(obj["downloaded"]); v != nil && *v >= 0 {
		d := uint64(*v)
		a.Downloaded = &d
	}
	if raw := obj["offers"]; truthy(raw) {
		var offers []map[string]json.RawMessage
		if json.Unmarshal(raw, &offers) != nil {
			return nil, bad("invalid offers: want an array of {offer, offer_id}")
		}
		offers = offers[:min(len(offers), MaxOffers)] // the library ignores the rest
		a.Offers = make([]Offer, len(offers))
		for i, o := range offers {
			oid, ok := id(o["offer_id"])
			if !ok || !isObject(o["offer"]) {
				return nil, bad("invalid offers: want an array of {offer, offer_id}")
			}
			a.Offers[i] = Offer{OfferID: oid, Offer: compact(o["offer"])}
		}
	}
	raw, present := obj["event"]
	switch {
	case !present || !truthy(raw):
		a.Event = EventUpdate
	default:
		e, isStr := str(raw)
		switch {
		case !isStr:
		case e == "empty":
			a.Event = EventUpdate
		case e == EventStarted || e == EventStopped || e == EventCompleted || e == EventUpdate || e == EventPaused:
			a.Event = e
		}
		if a.Event == "" {
			return nil, &DecodeError{Reason: "invalid event", Action: ActionAnnounce, InfoHash: a.InfoHash}
		}
	}
	return a, nil
}

func decodeScrape(obj map[string]json.RawMessage) (*Scrape, error) {
	raw := obj["info_hash"]
	if raw == nil || string(raw) == "null" {
		return &Scrape{}, nil
	}
	if h, ok := id(raw); ok {
		return &Scrape{InfoHashes: []string{h}}, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil, bad("invalid info_hash")
	}
	s := &Scrape{InfoHashes: make([]string, len(list))}
	for i, r := range list {
		h, ok := id(r)
		if !ok {
			return nil, bad("invalid info_hash")
		}
		s.InfoHashes[i] = h
	}
	return s, nil
}

// id decodes a 20-character binary string.
func id(raw json.RawMessage) (string, bool) {
	b, n, ok := decodeBinary(raw)
	if !ok || n != IDLen {
		return "", false
	}
	return string(b), true
}

func str(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func compact(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return nil // raw came from a valid document: cannot happen
	}
	return buf.Bytes()
}

// truthy is JavaScript's truthiness of a JSON value (absent = undefined = false).
func truthy(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case 'n', 'f':
		return false
	case '"':
		return len(raw) > 2
	case '{', '[', 't':
		return true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return err != nil || f != 0 // an overflowing number is ±Infinity: truthy
}

// jsString renders a JSON value as a JavaScript template literal would, for the
// library's "invalid action" reason (objects as "[object Object]").
func jsString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "undefined"
	}
	if s, ok := str(raw); ok {
		return s
	}
	switch raw[0] {
	case '{':
		return "[object Object]"
	case '[':
		var items []json.RawMessage
		_ = json.Unmarshal(raw, &items)
		var b []byte
		for i, it := range items {
			if i > 0 {
				b = append(b, ',')
			}
			if s := jsString(it); s != "null" && s != "undefined" {
				b = append(b, s...)
			}
		}
		return string(b)
	case 'n', 't', 'f':
		return string(raw)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return "Infinity"
	}
	return jsNumber(f)
}

func jsNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	if math.Abs(f) >= 1e21 || math.Abs(f) < 1e-6 {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// integer is a JSON number that is an integer within ±2^53, else nil.
func integer(raw json.RawMessage) *int64 {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return nil
	}
	v := int64(f)
	return &v
}

// left is the library's Number(params.left) == 0 test: absent (undefined) and
// non-numeric strings are NaN (→ Infinity, incomplete); null, false, "" and "0" are 0.
// The returned value is nil unless left is a number, or 0 when complete.
func left(raw json.RawMessage) (*float64, bool) {
	raw = bytes.TrimSpace(raw)
	zero := 0.0
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case 'n', 'f':
		return &zero, true
	case 't', '{':
		return nil, false
	case '[': // Number([]) = 0, Number([x]) = Number(x)
		var items []json.RawMessage
		_ = json.Unmarshal(raw, &items)
		if len(items) == 0 {
			return &zero, true
		}
		if len(items) == 1 && len(bytes.TrimSpace(items[0])) > 0 && bytes.TrimSpace(items[0])[0] != '[' {
			if _, c := left(items[0]); c {
				return &zero, true
			}
		}
		return nil, false
	case '"':
		s, _ := str(raw)
		if f, ok := jsNumberFromString(s); ok && f == 0 {
			return &zero, true
		}
		return nil, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return nil, false // ±Infinity
	}
	if f == 0 {
		return &zero, true
	}
	return &f, false
}

// jsNumberFromString is Number(s) for the cases that matter here: whitespace-only is 0.
func jsNumberFromString(s string) (float64, bool) {
	t := bytes.TrimSpace([]byte(s))
	if len(t) == 0 {
		return 0, true
	}
	f, err := strconv.ParseFloat(string(t), 64)
	return f, err == nil
}
