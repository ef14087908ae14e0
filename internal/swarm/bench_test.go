package swarm

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkJoinLeave measures one join plus one leave in a swarm held at n members:
// each op joins a newcomer and removes a random member, so seeders leave at their
// natural rate (SeedCount/n of leaves).
func BenchmarkJoinLeave(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			c, err := New(Config{Rand: rand.New(rand.NewPCG(1, 1))})
			if err != nil {
				b.Fatal(err)
			}
			rnd := rand.New(rand.NewPCG(2, 2))
			now := t0
			peer := func(i int) Peer {
				return Peer{
					ID:             fmt.Sprintf("p%07d", i),
					Addr:           fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
					UploadCapacity: int64(rnd.IntN(20)) * 1e6,
				}
			}
			ids := make([]string, 0, n)
			for i := range n {
				now = now.Add(time.Millisecond)
				p := peer(i)
				if _, _, err := c.Join(now, demo, p); err != nil {
					b.Fatal(err)
				}
				ids = append(ids, p.ID)
			}
			b.ResetTimer()
			for i := range b.N {
				now = now.Add(time.Millisecond)
				p := peer(n + i)
				if _, _, err := c.Join(now, demo, p); err != nil {
					b.Fatal(err)
				}
				j := rnd.IntN(len(ids))
				if _, err := c.Leave(now, demo, ids[j]); err != nil {
					b.Fatal(err)
				}
				ids[j] = p.ID
			}
		})
	}
}
