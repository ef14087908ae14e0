package webtorrent

import (
	"bytes"
	"encoding/json"
)

// DecodeReply decodes one tracker message, as a client (Go tests, the bench load
// generator) receives it: *AnnounceReply, *ForwardedOffer, *ForwardedAnswer,
// *ScrapeReply or *Failure. It checks shapes, not the library's every quirk.
func DecodeReply(b []byte) (Message, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil {
		return nil, bad("invalid JSON object")
	}
	if raw, ok := obj["failure reason"]; ok {
		f := &Failure{}
		var ok1 bool
		if f.Reason, ok1 = str(raw); !ok1 {
			return nil, bad("invalid failure reason")
		}
		if a, ok := obj["action"]; ok {
			f.Action, _ = str(a)
			if f.InfoHash, ok = id(obj["info_hash"]); !ok || f.Action == "" {
				return nil, bad("invalid failure")
			}
		}
		return f, nil
	}
	action, _ := str(obj["action"])
	switch action {
	case ActionAnnounce:
		ih, ok := id(obj["info_hash"])
		if !ok {
			return nil, bad("invalid info_hash")
		}
		if o, a := obj["offer"], obj["answer"]; o != nil || a != nil {
			pid, ok1 := id(obj["peer_id"])
			oid, ok2 := id(obj["offer_id"])
			if !ok1 || !ok2 || (o != nil) == (a != nil) || !isObject(o) && !isObject(a) {
				return nil, bad("invalid forwarded offer or answer")
			}
			if o != nil {
				return &ForwardedOffer{InfoHash: ih, PeerID: pid, OfferID: oid, Offer: compact(o)}, nil
			}
			return &ForwardedAnswer{InfoHash: ih, PeerID: pid, OfferID: oid, Answer: compact(a)}, nil
		}
		r := &AnnounceReply{InfoHash: ih}
		for k, v := range map[string]*int{"complete": &r.Complete, "incomplete": &r.Incomplete, "interval": &r.Interval} {
			n := integer(obj[k])
			if n == nil || *n < 0 || *n > 1<<31 {
				return nil, bad("invalid " + k)
			}
			*v = int(*n)
		}
		return r, nil
	case ActionScrape:
		var flags struct {
			MinRequestInterval int `json:"min_request_interval"`
		}
		if json.Unmarshal(obj["flags"], &flags) != nil {
			return nil, bad("invalid scrape reply")
		}
		r := &ScrapeReply{MinInterval: flags.MinRequestInterval, Files: []ScrapeFile{}}
		// Decoded in order (a map would lose it): the tracker answers in the request's order.
		d := json.NewDecoder(bytes.NewReader(obj["files"]))
		if t, err := d.Token(); err != nil || t != json.Delim('{') {
			return nil, bad("invalid scrape files")
		}
		for d.More() {
			k, _ := d.Token()
			var f struct {
				Complete   *int `json:"complete"`
				Incomplete *int `json:"incomplete"`
			}
			key, isStr := k.(string)
			ih, ok := id(mustMarshal(key))
			if !isStr || !ok || d.Decode(&f) != nil || f.Complete == nil || f.Incomplete == nil {
				return nil, bad("invalid scrape file")
			}
			r.Files = append(r.Files, ScrapeFile{InfoHash: ih, Complete: *f.Complete, Incomplete: *f.Incomplete})
		}
		return r, nil
	}
	return nil, bad("invalid action in WS response: " + jsString(obj["action"]))
}

func mustMarshal(s string) []byte {
	return appendString(nil, s)
}
