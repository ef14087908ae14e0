package tracker

import (
	"cmp"
	"fmt"
	"net/http"
	"net/netip"
	"slices"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// RegionCIDR maps the addresses of one prefix to a region.
type RegionCIDR struct {
	Prefix netip.Prefix
	Region string
}

// ParseRegionCIDRs turns CIDR → region pairs (as in a config file) into the table
// Config.RegionCIDRs wants, sorted longest prefix first.
func ParseRegionCIDRs(m map[string]string) ([]RegionCIDR, error) {
	out := make([]RegionCIDR, 0, len(m))
	for cidr, region := range m {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return nil, fmt.Errorf("region CIDR %q: %w", cidr, err)
		}
		if region == "" || !signalling.ValidRegion(region) {
			return nil, fmt.Errorf("region CIDR %q: region %q must match [A-Za-z0-9_.:/-]{1,64}", cidr, region)
		}
		out = append(out, RegionCIDR{Prefix: p.Masked(), Region: region})
	}
	sortCIDRs(out)
	return out, nil
}

func sortCIDRs(t []RegionCIDR) {
	slices.SortFunc(t, func(a, b RegionCIDR) int {
		if c := cmp.Compare(b.Prefix.Bits(), a.Prefix.Bits()); c != 0 {
			return c
		}
		return a.Prefix.Addr().Compare(b.Prefix.Addr())
	})
}

// trustedRegion returns the region the operator's own infrastructure gives the
// request: Config.RegionHeader (set by the operator's proxy or edge), else the first
// (longest) Config.RegionCIDRs prefix holding addr. trusted is false when the operator
// configured neither, so the client's own label is all there is.
func (t *Tracker) trustedRegion(r *http.Request, addr string) (region string, trusted bool) {
	if t.cfg.RegionHeader == "" && len(t.cfg.RegionCIDRs) == 0 {
		return "", false
	}
	if h := t.cfg.RegionHeader; h != "" {
		if v := r.Header.Get(h); v != "" && signalling.ValidRegion(v) {
			return v, true
		}
	}
	if ip, err := netip.ParseAddr(addr); err == nil {
		ip = ip.Unmap()
		for _, c := range t.cfg.RegionCIDRs {
			if c.Prefix.Contains(ip) {
				return c.Region, true
			}
		}
	}
	return "", true // configured but unmatched: unknown, not whatever the client says
}

// joinRegion is the region a peer is filed under: the trusted one when the operator
// configured a source, otherwise the label the client declared in its join.
func (c *conn) joinRegion(declared string) string {
	if c.regionTrusted {
		return c.region
	}
	return declared
}
