package quota

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func mustNew(t *testing.T, cfg Config) *Limits {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestConnsCappedPerAddress(t *testing.T) {
	l := mustNew(t, Config{PerAddr: 3})
	a, b := netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("203.0.113.8")
	for i := range 3 {
		if err := l.Open(a); err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
	}
	if err := l.Open(a); !errors.Is(err, ErrConns) {
		t.Fatalf("4th connection: %v, want ErrConns", err)
	}
	if err := l.Open(b); err != nil {
		t.Fatalf("another address is unaffected: %v", err)
	}
	l.Close(a)
	if err := l.Open(a); err != nil {
		t.Fatalf("after a close: %v", err)
	}
	l.Close(netip.MustParseAddr("198.51.100.1")) // never opened: ignored
}

func TestDefaultFitsCarrierGradeNAT(t *testing.T) {
	l := mustNew(t, Config{})
	a := netip.MustParseAddr("100.64.0.1")
	for i := range DefaultPerAddr {
		if err := l.Open(a); err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if err := l.Join(a, t0); err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
	}
	if err := l.Open(a); !errors.Is(err, ErrConns) {
		t.Fatalf("open %d: %v", DefaultPerAddr+1, err)
	}
	if err := l.Join(a, t0); !errors.Is(err, ErrJoins) {
		t.Fatalf("join %d: %v", DefaultPerAddr+1, err)
	}
}

func TestJoinsRefill(t *testing.T) {
	l := mustNew(t, Config{PerAddr: 10, Refill: 10 * time.Second}) // one join per second
	a := netip.MustParseAddr("192.0.2.1")
	for range 10 {
		if err := l.Join(a, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Join(a, t0.Add(500*time.Millisecond)); !errors.Is(err, ErrJoins) {
		t.Fatalf("burst spent: %v", err)
	}
	if err := l.Join(a, t0.Add(1100*time.Millisecond)); err != nil {
		t.Fatalf("a second later one join is back: %v", err)
	}
	if err := l.Join(a, t0.Add(1200*time.Millisecond)); !errors.Is(err, ErrJoins) {
		t.Fatalf("only one: %v", err)
	}
	// A clock that goes backwards gives nothing back and breaks nothing.
	if err := l.Join(a, t0); !errors.Is(err, ErrJoins) {
		t.Fatalf("backwards clock: %v", err)
	}
}

func TestRangesLongestPrefixWins(t *testing.T) {
	kv := map[string]string{"10.0.0.0/8": "5", "10.1.0.0/16": "0", "192.0.2.9": "1"}
	rs, err := ParseRanges(kv)
	if err != nil {
		t.Fatal(err)
	}
	l := mustNew(t, Config{PerAddr: 2, Ranges: rs})
	for addr, want := range map[string]int{"10.2.3.4": 5, "10.1.2.3": 0, "192.0.2.9": 1, "192.0.2.10": 2} {
		if got := l.LimitOf(netip.MustParseAddr(addr)); got != want {
			t.Errorf("LimitOf(%s) = %d, want %d", addr, got, want)
		}
	}
	lifted := netip.MustParseAddr("10.1.2.3")
	for i := range 5000 {
		if err := l.Open(lifted); err != nil {
			t.Fatalf("lifted range, open %d: %v", i, err)
		}
		if err := l.Join(lifted, t0); err != nil {
			t.Fatalf("lifted range, join %d: %v", i, err)
		}
	}
	for _, bad := range []map[string]string{{"10.0.0.0/33": "1"}, {"nope": "1"}, {"10.0.0.0/8": "-1"}, {"10.0.0.0/8": "x"}} {
		if _, err := ParseRanges(bad); !errors.Is(err, ErrBadRule) {
			t.Errorf("ParseRanges(%v) = %v, want ErrBadRule", bad, err)
		}
	}
}

func TestIPv6CountedPerSlash64(t *testing.T) {
	l := mustNew(t, Config{PerAddr: 2})
	if err := l.Open(netip.MustParseAddr("2001:db8:1:2::1")); err != nil {
		t.Fatal(err)
	}
	if err := l.Open(netip.MustParseAddr("2001:db8:1:2:ffff::9")); err != nil {
		t.Fatal(err)
	}
	if err := l.Open(netip.MustParseAddr("2001:db8:1:2:abcd::5")); !errors.Is(err, ErrConns) {
		t.Fatalf("third in the same /64: %v", err)
	}
	if err := l.Open(netip.MustParseAddr("2001:db8:1:3::1")); err != nil {
		t.Fatalf("next /64: %v", err)
	}
	// An IPv4-mapped IPv6 address is the IPv4 address.
	if err := l.Open(netip.MustParseAddr("::ffff:192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	l.Close(netip.MustParseAddr("192.0.2.1"))
	if l.Len() != 2 {
		t.Fatalf("remembered %d addresses, want 2 (the two /64s with connections)", l.Len())
	}
}

// Rotating through many addresses cannot grow memory beyond MaxIdle plus the
// addresses that hold connections.
func TestMemoryBounded(t *testing.T) {
	l := mustNew(t, Config{PerAddr: 4, MaxIdle: 100})
	held := netip.MustParseAddr("198.51.100.200")
	if err := l.Open(held); err != nil {
		t.Fatal(err)
	}
	for i := range 100_000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if err := l.Join(a, t0.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
		if err := l.Open(a); err != nil {
			t.Fatal(err)
		}
		l.Close(a)
		if n := l.Len(); n > 101 {
			t.Fatalf("after %d addresses: %d remembered, bound 101", i, n)
		}
	}
	// The held connection's entry was never trimmed: its count is intact.
	for range 3 {
		if err := l.Open(held); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Open(held); !errors.Is(err, ErrConns) {
		t.Fatalf("held address lost its count: %v", err)
	}
}

func TestClientAddrTrustsOnlyProxies(t *testing.T) {
	px, err := ParseProxies("10.0.0.0/8, 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		p      Proxies
		remote string
		xff    []string
		want   string
	}{
		{Proxies{}, "203.0.113.5:1234", []string{"1.2.3.4"}, "203.0.113.5"},    // nobody trusted
		{px, "203.0.113.5:1234", []string{"1.2.3.4"}, "203.0.113.5"},           // not from a proxy
		{px, "10.1.1.1:80", []string{"1.2.3.4"}, "1.2.3.4"},                    // from a proxy
		{px, "10.1.1.1:80", []string{"6.6.6.6, 1.2.3.4, 10.9.9.9"}, "1.2.3.4"}, // spoofed left part skipped, chained proxies skipped
		{px, "10.1.1.1:80", []string{"6.6.6.6", "1.2.3.4"}, "1.2.3.4"},         // several headers
		{px, "10.1.1.1:80", nil, "10.1.1.1"},                                   // proxy without header
		{px, "10.1.1.1:80", []string{"garbage, 1.2.3.4"}, "1.2.3.4"},           // garbage left of the client
		{px, "10.1.1.1:80", []string{"1.2.3.4, garbage"}, "10.1.1.1"},          // garbage where the proxy wrote
		{px, "192.0.2.1:80", []string{"::ffff:1.2.3.4"}, "1.2.3.4"},            // single trusted address, mapped
		{Proxies{All: true}, "127.0.0.1:9", []string{"10.0.0.1"}, "10.0.0.1"},  // trust all: right-most
		{Proxies{All: true}, "127.0.0.1:9", []string{"1.1.1.1,2.2.2.2"}, "2.2.2.2"},
	} {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := tc.p.ClientAddr(r).String(); got != tc.want {
			t.Errorf("case %d: ClientAddr = %s, want %s", i, got, tc.want)
		}
	}
	if _, err := ParseProxies("10.0.0.0/8,nope"); !errors.Is(err, ErrBadRule) {
		t.Fatalf("bad proxy list: %v", err)
	}
}

func BenchmarkOpenClose(b *testing.B) {
	l, _ := New(Config{})
	for i := 0; b.Loop(); i++ {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		if err := l.Open(a); err != nil {
			b.Fatal(fmt.Sprint(err))
		}
		l.Close(a)
	}
}
