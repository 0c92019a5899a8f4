package ofproto

import (
	"bytes"
	"fmt"
	"testing"

	"tapestry/packet"
)

// mutate returns a copy of frame changed by fn (the expected output of a
// rewriting action, computed with the packet package's own mutators, whose
// checksums its tests verify against full recomputation).
func mutate(frame []byte, fn func(f []byte) []byte) []byte {
	c := append([]byte(nil), frame...)
	return fn(c)
}

func TestActions(t *testing.T) {
	ping := icmp(macA, macB)
	syn := tcp("10.0.0.1:1234", "10.0.0.2:80")
	dgram := udp("10.0.0.1:53", "10.0.0.2:5353")
	tagged := packet.Tagged(ping, 10)
	lowTTL := mutate(ping, func(f []byte) []byte { packet.SetIPv4TTL(f, 14, 1); return f })
	tests := []struct {
		name  string
		flows []string
		in    []byte
		want  map[uint32][][]byte
	}{
		{"output", []string{"in_port=1,actions=output:2"}, ping, map[uint32][][]byte{2: {ping}}},
		{"drop", []string{"in_port=1,actions=drop"}, ping, map[uint32][][]byte{}},
		{"table miss", []string{"in_port=2,actions=output:3"}, ping, map[uint32][][]byte{}},
		{"output to input port skipped", []string{"actions=output:1"}, ping, map[uint32][][]byte{}},
		{"in_port", []string{"actions=in_port"}, ping, map[uint32][][]byte{1: {ping}}},
		{"flood", []string{"actions=FLOOD"}, ping, map[uint32][][]byte{2: {ping}, 3: {ping}}},
		{"all", []string{"actions=ALL"}, ping, map[uint32][][]byte{2: {ping}, 3: {ping}}},
		{"two outputs", []string{"actions=output:2,output:3"}, ping, map[uint32][][]byte{2: {ping}, 3: {ping}}},
		{"mod_dl_src", []string{"actions=mod_dl_src:00:00:00:00:00:0c,output:2"}, ping,
			map[uint32][][]byte{2: {icmp(macC, macB)}}},
		{"output before and after rewrite", []string{"actions=output:2,mod_dl_dst:00:00:00:00:00:0c,output:3"}, ping,
			map[uint32][][]byte{2: {ping}, 3: {icmp(macA, macC)}}},
		{"mod_nw_src", []string{"ip,actions=mod_nw_src:10.9.9.9,output:2"}, ping,
			map[uint32][][]byte{2: {packet.ICMPEcho(macA, macB, ip("10.9.9.9"), ip("10.0.0.2"), 7, 1, []byte("hello"), false)}}},
		{"set_field ip_dst", []string{"ip,actions=set_field:10.8.8.8->ip_dst,output:2"}, ping,
			map[uint32][][]byte{2: {packet.ICMPEcho(macA, macB, ip("10.0.0.1"), ip("10.8.8.8"), 7, 1, []byte("hello"), false)}}},
		{"mod_tp_dst tcp", []string{"tcp,actions=mod_tp_dst:8080,output:2"}, syn,
			map[uint32][][]byte{2: {tcp("10.0.0.1:1234", "10.0.0.2:8080")}}},
		{"set_field udp_src", []string{"udp,actions=set_field:99->udp_src,output:2"}, dgram,
			map[uint32][][]byte{2: {udp("10.0.0.1:99", "10.0.0.2:5353")}}},
		{"mod_vlan_vid pushes", []string{"actions=mod_vlan_vid:10,output:2"}, ping, map[uint32][][]byte{2: {tagged}}},
		{"mod_vlan_vid rewrites", []string{"actions=mod_vlan_vid:20,output:2"}, tagged,
			map[uint32][][]byte{2: {packet.Tagged(ping, 20)}}},
		{"mod_vlan_pcp", []string{"actions=mod_vlan_pcp:5,output:2"}, tagged,
			map[uint32][][]byte{2: {packet.Tagged(ping, 5<<13|10)}}},
		{"strip_vlan", []string{"actions=strip_vlan,output:2"}, tagged, map[uint32][][]byte{2: {ping}}},
		{"push_vlan then vid", []string{"actions=push_vlan:0x8100,set_field:4106->vlan_vid,output:2"}, ping,
			map[uint32][][]byte{2: {tagged}}},
		{"tagged and untagged copies", []string{"actions=output:2,mod_vlan_vid:10,output:3,strip_vlan,output:1"}, ping,
			map[uint32][][]byte{2: {ping}, 3: {tagged}}},
		{"dec_ttl", []string{"ip,actions=dec_ttl,output:2"}, ping,
			map[uint32][][]byte{2: {mutate(ping, func(f []byte) []byte { packet.DecTTL(f, 14); return f })}}},
		{"dec_ttl expired", []string{"ip,actions=dec_ttl,output:2"}, lowTTL, map[uint32][][]byte{}},
		{"mod_nw_tos", []string{"ip,actions=mod_nw_tos:184,output:2"}, ping,
			map[uint32][][]byte{2: {mutate(ping, func(f []byte) []byte { packet.SetIPv4TOS(f, 14, 184); return f })}}},
		{"resubmit", []string{"actions=resubmit(,1)", "table=1,actions=output:3"}, ping, map[uint32][][]byte{3: {ping}}},
		{"resubmit with in_port", []string{"in_port=1,actions=resubmit(2,1)", "table=1,in_port=2,actions=output:3"}, ping,
			map[uint32][][]byte{3: {ping}}},
		{"resubmit then continue", []string{"actions=resubmit(,1),output:2", "table=1,actions=output:3"}, ping,
			map[uint32][][]byte{2: {ping}, 3: {ping}}},
		{"resubmit loop", []string{"actions=output:2,resubmit(,0)"}, ping, map[uint32][][]byte{}},
		{"goto_table", []string{"actions=goto_table:2", "table=2,actions=output:2"}, ping, map[uint32][][]byte{2: {ping}}},
		{"goto miss", []string{"actions=output:3,goto_table:2"}, ping, map[uint32][][]byte{3: {ping}}},
		{"load and match reg", []string{"actions=load:0x5->NXM_NX_REG0[],resubmit(,1)", "table=1,reg0=5,actions=output:2"}, ping,
			map[uint32][][]byte{2: {ping}}},
		{"load subfield", []string{"actions=load:0x3->NXM_NX_REG1[4..7],resubmit(,1)", "table=1,reg1=0x30,actions=output:3"}, ping,
			map[uint32][][]byte{3: {ping}}},
		{"move", []string{"actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],output:2"}, ping,
			map[uint32][][]byte{2: {icmp(macA, macA)}}},
		{"write_metadata", []string{"actions=write_metadata:0x10/0xff,goto_table:1", "table=1,metadata=0x10/0xff,actions=output:3"}, ping,
			map[uint32][][]byte{3: {ping}}},
		{"write_actions", []string{"actions=write_actions(output:3),goto_table:1", "table=1,actions=output:2"}, ping,
			map[uint32][][]byte{2: {ping}, 3: {ping}}},
		{"write_actions replaced", []string{"actions=write_actions(output:3),goto_table:1", "table=1,actions=write_actions(output:2)"}, ping,
			map[uint32][][]byte{2: {ping}}},
		{"clear_actions", []string{"actions=write_actions(output:3),goto_table:1", "table=1,actions=clear_actions"}, ping,
			map[uint32][][]byte{}},
		{"action set order", []string{"actions=write_actions(output:2,mod_dl_src:00:00:00:00:00:0c),goto_table:1", "table=1,actions=drop"}, ping,
			map[uint32][][]byte{2: {icmp(macC, macB)}}},
		{"note", []string{"actions=note:01.02,output:2"}, ping, map[uint32][][]byte{2: {ping}}},
		{"priority", []string{"priority=10,actions=output:2", "priority=20,ip,actions=output:3"}, ping, map[uint32][][]byte{3: {ping}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 3)
			tb.flows(tc.flows...)
			for round := 0; round < 3; round++ { // slow path, then the caches
				tb.rx(1, tc.in)
				got := tb.out()
				if err := compareOut(tc.want, got); err != nil {
					t.Fatalf("round %d: %v\ntrace:\n%s", round, err, tb.TracePacket(tc.in, 1))
				}
			}
		})
	}
}

func compareOut(want, got map[uint32][][]byte) error {
	for no, w := range want {
		g := got[no]
		if len(g) != len(w) {
			return fmt.Errorf("port %d: got %d frames, want %d", no, len(g), len(w))
		}
		for i := range w {
			if !bytes.Equal(g[i], w[i]) {
				return fmt.Errorf("port %d frame %d:\n got %x\nwant %x", no, i, g[i], w[i])
			}
			if err := checksumsOK(g[i]); err != nil {
				return fmt.Errorf("port %d frame %d: %v", no, i, err)
			}
		}
	}
	for no, g := range got {
		if _, ok := want[no]; !ok {
			return fmt.Errorf("port %d: got %d unexpected frames", no, len(g))
		}
	}
	return nil
}

// checksumsOK verifies the IPv4 header checksum of an (optionally tagged)
// frame.
func checksumsOK(f []byte) error {
	l3 := 14
	if len(f) >= 18 && packet.IsVLANType(packet.Ethernet(f).Type()) {
		l3 = 18
	}
	if len(f) < l3+20 || f[l3-2] != 0x08 || f[l3-1] != 0x00 {
		return nil
	}
	if !packet.IPv4(f[l3:]).ChecksumValid() {
		return fmt.Errorf("bad IPv4 header checksum")
	}
	return nil
}
