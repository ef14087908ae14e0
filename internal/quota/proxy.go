package quota

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies says whose X-Forwarded-For to believe. The zero value believes nobody:
// the address is the TCP peer's, which a client cannot forge.
type Proxies struct {
	// Prefixes are the operator's reverse proxies. A request from one of them is
	// attributed to the right-most X-Forwarded-For entry that is not itself one of
	// them (each proxy appends the address it saw).
	Prefixes []netip.Prefix
	// All trusts every sender's X-Forwarded-For (its right-most entry): only where
	// no client can reach the server except through a proxy that sets it.
	All bool
}

// ParseProxies parses a comma-separated list of CIDRs or single addresses.
func ParseProxies(s string) (Proxies, error) {
	var p Proxies
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		pr, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return Proxies{}, fmt.Errorf("%w: trusted proxy %q is not a CIDR or address", ErrBadRule, part)
			}
			pr = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		p.Prefixes = append(p.Prefixes, pr.Masked())
	}
	return p, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	if p.All {
		return true
	}
	for _, pr := range p.Prefixes {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr returns the address r is attributed to. It is invalid only when
// RemoteAddr is not an IP (a test's fake request, a Unix socket).
func (p Proxies) ClientAddr(r *http.Request) netip.Addr {
	peer := remote(r.RemoteAddr)
	if !peer.IsValid() || !p.trusted(peer) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr // a garbled hop: stop at the last address we could trust
		}
		addr = a.Unmap()
		if p.All || !p.trusted(addr) {
			return addr
		}
	}
	return addr
}

func remote(hostport string) netip.Addr {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
