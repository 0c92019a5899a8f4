package ofproto

import (
	"errors"
	"testing"

	"tapestry/openflow"
)

func TestAddPort(t *testing.T) {
	tests := []struct {
		name    string
		specs   []PortSpec
		wantNos []uint32
		wantErr error
	}{
		{"lowest free numbers", []PortSpec{{Name: "a"}, {Name: "b", OFPort: 5}, {Name: "c"}, {Name: "d"}}, []uint32{1, 5, 2, 3}, nil},
		{"requested number", []PortSpec{{Name: "a", OFPort: 7}}, []uint32{7}, nil},
		{"local", []PortSpec{{Name: "br0", OFPort: openflow.PortLocal}, {Name: "a"}}, []uint32{openflow.PortLocal, 1}, nil},
		{"duplicate name", []PortSpec{{Name: "a"}, {Name: "a"}}, []uint32{1}, ErrPortExists},
		{"number in use", []PortSpec{{Name: "a", OFPort: 3}, {Name: "b", OFPort: 3}}, []uint32{3}, ErrPortInUse},
		{"reserved number", []PortSpec{{Name: "a", OFPort: openflow.PortFlood}}, nil, ErrBadPortNo},
		{"bad tag", []PortSpec{{Name: "a", Tag: 5000}}, nil, ErrBadVLAN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := New(Config{Name: "br0"})
			defer b.Close()
			var nos []uint32
			var err error
			for _, ps := range tc.specs {
				var no uint32
				if no, err = b.AddPort(ps); err != nil {
					break
				}
				nos = append(nos, no)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("AddPort error = %v, want %v", err, tc.wantErr)
			}
			if len(nos) != len(tc.wantNos) {
				t.Fatalf("AddPort numbers = %v, want %v", nos, tc.wantNos)
			}
			for i := range nos {
				if nos[i] != tc.wantNos[i] {
					t.Fatalf("AddPort numbers = %v, want %v", nos, tc.wantNos)
				}
			}
		})
	}
}

func TestPortsAndNames(t *testing.T) {
	tb := newTestBridge(t, 2)
	tb.addPort(PortSpec{Name: "br0", OFPort: openflow.PortLocal, HWAddr: [6]byte{0x02, 0, 0, 0, 0, 0x42}})
	if got := tb.DatapathID(); got != 0x020000000042 {
		t.Errorf("DatapathID() = %#x, want 0x020000000042 (from the LOCAL port's MAC)", got)
	}
	tb.SetDatapathID(0x99)
	if got := tb.DatapathID(); got != 0x99 {
		t.Errorf("DatapathID() after SetDatapathID = %#x, want 0x99", got)
	}
	if no, ok := tb.PortNumber("p2"); !ok || no != 2 {
		t.Errorf("PortNumber(p2) = %d, %v; want 2, true", no, ok)
	}
	if name, ok := tb.PortName(openflow.PortLocal); !ok || name != "br0" {
		t.Errorf("PortName(LOCAL) = %q, %v; want br0, true", name, ok)
	}
	tb.flows("in_port=1 actions=output:2")
	tb.rx(1, icmp(macA, macB), icmp(macA, macB))
	ps := tb.Ports()
	if len(ps) != 3 || ps[0].OFPort != 1 || ps[2].OFPort != openflow.PortLocal {
		t.Fatalf("Ports() = %+v, want p1, p2, br0 in number order", ps)
	}
	n := uint64(len(icmp(macA, macB)))
	if s := ps[0].Stats; s.RxPackets != 2 || s.RxBytes != 2*n {
		t.Errorf("p1 stats = %+v, want 2 rx packets, %d bytes", s, 2*n)
	}
	if s := ps[1].Stats; s.TxPackets != 2 || s.TxBytes != 2*n {
		t.Errorf("p2 stats = %+v, want 2 tx packets, %d bytes", s, 2*n)
	}
	if err := tb.DelPort("p2"); err != nil {
		t.Fatal(err)
	}
	if err := tb.DelPort("p2"); !errors.Is(err, ErrNoPort) {
		t.Errorf("DelPort twice = %v, want ErrNoPort", err)
	}
	if got := len(dump(tb.Bridge)); got != 1 {
		t.Errorf("flows after DelPort = %d, want 1 (flows that mention a port stay)", got)
	}
}

func TestPortConfig(t *testing.T) {
	tests := []struct {
		name   string
		port   uint32
		config openflow.PortConfig
		flows  []string
		want   []uint32
	}{
		{"no-flood excluded from FLOOD", 3, openflow.PortNoFlood, []string{"actions=FLOOD"}, []uint32{2}},
		{"no-flood kept in ALL", 3, openflow.PortNoFlood, []string{"actions=ALL"}, []uint32{2, 3}},
		{"no-flood excluded from NORMAL flood", 3, openflow.PortNoFlood, []string{"actions=NORMAL"}, []uint32{2}},
		{"no-fwd", 2, openflow.PortNoFwd, []string{"actions=output:2,output:3"}, []uint32{3}},
		{"down", 2, openflow.PortDown, []string{"actions=output:2,output:3"}, []uint32{3}},
		{"no-recv", 1, openflow.PortNoRecv, []string{"actions=output:2"}, nil},
		{"down input", 1, openflow.PortDown, []string{"actions=output:2"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 3)
			tb.flows(tc.flows...)
			if err := tb.ModPort(tc.port, tc.config, tc.config); err != nil {
				t.Fatal(err)
			}
			tb.rx(1, icmp(macA, bcast))
			got := tb.out()
			if len(got) != len(tc.want) {
				t.Fatalf("outputs on %v, want %v", keys(got), tc.want)
			}
			for _, p := range tc.want {
				if len(got[p]) != 1 {
					t.Fatalf("outputs on %v, want %v", keys(got), tc.want)
				}
			}
		})
	}
}

func TestPacketIn(t *testing.T) {
	tb := newTestBridge(t, 2)
	tb.flows("in_port=1 actions=mod_dl_src:00:00:00:00:00:0c,CONTROLLER:20,output:2")
	tb.rx(1, icmp(macA, macB))
	if n := tb.PacketInDrops(); n != 1 {
		t.Fatalf("PacketInDrops() = %d without a hook, want 1", n)
	}
	var got []PacketIn
	tb.SetPacketInHook(func(p PacketIn) { got = append(got, p) })
	tb.rx(1, icmp(macA, macB))
	if len(got) != 1 {
		t.Fatalf("packet-ins = %d, want 1", len(got))
	}
	want := icmp(macC, macB)[:20]
	if p := got[0]; p.InPort != 1 || p.Reason != PacketInAction || string(p.Data) != string(want) {
		t.Fatalf("packet-in = %+v, want in_port 1, reason action, first 20 bytes of the rewritten frame", p)
	}
	if out := tb.out(); len(out[2]) != 2 {
		t.Fatalf("port 2 got %d frames, want 2", len(out[2]))
	}
	if err := tb.ModPort(1, openflow.PortNoPacketIn, openflow.PortNoPacketIn); err != nil {
		t.Fatal(err)
	}
	tb.rx(1, icmp(macA, macB))
	if len(got) != 1 {
		t.Fatalf("packet-in sent from a no-packet-in port")
	}
}

func TestInject(t *testing.T) {
	tb := newTestBridge(t, 2)
	tb.flows("in_port=CONTROLLER actions=output:1", "in_port=2 actions=mod_vlan_vid:9,output:1")
	tb.Inject(openflow.PortController, icmp(macA, macB))
	tb.Inject(2, icmp(macA, macB))
	got := tb.out()
	if len(got[1]) != 2 || string(got[1][1][12:14]) != "\x81\x00" {
		t.Fatalf("Inject outputs = %v, want two frames on port 1, the second tagged", got)
	}
}

func TestExecute(t *testing.T) {
	tb := newTestBridge(t, 3)
	tb.flows("in_port=2 actions=output:3")
	acts := func(s string) []openflow.Action {
		fm := parseFlow(t, "actions="+s, tb.Bridge)
		return fm.Actions
	}
	tests := []struct {
		name string
		in   uint32
		acts string
		want []uint32
	}{
		{"output", openflow.PortController, "output:1", []uint32{1}},
		{"in_port", 2, "in_port", []uint32{2}},
		{"table", 2, "output:TABLE", []uint32{3}},
		{"flood", 1, "FLOOD", []uint32{2, 3}},
		{"rewrite then output", 1, "mod_vlan_vid:4,output:2", []uint32{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tb.Execute(tc.in, acts(tc.acts), icmp(macA, macB)); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			got := tb.out()
			if len(got) != len(tc.want) {
				t.Fatalf("outputs on %v, want %v", keys(got), tc.want)
			}
			for _, p := range tc.want {
				if len(got[p]) != 1 {
					t.Fatalf("outputs on %v, want %v", keys(got), tc.want)
				}
			}
		})
	}
	if err := tb.Execute(1, []openflow.Action{{Type: openflow.ActGotoTable, Table: 1}}, icmp(macA, macB)); err == nil {
		t.Errorf("Execute(goto_table) succeeded, want an error")
	}
}
