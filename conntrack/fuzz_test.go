package conntrack

import (
	"testing"

	"tapestry/flow"
)

// FuzzTrack tracks arbitrary frames, each also as its own reply: no panic,
// and a confirmed connection is found again by both of its tuples.
func FuzzTrack(f *testing.F) {
	f.Add(tcp("10.0.0.1:1", "10.0.0.2:2", 2).frame)
	f.Add(udp("10.0.0.1:1", "10.0.0.2:2").frame)
	f.Add(echo("10.0.0.1", "10.0.0.2", 5, false).frame)
	f.Add(icmpErr("10.0.0.9", "10.0.0.1", 3, 3, udp("10.0.0.1:1", "10.0.0.2:2")).frame)
	tb := New(64)
	f.Fuzz(func(t *testing.T, frame []byte) {
		var k flow.Key
		off := flow.Extract(frame, 0, &k)
		var l4 []byte
		if off.HasL4() && int(off.L4) <= len(frame) {
			l4 = frame[off.L4:]
		}
		c, info := tb.Track(&k, l4, 0, sec)
		if c == nil {
			if info != InfoInvalid && info != InfoFull {
				t.Fatalf("no connection with info %d", info)
			}
			return
		}
		if info == InfoNew && c.Status()&StatusConfirmed == 0 && tb.Confirm(c, sec) {
			for _, d := range []Dir{DirOriginal, DirReply} {
				// A tuple equal to its own inverse (src == dst, no
				// ports) is found in either direction.
				if got, gd := tb.Lookup(c.Tuple(d), 0, sec); got != c || gd != d && c.Orig() != c.Reply() {
					t.Fatalf("tuple %v not found after confirm", c.Tuple(d))
				}
			}
		}
		if tb.Count() > 60 {
			tb.Flush()
		}
	})
}
