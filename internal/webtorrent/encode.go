package webtorrent

import (
	"fmt"
	"strconv"
)

// Encode writes m exactly as bittorrent-tracker 11.x does with JSON.stringify: members
// in the library's order, its escaping (not encoding/json's), ids as binary strings.
// Client messages (*Announce, *Scrape) come out in the order its client sends them.
func Encode(m Message) ([]byte, error) {
	w := writer{b: make([]byte, 0, 256)}
	switch m := m.(type) {
	case *AnnounceReply:
		w.open()
		w.int("complete", m.Complete)
		w.int("incomplete", m.Incomplete)
		w.str("action", ActionAnnounce)
		w.int("interval", m.Interval)
		w.bin("info_hash", m.InfoHash)
		w.close()
	case *ForwardedOffer:
		w.open()
		w.str("action", ActionAnnounce)
		w.raw("offer", m.Offer)
		w.bin("offer_id", m.OfferID)
		w.bin("peer_id", m.PeerID)
		w.bin("info_hash", m.InfoHash)
		w.close()
	case *ForwardedAnswer:
		w.open()
		w.str("action", ActionAnnounce)
		w.raw("answer", m.Answer)
		w.bin("offer_id", m.OfferID)
		w.bin("peer_id", m.PeerID)
		w.bin("info_hash", m.InfoHash)
		w.close()
	case *ScrapeReply:
		w.open()
		w.str("action", ActionScrape)
		w.key("files")
		w.b = append(w.b, '{')
		for i, f := range m.Files {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = appendBinary(w.b, f.InfoHash)
			w.b = append(w.b, ':')
			inner := writer{b: w.b}
			inner.open()
			inner.int("complete", f.Complete)
			inner.int("incomplete", f.Incomplete)
			inner.int("downloaded", f.Complete)
			inner.close()
			w.b = inner.b
		}
		w.b = append(w.b, '}')
		w.key("flags")
		inner := writer{b: w.b}
		inner.open()
		inner.int("min_request_interval", m.MinInterval)
		inner.close()
		w.b = inner.b
		w.close()
	case *Failure:
		w.open()
		if m.Action != "" {
			w.str("action", m.Action)
		}
		w.str("failure reason", m.Reason)
		if m.Action != "" {
			w.bin("info_hash", m.InfoHash)
		}
		w.close()
	case *Announce:
		w.open()
		if m.Answer != nil {
			w.str("action", ActionAnnounce)
			w.bin("info_hash", m.InfoHash)
			w.bin("peer_id", m.PeerID)
			w.bin("to_peer_id", m.ToPeerID)
			w.raw("answer", m.Answer)
			w.bin("offer_id", m.OfferID)
			w.close()
			break
		}
		if m.NumWant != nil {
			w.key("numwant")
			w.b = strconv.AppendInt(w.b, *m.NumWant, 10)
		}
		if m.Uploaded != nil {
			w.key("uploaded")
			w.b = strconv.AppendUint(w.b, *m.Uploaded, 10)
		}
		if m.Downloaded != nil {
			w.key("downloaded")
			w.b = strconv.AppendUint(w.b, *m.Downloaded, 10)
		}
		if m.Left != nil {
			w.key("left")
			w.b = append(w.b, jsNumber(*m.Left)...)
		}
		if m.Event != EventUpdate && m.Event != "" {
			w.str("event", m.Event)
		}
		w.str("action", ActionAnnounce)
		w.bin("info_hash", m.InfoHash)
		w.bin("peer_id", m.PeerID)
		if m.Offers != nil {
			w.key("offers")
			w.b = append(w.b, '[')
			for i, o := range m.Offers {
				if i > 0 {
					w.b = append(w.b, ',')
				}
				inner := writer{b: w.b}
				inner.open()
				inner.raw("offer", o.Offer)
				inner.bin("offer_id", o.OfferID)
				inner.close()
				w.b = inner.b
			}
			w.b = append(w.b, ']')
		}
		w.close()
	case *Scrape:
		w.open()
		w.str("action", ActionScrape)
		if m.InfoHashes != nil {
			w.key("info_hash")
			w.b = append(w.b, '[')
			for i, h := range m.InfoHashes {
				if i > 0 {
					w.b = append(w.b, ',')
				}
				w.b = appendBinary(w.b, h)
			}
			w.b = append(w.b, ']')
		}
		w.close()
	default:
		return nil, fmt.Errorf("webtorrent: cannot encode %T", m)
	}
	return w.b, nil
}

// writer appends one JSON object's members; open and close bracket it.
type writer struct {
	b []byte
	n int // members written
}

func (w *writer) open()  { w.b = append(w.b, '{') }
func (w *writer) close() { w.b = append(w.b, '}') }

func (w *writer) key(k string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = appendString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *writer) str(k, v string) { w.key(k); w.b = appendString(w.b, v) }
func (w *writer) bin(k, v string) { w.key(k); w.b = appendBinary(w.b, v) }
func (w *writer) int(k string, v int) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, int64(v), 10)
}

// raw writes an offer or answer object as the client sent it (compacted). A nil one
// is left out, as JSON.stringify leaves out undefined.
func (w *writer) raw(k string, v []byte) {
	if v == nil {
		return
	}
	w.key(k)
	w.b = append(w.b, v...)
}
