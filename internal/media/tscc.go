package media

// TSContinuity rewrites MPEG-TS continuity counters so that consecutive segments of a
// rendition continue each other's counters. Segments from a restarted encoder, or a
// looping source, otherwise restart their counters mid-stream, and demuxers that check
// them (ffmpeg's) drop the first packets after the boundary as corrupt, even across an
// #EXT-X-DISCONTINUITY. Players that ignore counters are unaffected.
//
// The zero value starts from the counters of the first segment it sees.
type TSContinuity struct {
	cc   [8192]uint8 // last counter used per PID
	seen [8192]bool
}

// Rewrite rewrites the counters of the MPEG-TS data in b in place. Packets with a
// payload advance their PID's counter by one; adaptation-only packets repeat it. Null
// packets are left alone. b must be whole 188-byte packets; a trailing partial packet
// is left untouched.
func (c *TSContinuity) Rewrite(b []byte) {
	for off := 0; off+tsPacketSize <= len(b); off += tsPacketSize {
		p := b[off : off+tsPacketSize]
		if p[0] != 0x47 {
			continue
		}
		pid := int(p[1]&0x1f)<<8 | int(p[2])
		if pid == 0x1fff {
			continue
		}
		afc := p[3] >> 4 & 3
		var cc uint8
		switch {
		case !c.seen[pid]:
			cc = p[3] & 0x0f
			c.seen[pid] = true
		case afc&1 == 1:
			cc = (c.cc[pid] + 1) & 0x0f
		default:
			cc = c.cc[pid]
		}
		c.cc[pid] = cc
		p[3] = p[3]&0xf0 | cc
	}
}
