package swarm

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// FuzzCoreMessages drives the tracker's message handling (the core behind the
// WebSocket frontend) with a program of joins, leaves and client messages among 8
// peers on 4 addresses: signals, stats, reports (which can ban), and any message
// DecodeClient accepts from raw bytes. The core must not panic or error on input a
// client controls, must address every Out to a peer id, must never count more members
// than joined, and must be empty once everyone has left.
//
// Program: repeated [op, peer, arg, len, bytes[len]].
func FuzzCoreMessages(f *testing.F) {
	f.Add([]byte{0, 0, 10, 0, 0, 1, 20, 0, 0, 2, 30, 0, 2, 0, 1, 0, 3, 1, 0, 0, 4, 2, 1, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 4, 0, 1, 0, 4, 2, 1, 0, 4, 3, 1, 0, 1, 0, 0, 0})
	raw := `{"type":"report","peer":"p1","segment":"abc-1","piece":0,"reason":"hash_mismatch"}`
	f.Add(append([]byte{0, 0, 0, 0, 0, 1, 0, 0, 5, 0, 0, byte(len(raw))}, raw...))
	f.Fuzz(func(t *testing.T, prog []byte) {
		c, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		joined := map[string]bool{}
		check := func(outs []Out) {
			for _, o := range outs {
				if o.To == "" || o.Msg == nil {
					t.Fatalf("Out without addressee or message: %+v", o)
				}
			}
		}
		id := func(b byte) string { return fmt.Sprintf("p%d", b%8) }
		for len(prog) >= 4 {
			op, who, arg, n := prog[0], id(prog[1]), prog[2], int(prog[3])
			prog = prog[4:]
			n = min(n, len(prog))
			data := prog[:n]
			prog = prog[n:]
			now = now.Add(time.Duration(arg) * 100 * time.Millisecond)
			k := demo
			switch op % 6 {
			case 0: // join
				if joined[who] {
					continue
				}
				_, outs, err := c.Join(now, k, Peer{ID: who, Addr: fmt.Sprintf("10.0.0.%d", prog4(who)), UploadCapacity: int64(arg) << 16})
				if err == nil {
					joined[who] = true
					check(outs)
				}
			case 1: // leave
				if !joined[who] {
					continue
				}
				outs, err := c.Leave(now, k, who)
				if err != nil {
					t.Fatalf("Leave %s: %v", who, err)
				}
				delete(joined, who)
				check(outs)
			case 2: // signal to another peer
				check(c.Handle(now, k, who, &signalling.Signal{To: id(arg), Data: signalling.SignalData{Type: "offer", SDP: string(data)}}))
			case 3: // stats
				var v [4]uint64
				for i := range v {
					if len(data) >= 8*(i+1) {
						v[i] = binary.LittleEndian.Uint64(data[8*i:])
					}
				}
				check(c.Handle(now, k, who, &signalling.Stats{BytesCDN: v[0], BytesP2P: v[1], BytesUp: v[2], Stalls: v[3]}))
			case 4: // report a neighbour's piece
				check(c.Handle(now, k, who, &signalling.Report{Peer: id(arg), Segment: "abc-" + fmt.Sprint(arg), Piece: int(arg), Reason: "hash_mismatch"}))
			case 5: // whatever a client can send
				m, err := signalling.DecodeClient(data)
				if err != nil {
					continue
				}
				check(c.Handle(now, k, who, m))
			}
			if err := c.Collect(now); err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if m := c.Members(k); m > len(joined) {
				t.Fatalf("%d members, %d joined", m, len(joined))
			}
		}
		for who := range joined {
			if _, err := c.Leave(now, demo, who); err != nil {
				t.Fatalf("Leave %s: %v", who, err)
			}
		}
		if m := c.Members(demo); m != 0 {
			t.Fatalf("%d members after everyone left", m)
		}
	})
}

// prog4 spreads the 8 peers over 4 addresses, so that reports can reach a ban.
func prog4(id string) int { return int(id[len(id)-1]-'0')%4 + 1 }
