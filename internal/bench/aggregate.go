package bench

import (
	"cmp"
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/peer"
)

// viewerResult is what one viewer of a run leaves behind: real-time and
// virtual-time runs aggregate the same way.
type viewerResult struct {
	spec                viewerSpec
	joined, left        time.Time
	final               peer.Stats
	cdnMedia            int64 // media bytes its HTTP client read
	checked, mismatched int
}

// aggregate sums the viewers' figures into rr.
func aggregate(rr *RunReport, viewers []viewerResult, start, end time.Time) {
	var startups, latencies, seeks []time.Duration
	var stalled, watched time.Duration
	var p2p, engineMedia, clientMedia int64
	var capacity float64 // bytes the uplinks could have carried
	for _, v := range viewers {
		st := v.final
		rr.P2PBytes += st.BytesP2P
		rr.UploadBytes += st.BytesUp
		rr.DuplicateBytes += st.BytesDup
		rr.WastedBytes += st.BytesWasted
		rr.BadPieces += st.BadPieces
		rr.Plans += st.Plans
		rr.EdgePieces.P2POff += st.EdgePieces[peer.EdgeP2POff]
		rr.EdgePieces.Urgent += st.EdgePieces[peer.EdgeUrgent]
		rr.EdgePieces.Seed += st.EdgePieces[peer.EdgeSeed]
		rr.EdgePieces.Fallback += st.EdgePieces[peer.EdgeFallback]
		p2p += st.BytesP2P
		engineMedia += st.BytesCDNMedia
		clientMedia += v.cdnMedia
		left := v.left
		if left.After(end) {
			left = end
		}
		capacity += v.spec.Up / 8 * left.Sub(v.joined).Seconds()
		ps := st.Player
		vr := ViewerReport{Name: v.spec.Name, JoinS: v.joined.Sub(start).Seconds(), UpBPS: v.spec.Up,
			Started: ps.Started, StartSeq: ps.StartSeq, Played: ps.Played, StartupMs: ms(ps.Startup), Stalls: ps.Stalls,
			CDNMediaBytes: v.cdnMedia, P2PBytes: st.BytesP2P, UploadBytes: st.BytesUp,
			Checked: v.checked, Mismatched: v.mismatched}
		if v.spec.Leave > 0 {
			vr.LeaveS = v.left.Sub(start).Seconds()
		}
		rr.Viewers = append(rr.Viewers, vr)
		if !ps.Started {
			rr.PeersNotStarted++
			continue
		}
		rr.PeersStarted++
		startups = append(startups, ps.Startup)
		rr.Stalls += ps.Stalls
		stalled += ps.Stalled
		watched += ps.Watched
		rr.SegmentsPlayed += ps.Played
		latencies = append(latencies, st.Latencies...)
		seeks = append(seeks, st.SeekTimes...)
		rr.Seeks += ps.Seeks
		rr.SegmentsChecked += v.checked
		rr.SegmentsMismatched += v.mismatched
	}
	rr.Classes = classes(rr.Viewers)
	rr.PeerCDNMediaBytes = clientMedia
	if p2p+engineMedia > 0 {
		rr.OffloadPeers = float64(p2p) / float64(p2p+engineMedia)
	}
	if watched > 0 {
		rr.RebufferRatio = float64(stalled) / float64(watched)
	}
	if capacity > 0 {
		rr.UploadUsed = float64(rr.UploadBytes) / capacity
	}
	rr.StartupMsP50, rr.StartupMsP95 = ms(quantile(startups, 0.5)), ms(quantile(startups, 0.95))
	rr.LatencyMsP50, rr.LatencyMsP95 = ms(quantile(latencies, 0.5)), ms(quantile(latencies, 0.95))
	rr.SeekMsP50, rr.SeekMsP95 = ms(quantile(seeks, 0.5)), ms(quantile(seeks, 0.95))
}

// quantile is the nearest-rank q-quantile of xs (0 for none); xs is sorted in place.
func quantile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(q*float64(len(xs))+0.999999) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// classes groups viewer reports by uplink, ascending.
func classes(vs []ViewerReport) []ClassReport {
	byUp := map[float64]*ClassReport{}
	for _, v := range vs {
		c := byUp[v.UpBPS]
		if c == nil {
			c = &ClassReport{UpBPS: v.UpBPS}
			byUp[v.UpBPS] = c
		}
		c.Viewers++
		c.Stalls += v.Stalls
		if v.Stalls > 0 {
			c.Stalled++
		}
		c.UploadBytes += v.UploadBytes
		c.CDNMediaBytes += v.CDNMediaBytes
		c.Offload += float64(v.P2PBytes) // summed here, made a ratio below
	}
	out := make([]ClassReport, 0, len(byUp))
	for _, c := range byUp {
		if t := c.Offload + float64(c.CDNMediaBytes); t > 0 {
			c.Offload /= t
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b ClassReport) int { return cmp.Compare(a.UpBPS, b.UpBPS) })
	return out
}
