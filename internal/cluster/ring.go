package cluster

import (
	"hash/fnv"

	"github.com/shoal-cdn/shoal/internal/swarm"
)

// OwnerOf returns the owner of swarm k among nodes (rendezvous hashing: the node with
// the highest hash of node and swarm), "" if nodes is empty. A node joining or leaving
// moves only the swarms it wins or held.
func OwnerOf(nodes []string, k swarm.SwarmKey) string {
	var best string
	var bestH uint64
	for _, n := range nodes {
		h := fnv.New64a()
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write([]byte(k.Stream))
		h.Write([]byte{0})
		h.Write([]byte(k.Rendition))
		if v := h.Sum64(); best == "" || v > bestH || (v == bestH && n > best) {
			best, bestH = n, v
		}
	}
	return best
}
