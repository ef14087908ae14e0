package signalling

// Policy is the operator's control of one stream, pushed to every peer of the stream
// when it changes (SetPolicy) and sent in every welcome.
type Policy struct {
	P2PEnabled bool  `json:"p2p_enabled"` // false: peers fetch from the CDN only, no neighbours
	MaxUpload  int64 `json:"max_upload"`  // bit/s a peer may upload in total; 0 = no cap
	Neighbours int   `json:"neighbours"`  // neighbour bound; 0 or above the tracker's MaxNeighbours = the tracker's MaxNeighbours
}

// Normalise returns p with the neighbour bound the tracker actually enforces under its
// maxNeighbours, and a negative upload cap cleared.
func (p Policy) Normalise(maxNeighbours int) Policy {
	if p.MaxUpload < 0 {
		p.MaxUpload = 0
	}
	if p.Neighbours <= 0 || p.Neighbours > maxNeighbours {
		p.Neighbours = maxNeighbours
	}
	return p
}
