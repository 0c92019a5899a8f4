package ofconn

import (
	"encoding/binary"
	"testing"
	"time"

	"tapestry/flow"
	"tapestry/openflow"
)

// nxFlowStatsEntry builds a struct nx_flow_stats as Open vSwitch sends it
// for "table=3, priority=9, in_port=LOCAL, ip, actions=LOCAL", 12 s old,
// idle for 5 s.
func nxFlowStatsEntry() []byte {
	match := []byte{
		0x00, 0x00, 0x00, 0x02, 0xff, 0xfe, // NXM_OF_IN_PORT = 0xfffe (LOCAL)
		0x00, 0x00, 0x06, 0x02, 0x08, 0x00, // NXM_OF_ETH_TYPE = 0x0800
	}
	b := make([]byte, nxFlowStatsLen)
	b[2] = 3
	binary.BigEndian.PutUint32(b[4:], 12)        // duration_sec
	binary.BigEndian.PutUint32(b[8:], 500000000) // duration_nsec
	binary.BigEndian.PutUint16(b[12:], 9)        // priority
	binary.BigEndian.PutUint16(b[18:], uint16(len(match)))
	binary.BigEndian.PutUint16(b[20:], 6)  // idle_age + 1
	binary.BigEndian.PutUint16(b[22:], 0)  // hard_age unknown
	binary.BigEndian.PutUint64(b[32:], 4)  // packets
	binary.BigEndian.PutUint64(b[40:], 40) // bytes
	b = append(b, match...)
	b = append(b, 0, 0, 0, 0)                   // pad the match to 8
	b = append(b, 0, 0, 0, 8, 0xff, 0xfe, 0, 0) // OFPAT_OUTPUT to LOCAL
	binary.BigEndian.PutUint16(b, uint16(len(b)))
	return b
}

func TestDecodeNXFlowStats(t *testing.T) {
	e := nxFlowStatsEntry()
	fs, n, err := decodeNXFlowStats(append(e, 0xaa)) // a following byte is not ours
	if err != nil {
		t.Fatal(err)
	}
	if n != len(e) {
		t.Errorf("consumed %d bytes, want %d", n, len(e))
	}
	var want flow.Match
	want.SetMasked(flow.FieldInPort, flow.Bytes([]byte{0xff, 0xff, 0xff, 0xfe}), flow.FieldInPort.FullMask())
	want.SetMasked(flow.FieldDlType, flow.Bytes([]byte{0x08, 0x00}), flow.FieldDlType.FullMask())
	switch {
	case fs.Table != 3 || fs.Priority != 9 || fs.Packets != 4 || fs.Bytes != 40:
		t.Errorf("header fields: %+v", fs)
	case fs.Duration != 12500*time.Millisecond || fs.IdleAge != 5*time.Second || fs.HardAge != fs.Duration:
		t.Errorf("duration %v idle age %v hard age %v", fs.Duration, fs.IdleAge, fs.HardAge)
	case fs.Match != want:
		t.Errorf("match %+v, want %+v", fs.Match, want)
	case len(fs.Actions) != 1 || fs.Actions[0].Type != openflow.ActOutput || fs.Actions[0].Port != openflow.PortLocal:
		t.Errorf("actions %+v", fs.Actions)
	}
}

func TestDecodeNXFlowStatsRejects(t *testing.T) {
	e := nxFlowStatsEntry()
	long := append([]byte(nil), e...)
	binary.BigEndian.PutUint16(long, uint16(len(e)+8))
	bigMatch := append([]byte(nil), e...)
	binary.BigEndian.PutUint16(bigMatch[18:], 200)
	tests := []struct {
		name string
		b    []byte
	}{
		{"truncated header", e[:20]},
		{"length past the buffer", long},
		{"match past the entry", bigMatch},
		{"length below the header", append([]byte{0, 4}, e[2:]...)},
	}
	for _, tt := range tests {
		if _, _, err := decodeNXFlowStats(tt.b); err == nil {
			t.Errorf("%s: decoded", tt.name)
		}
	}
}

func BenchmarkDecodeNXFlowStats(b *testing.B) {
	e := nxFlowStatsEntry()
	b.ReportAllocs()
	for range b.N {
		if _, _, err := decodeNXFlowStats(e); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeNXFlowStats: any bytes decode or fail, and a decoded entry
// never claims more bytes than it was given.
func FuzzDecodeNXFlowStats(f *testing.F) {
	f.Add(nxFlowStatsEntry())
	f.Fuzz(func(t *testing.T, b []byte) {
		_, n, err := decodeNXFlowStats(b)
		if err == nil && (n < nxFlowStatsLen || n > len(b)) {
			t.Errorf("consumed %d of %d bytes", n, len(b))
		}
	})
}
