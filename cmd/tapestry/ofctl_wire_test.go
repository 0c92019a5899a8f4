package main

import (
	"testing"

	"tapestry/ofctl"
	"tapestry/openflow"
)

func TestWireTarget(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"unix:/run/tapestry/br0.mgmt", true},
		{"tcp:127.0.0.1:6653", true},
		{"tcp:127.0.0.1", true},
		{"br-int", false},
		{"tpnbr", false},
	}
	for _, tt := range tests {
		if got := wireTarget(tt.in); got != tt.want {
			t.Errorf("wireTarget(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestProtocolBitmap(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
	}{
		{"OpenFlow10", 1 << 1},
		{"OpenFlow13", 1 << 4},
		{"OpenFlow10,OpenFlow13", 1<<1 | 1<<4},
		{"OpenFlow13,OpenFlow15", 1 << 4},
		{"OpenFlow14", 0},
	}
	for _, tt := range tests {
		if got := protocolBitmap(tt.in); got != tt.want {
			t.Errorf("protocolBitmap(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

func TestFeatures10(t *testing.T) {
	tests := []struct {
		in, want uint32
		kbps     uint32
	}{
		{1 << 6, 1 << 6, 10e6},                          // 10GB-FD
		{1<<6 | 1<<11, 1<<6 | 1<<15, 10e6},              // + PAUSE_ASYM
		{1<<5 | 1<<7 | 1<<9, 1<<5 | 1<<11 | 1<<13, 1e6}, // 1GB-FD COPPER AUTONEG
		{1 << 2, 1 << 2, 100e3},
		{0, 0, 0},
	}
	for _, tt := range tests {
		if got := features10(tt.in); got != tt.want {
			t.Errorf("features10(%#x) = %#x, want %#x", tt.in, got, tt.want)
		}
		if got := speedKbps(tt.want); got != tt.kbps {
			t.Errorf("speedKbps(%#x) = %d, want %d", tt.want, got, tt.kbps)
		}
	}
}

func TestFlowFileCommand(t *testing.T) {
	tests := []struct {
		line string
		cmd  openflow.FlowModCommand
		text string
	}{
		{"priority=1,actions=drop", openflow.FlowAdd, "priority=1,actions=drop"},
		{"add priority=1,actions=drop", openflow.FlowAdd, "priority=1,actions=drop"},
		{"modify ip,actions=drop", openflow.FlowModify, "ip,actions=drop"},
		{"modify_strict priority=3,ip,actions=drop", openflow.FlowModifyStrict, "priority=3,ip,actions=drop"},
		{"delete ip", openflow.FlowDelete, "ip"},
		{"delete_strict priority=3,ip", openflow.FlowDeleteStrict, "priority=3,ip"},
	}
	for _, tt := range tests {
		if cmd, text := flowFileCommand(tt.line); cmd != tt.cmd || text != tt.text {
			t.Errorf("flowFileCommand(%q) = %v, %q; want %v, %q", tt.line, cmd, text, tt.cmd, tt.text)
		}
	}
}

func TestParsePacketOut(t *testing.T) {
	ports := wirePorts{{No: 1, Name: "p1"}, {No: 2, Name: "p2"}}
	tests := []struct {
		in      string
		inPort  uint32
		n       int
		acts    int
		wantErr bool
	}{
		{"in_port=1 packet=ffffffffffff0200000000010806 actions=table", 1, 14, 1, false},
		{"in_port=p2,packet=ff:ff:ff:ff:ff:ff:02:00:00:00:00:01:08:06 actions=output:1,output:2", 2, 14, 2, false},
		{"in_port=LOCAL packet=00 actions=drop", openflow.PortLocal, 1, 0, false},
		{"packet=00", openflow.PortController, 1, 0, false},
		{"in_port=nosuch packet=00 actions=drop", 0, 0, 0, true},
		{"in_port=1 actions=drop", 0, 0, 0, true},
		{"in_port=1 packet=0g actions=drop", 0, 0, 0, true},
		{"in_port=1 bogus=1 packet=00", 0, 0, 0, true},
	}
	for _, tt := range tests {
		po, err := parsePacketOut(tt.in, ports)
		if (err != nil) != tt.wantErr {
			t.Errorf("parsePacketOut(%q): err %v", tt.in, err)
			continue
		}
		if err == nil && (po.InPort != tt.inPort || len(po.Data) != tt.n || len(po.Actions) != tt.acts || po.BufferID != openflow.NoBuffer) {
			t.Errorf("parsePacketOut(%q) = %+v", tt.in, po)
		}
	}
}

// Groups print back as they were written, in ovs-ofctl's dump-groups form.
func TestParseGroupRoundTrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{"group_id=1,type=all,bucket=output:1", "group_id=1,type=all,bucket=actions=output:1"},
		{"group_id=2,type=select,bucket=actions=output:1,bucket=actions=output:2", "group_id=2,type=select,bucket=actions=output:1,bucket=actions=output:2"},
		{"group_id=3,type=indirect,bucket=actions=drop", "group_id=3,type=indirect,bucket=actions=drop"},
		{"group_id=4,type=ff", "group_id=4,type=ff"},
	}
	for _, tt := range tests {
		g, err := parseGroup(tt.in, nil)
		if err != nil {
			t.Errorf("parseGroup(%q): %v", tt.in, err)
			continue
		}
		if got := formatGroup(&g); got != tt.want {
			t.Errorf("parseGroup(%q) prints %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"group_id=x", "type=fancy", "weight=3"} {
		if _, err := parseGroup(bad, nil); err == nil {
			t.Errorf("parseGroup(%q) accepted", bad)
		}
	}
}

// Flow mods in error messages print as ofp-print prints them (the
// expectations are ovs-ofctl 3.1's output for the same requests).
func TestFormatFlowModMsg(t *testing.T) {
	tests := []struct {
		text    string
		cmd     openflow.FlowModCommand
		version uint8
		want    string
	}{
		{"table=254,priority=7,ip,nw_dst=1.2.3.4,actions=drop", openflow.FlowAdd, openflow.Version13, " ADD table:254 priority=7,ip,nw_dst=1.2.3.4 actions=drop"},
		{"cookie=0x5,idle_timeout=10,priority=7,udp,actions=output:99", openflow.FlowAdd, openflow.Version10, " ADD priority=7,udp cookie:0x5 idle:10 actions=output:99"},
		{"ip,actions=LOCAL", openflow.FlowModify, openflow.Version10, " MOD ip actions=LOCAL"},
	}
	for _, tt := range tests {
		fm, err := ofctl.ParseFlowMod(tt.text, tt.cmd, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := formatFlowModMsg(&fm, tt.version); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.text, got, tt.want)
		}
	}
}
