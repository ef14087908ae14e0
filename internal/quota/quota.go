// Package quota bounds what one source address may hold on a server: open
// connections, and joins in a burst refilled over time. One limit N per address
// gives both: at most N connections at once and N joins in a burst, refilled at
// N per Refill (20 s). The default N is 1,000, so a carrier-grade NAT (many
// viewers behind one address) still works; operators raise or lift it for
// ranges they know (their own proxies, a campus), longest prefix first.
//
// IPv4 addresses are counted one by one; IPv6 addresses by their /64, since one
// host commonly holds a whole /64 and could otherwise rotate through it.
//
// Memory is bounded: an address is remembered while it holds a connection (so
// by the connections themselves) or while its join bucket refills, and at most
// MaxIdle such idle addresses are kept; beyond that the ones whose buckets have
// refilled go first, then arbitrary ones (which may then join a burst early).
package quota

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors returned when an address is over its limit.
var (
	ErrConns   = errors.New("too many connections from this address")
	ErrJoins   = errors.New("too many joins from this address; retry later")
	ErrBadRule = errors.New("quota: bad limit")
)

// DefaultPerAddr is the default limit N per source address.
const DefaultPerAddr = 1000

// Range gives the addresses of Prefix their own limit; 0 lifts the limit.
type Range struct {
	Prefix netip.Prefix
	Limit  int
}

// Config configures Limits. The zero value limits every address to
// DefaultPerAddr connections and joins in a burst, refilled in 20 s.
type Config struct {
	PerAddr int           // limit N per address; 0 → DefaultPerAddr; negative → no limit
	Ranges  []Range       // exceptions, longest prefix first (any order accepted)
	Refill  time.Duration // time in which an empty join bucket fills again; 0 → 20s
	MaxIdle int           // addresses remembered without a connection; 0 → 65536
}

// Limits counts connections and joins per address. It is safe for concurrent use.
// The clock is passed in, so the accounting is a pure function of its calls.
type Limits struct {
	cfg Config

	mu    sync.Mutex
	addrs map[netip.Addr]*entry
	idle  int // entries with conns == 0
}

type entry struct {
	conns  int
	tokens float64   // joins left in the burst
	at     time.Time // when tokens was computed
	limit  int       // 0: unlimited
}

// New validates cfg and returns Limits.
func New(cfg Config) (*Limits, error) {
	if cfg.PerAddr == 0 {
		cfg.PerAddr = DefaultPerAddr
	}
	if cfg.PerAddr < 0 {
		cfg.PerAddr = 0
	}
	if cfg.Refill == 0 {
		cfg.Refill = 20 * time.Second
	}
	if cfg.MaxIdle == 0 {
		cfg.MaxIdle = 1 << 16
	}
	if cfg.Refill < 0 || cfg.MaxIdle < 0 {
		return nil, fmt.Errorf("%w: negative Refill or MaxIdle", ErrBadRule)
	}
	cfg.Ranges = slices.Clone(cfg.Ranges)
	for i, r := range cfg.Ranges {
		if !r.Prefix.IsValid() || r.Limit < 0 {
			return nil, fmt.Errorf("%w: range %v=%d", ErrBadRule, r.Prefix, r.Limit)
		}
		cfg.Ranges[i].Prefix = r.Prefix.Masked()
	}
	slices.SortStableFunc(cfg.Ranges, func(a, b Range) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	return &Limits{cfg: cfg, addrs: make(map[netip.Addr]*entry)}, nil
}

// Key is the address an address is counted under: itself for IPv4, its /64 for IPv6.
func Key(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// LimitOf returns the limit that applies to a (0: none).
func (l *Limits) LimitOf(a netip.Addr) int {
	a = a.Unmap()
	for _, r := range l.cfg.Ranges {
		if r.Prefix.Contains(a) {
			return r.Limit
		}
	}
	return l.cfg.PerAddr
}

// Open counts a new connection from a, or refuses it with ErrConns. Every nil
// return must be matched by one Close(a).
func (l *Limits) Open(a netip.Addr) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.get(a)
	if e.limit > 0 && e.conns >= e.limit {
		l.maybeForget(Key(a), e)
		return fmt.Errorf("%w (%d held, limit %d)", ErrConns, e.conns, e.limit)
	}
	if e.conns == 0 {
		l.idle--
	}
	e.conns++
	return nil
}

// Close ends a connection counted by Open.
func (l *Limits) Close(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := Key(a)
	e := l.addrs[k]
	if e == nil || e.conns == 0 {
		return // not counted (a bug elsewhere): never go negative
	}
	e.conns--
	if e.conns == 0 {
		l.idle++
		l.maybeForget(k, e)
		l.trim()
	}
}

// Join spends one join of a's bucket at now, or refuses with ErrJoins.
func (l *Limits) Join(a netip.Addr, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := Key(a)
	e := l.get(a)
	defer l.maybeForget(k, e)
	if e.limit == 0 {
		return nil
	}
	l.refill(e, now)
	if e.tokens < 1 {
		return fmt.Errorf("%w (limit %d per %v)", ErrJoins, e.limit, l.cfg.Refill)
	}
	e.tokens--
	return nil
}

// Len returns the number of addresses remembered (for tests and metrics).
func (l *Limits) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.addrs)
}

// get returns a's entry, creating it (idle, full bucket) if needed.
func (l *Limits) get(a netip.Addr) *entry {
	k := Key(a)
	if e := l.addrs[k]; e != nil {
		return e
	}
	l.idle++
	l.trim() // before inserting, so the new entry is never trimmed itself
	lim := l.LimitOf(a)
	e := &entry{limit: lim, tokens: float64(lim)}
	l.addrs[k] = e
	return e
}

func (l *Limits) refill(e *entry, now time.Time) {
	if !e.at.IsZero() && now.After(e.at) {
		e.tokens += float64(e.limit) * float64(now.Sub(e.at)) / float64(l.cfg.Refill)
		e.tokens = min(e.tokens, float64(e.limit))
	}
	if e.at.IsZero() || now.After(e.at) {
		e.at = now
	}
}

// full reports whether e's bucket is full at its own time: then forgetting it
// changes nothing (a new entry starts full).
func full(e *entry) bool { return e.limit == 0 || e.tokens >= float64(e.limit) }

// maybeForget drops an idle entry that holds no state worth keeping.
func (l *Limits) maybeForget(k netip.Addr, e *entry) {
	if e.conns == 0 && full(e) && l.addrs[k] == e {
		delete(l.addrs, k)
		l.idle--
	}
}

// trim keeps at most MaxIdle idle entries: first those whose buckets have
// refilled by now (judged by the newest entry time seen), then any.
func (l *Limits) trim() {
	if l.idle <= l.cfg.MaxIdle {
		return
	}
	var newest time.Time
	for _, e := range l.addrs {
		if e.at.After(newest) {
			newest = e.at
		}
	}
	for pass := 0; pass < 2 && l.idle > l.cfg.MaxIdle; pass++ {
		for k, e := range l.addrs {
			if l.idle <= l.cfg.MaxIdle*3/4 { // leave room so trim is amortised
				break
			}
			if e.conns != 0 {
				continue
			}
			if pass == 0 {
				probe := *e
				l.refill(&probe, newest)
				if !full(&probe) {
					continue
				}
			}
			delete(l.addrs, k)
			l.idle--
		}
	}
}

// ParseRanges parses CIDR=N entries (N ≥ 0; 0 lifts the limit), as the
// --addr-limit-cidr flag gives them.
func ParseRanges(kv map[string]string) ([]Range, error) {
	var out []Range
	for cidr, v := range kv {
		p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
		if err != nil {
			if a, aerr := netip.ParseAddr(strings.TrimSpace(cidr)); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return nil, fmt.Errorf("%w: %q is not a CIDR", ErrBadRule, cidr)
			}
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: %s=%q: want a count ≥ 0 (0: no limit)", ErrBadRule, cidr, v)
		}
		out = append(out, Range{Prefix: p, Limit: n})
	}
	slices.SortFunc(out, func(a, b Range) int { return strings.Compare(a.Prefix.String(), b.Prefix.String()) })
	return out, nil
}
