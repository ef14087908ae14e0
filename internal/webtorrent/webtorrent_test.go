package webtorrent

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// GoldenDir holds messages from bittorrent-tracker 11.2.3 (bench/tracker/golden.mjs):
// client requests as its client builds them, and the replies its server sent.
const goldenDir = "../../testdata/webtorrent"

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// TestGolden: every request decodes and re-encodes to the client's bytes; every reply
// the library's server sent decodes and is re-encoded by Encode to the same bytes.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if len(files) < 15 {
		t.Fatalf("golden files: %v", files)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want := readGolden(t, name)
			decode := DecodeReply
			if strings.HasPrefix(name, "client-") {
				decode = DecodeRequest
			}
			m, err := decode(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("re-encoded\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestGoldenFields pins what the binary strings decode to.
func TestGoldenFields(t *testing.T) {
	m, err := DecodeRequest(readGolden(t, "client-announce-binary.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := m.(*Announce)
	if got := Hex(a.InfoHash); got != "00ff7f80e9200a0d22095c1f7e413bf0c0ffee01" {
		t.Fatalf("info hash %s", got)
	}
	if got := Hex(a.PeerID); got != Hex("-WW0208-")+"00e9ff0a1b7f22c35c8081fe" {
		t.Fatalf("peer id %s", got)
	}
	if a.Event != EventStarted || len(a.Offers) != 0 || a.Offers == nil || a.Complete {
		t.Fatalf("%+v", a)
	}
	m, _ = DecodeRequest(readGolden(t, "client-announce-offers.json"))
	o := m.(*Announce).Offers
	if len(o) != 1 || Hex(o[0].OfferID) != "13ff00a97f0a225c8e01d2c3b4a5968778695a4b" || !bytes.HasPrefix(o[0].Offer, []byte(`{"type":"offer","sdp":"v=0\r\n`)) {
		t.Fatalf("%+v", o)
	}
	m, _ = DecodeRequest(readGolden(t, "client-announce-update.json"))
	if u := m.(*Announce); u.Event != EventUpdate || !u.Complete || *u.Uploaded != 1048576 || *u.Downloaded != 3145728 {
		t.Fatalf("%+v", u)
	}
	m, _ = DecodeRequest(readGolden(t, "client-scrape-all.json"))
	if s := m.(*Scrape); s.InfoHashes != nil {
		t.Fatalf("%+v", s)
	}
}

// TestGoldenInvalid: each refused request gets exactly the library's reply.
func TestGoldenInvalid(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, "invalid", "*.json"))
	if len(files) < 8 {
		t.Fatalf("invalid files: %v", files)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			m, err := DecodeRequest(readGolden(t, filepath.Join("invalid", name)))
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("decoded %#v, %v", m, err)
			}
			got, _ := Encode(FailureOf(err))
			want := readGolden(t, filepath.Join("invalid", strings.TrimSuffix(name, ".json")+".reply"))
			if !bytes.Equal(got, want) {
				t.Fatalf("reply\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestDecodeQuirks: the library's JavaScript semantics and our own refusals.
func TestDecodeQuirks(t *testing.T) {
	ih, pid := `"Jm9bS0x2YnZqT1kxWkE4"`, `"-PM0203-Ab3dE5fG7hI9"`
	base := `{"action":"announce","info_hash":` + ih + `,"peer_id":` + pid
	cases := []struct {
		msg    string
		reason string // "" = accepted
		check  func(*Announce) bool
	}{
		// One code unit per \u escape, low byte kept: U+0100 is 0x00, like Buffer 'binary'.
		{`{"action":"announce","info_hash":"\u0100bcdefghijklmnopqrst","peer_id":` + pid + `}`, "", func(a *Announce) bool { return a.InfoHash[0] == 0 }},
		// A character above U+FFFF is two code units (JavaScript's length).
		{`{"action":"announce","info_hash":"😀cdefghijklmnopqrst","peer_id":` + pid + `}`, "", func(a *Announce) bool { return a.InfoHash[:2] == "\x3d\x00" }},
		{`{"action":"announce","info_hash":"😀cdefghijklmnopqrstu","peer_id":` + pid + `}`, "invalid info_hash", nil},
		// Exact member names: INFO_HASH is not info_hash.
		{`{"action":"announce","INFO_HASH":` + ih + `,"peer_id":` + pid + `}`, "invalid info_hash", nil},
		{`{"action":"ann\u006funce","info_hash":` + ih + `,"peer_id":` + pid + `}`, "", nil},
		{`{"action":{"x":1}}`, "invalid action in WS request: [object Object]", nil},
		{`{"action":3}`, "invalid action in WS request: 3", nil},
		{`[1,2]`, "invalid action in WS request: undefined", nil},
		{`{"action":`, "invalid JSON", nil},
		{"{\"action\":\"\xff\"}", "invalid UTF-8", nil},
		{base + `,"event":""}`, "", func(a *Announce) bool { return a.Event == EventUpdate }},
		{base + `,"event":"empty"}`, "", func(a *Announce) bool { return a.Event == EventUpdate }},
		{base + `,"event":0}`, "", func(a *Announce) bool { return a.Event == EventUpdate }},
		{base + `,"event":1}`, "invalid event", nil},
		{base + `,"left":null}`, "", func(a *Announce) bool { return a.Complete }},
		{base + `,"left":"0"}`, "", func(a *Announce) bool { return a.Complete }},
		{base + `,"left":"x"}`, "", func(a *Announce) bool { return !a.Complete }},
		{base + `,"left":5}`, "", func(a *Announce) bool { return !a.Complete && *a.Left == 5 }},
		{base + `}`, "", func(a *Announce) bool { return !a.Complete && a.Left == nil }},
		{base + `,"answer":false}`, "", func(a *Announce) bool { return a.Answer == nil }},
		{base + `,"answer":{"type":"answer"},"to_peer_id":` + pid + `}`, "invalid answer: want an object and a 20-character offer_id", nil},
		{base + `,"offers":{"length":3}}`, "invalid offers: want an array of {offer, offer_id}", nil},
		{base + `,"offers":[null]}`, "invalid offers: want an array of {offer, offer_id}", nil},
		{base + `,"offers":[{"offer":"x","offer_id":"abcdefghijklmnopqrst"}]}`, "invalid offers: want an array of {offer, offer_id}", nil},
		{base + `,"uploaded":-1,"downloaded":1.5}`, "", func(a *Announce) bool { return a.Uploaded == nil && a.Downloaded == nil }},
		{`{"action":"scrape","info_hash":7}`, "invalid info_hash", nil},
	}
	for _, c := range cases {
		m, err := DecodeRequest([]byte(c.msg))
		if c.reason != "" {
			if err == nil || FailureOf(err).Reason != c.reason {
				t.Errorf("%s: got %v, %v; want %q", c.msg, m, err, c.reason)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.msg, err)
			continue
		}
		if a, ok := m.(*Announce); c.check != nil && (!ok || !c.check(a)) {
			t.Errorf("%s: decoded %+v", c.msg, m)
		}
	}
}

// TestManyOffers: like the library, an announce forwards at most MaxOffers offers.
func TestManyOffers(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"action":"announce","info_hash":"Jm9bS0x2YnZqT1kxWkE4","peer_id":"-PM0203-Ab3dE5fG7hI9","offers":[`)
	for i := range 200 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"offer":{"type":"offer","sdp":"v=0"},"offer_id":"abcdefghijklmnopqrst"}`)
	}
	b.WriteString(`]}`)
	m, err := DecodeRequest([]byte(b.String()))
	if err != nil || len(m.(*Announce).Offers) != MaxOffers {
		t.Fatalf("%v %v", m, err)
	}
}

// roundTrip is the fuzz property: anything accepted re-encodes to bytes that decode to
// the same value and encode to the same bytes.
func roundTrip(t *testing.T, decode func([]byte) (Message, error), b []byte) {
	m, err := decode(b)
	if err != nil {
		if !errors.Is(err, ErrBadMessage) {
			t.Fatalf("error not wrapping ErrBadMessage: %v", err)
		}
		if _, err := Encode(FailureOf(err)); err != nil {
			t.Fatal(err)
		}
		return
	}
	enc, err := Encode(m)
	if err != nil {
		t.Fatalf("encode accepted %#v: %v", m, err)
	}
	m2, err := decode(enc)
	if err != nil {
		t.Fatalf("re-decode %s: %v", enc, err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip changed %#v into %#v", m, m2)
	}
	if enc2, _ := Encode(m2); !bytes.Equal(enc, enc2) {
		t.Fatalf("not canonical:\n%s\n%s", enc, enc2)
	}
}

func addSeeds(f *testing.F) {
	for _, pat := range []string{"*.json", "invalid/*.json"} {
		files, _ := filepath.Glob(filepath.Join(goldenDir, pat))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, DecodeRequest, b) })
}

func FuzzDecodeReply(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, DecodeReply, b) })
}
