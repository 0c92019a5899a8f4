package ofctl

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/flow"
	"tapestry/openflow"
)

// match builds a flow.Match from field=value pairs set exactly.
func match(t *testing.T, kv ...any) flow.Match {
	t.Helper()
	var m flow.Match
	for i := 0; i < len(kv); i += 2 {
		f := kv[i].(flow.Field)
		switch v := kv[i+1].(type) {
		case int:
			m.Set(f, flow.U64(uint64(v)))
		case [2]uint64:
			m.SetMasked(f, flow.U64(v[0]), flow.U64(v[1]))
		case flow.Value:
			m.Set(f, v)
		case [2]flow.Value:
			m.SetMasked(f, v[0], v[1])
		}
	}
	return m
}

func TestParseMatch(t *testing.T) {
	ip := func(a, b, c, d byte) flow.Value { return flow.Bytes([]byte{a, b, c, d}) }
	mac := func(s string) flow.Value { m, _ := parseMAC(s); return flow.Bytes(m[:]) }
	tests := []struct {
		in   string
		want flow.Match
		prio uint16
	}{
		{"", flow.Match{}, 32768},
		{"priority=7", flow.Match{}, 7},
		{"in_port=1", match(t, flow.FieldInPort, 1), 32768},
		{"in_port=tpcp2", match(t, flow.FieldInPort, 2), 32768},
		{"in_port=LOCAL", match(t, flow.FieldInPort, int(openflow.PortLocal)), 32768},
		{"in_port=65534", match(t, flow.FieldInPort, int(openflow.PortLocal)), 32768},
		{"ip", match(t, flow.FieldDlType, 0x800), 32768},
		{"tcp", match(t, flow.FieldDlType, 0x800, flow.FieldNwProto, 6), 32768},
		{"udp6", match(t, flow.FieldDlType, 0x86dd, flow.FieldNwProto, 17), 32768},
		{"icmp6", match(t, flow.FieldDlType, 0x86dd, flow.FieldNwProto, 58), 32768},
		{"rarp", match(t, flow.FieldDlType, 0x8035), 32768},
		{"mplsm", match(t, flow.FieldDlType, 0x8848), 32768},
		{"tcp,udp", match(t, flow.FieldDlType, 0x800, flow.FieldNwProto, 17), 32768},
		{"ip,nw_src=10.0.0.0/24", match(t, flow.FieldDlType, 0x800, flow.FieldNwSrc, [2]uint64{0x0a000000, 0xffffff00}), 32768},
		{"ip,nw_src=10.0.0.1/255.0.255.0", match(t, flow.FieldDlType, 0x800, flow.FieldNwSrc, [2]uint64{0x0a000000, 0xff00ff00}), 32768},
		{"ip nw_dst=1.2.3.4", match(t, flow.FieldDlType, 0x800, flow.FieldNwDst, ip(1, 2, 3, 4)), 32768},
		{"arp,nw_src=1.2.3.4", match(t, flow.FieldDlType, 0x806, flow.FieldArpSpa, ip(1, 2, 3, 4)), 32768},
		{"dl_src=00:11:22:33:44:55", match(t, flow.FieldDlSrc, mac("00:11:22:33:44:55")), 32768},
		{"eth_dst=1:0:0:0:0:0/1:0:0:0:0:0", match(t, flow.FieldDlDst, [2]uint64{0x010000000000, 0x010000000000}), 32768},
		{"dl_type=0x0800", match(t, flow.FieldDlType, 0x800), 32768},
		{"dl_type=2048", match(t, flow.FieldDlType, 0x800), 32768},
		{"dl_vlan=10", match(t, flow.FieldVlanTCI, [2]uint64{0x100a, 0x1fff}), 32768},
		{"dl_vlan=0xffff", match(t, flow.FieldVlanTCI, [2]uint64{0, 0xffff}), 32768},
		{"dl_vlan_pcp=3", match(t, flow.FieldVlanTCI, [2]uint64{0x7000, 0xf000}), 32768},
		{"dl_vlan=5,dl_vlan_pcp=3", match(t, flow.FieldVlanTCI, [2]uint64{0x7005, 0xffff}), 32768},
		{"vlan_tci=0x1000/0x1000", match(t, flow.FieldVlanTCI, [2]uint64{0x1000, 0x1000}), 32768},
		{"vlan_vid=0x1005", match(t, flow.FieldVlanTCI, [2]uint64{0x1005, 0x1fff}), 32768},
		{"tcp,tp_dst=80", match(t, flow.FieldDlType, 0x800, flow.FieldNwProto, 6, flow.FieldTpDst, 80), 32768},
		{"tcp,tcp_dst=0x50/0xfff0", match(t, flow.FieldDlType, 0x800, flow.FieldNwProto, 6, flow.FieldTpDst, [2]uint64{0x50, 0xfff0}), 32768},
		{"icmp,icmp_type=8,icmp_code=0", match(t, flow.FieldDlType, 0x800, flow.FieldNwProto, 1, flow.FieldTpSrc, 8, flow.FieldTpDst, 0), 32768},
		{"tcp,tcp_flags=+syn-ack", match(t, flow.FieldDlType, 0x800, flow.FieldNwProto, 6, flow.FieldTCPFlags, [2]uint64{0x2, 0x12}), 32768},
		{"tcp,tcp_flags=syn|ack", match(t, flow.FieldDlType, 0x800, flow.FieldNwProto, 6, flow.FieldTCPFlags, [2]uint64{0x12, 0xfff}), 32768},
		{"tcp,tcp_flags=0x12/0xff", match(t, flow.FieldDlType, 0x800, flow.FieldNwProto, 6, flow.FieldTCPFlags, [2]uint64{0x12, 0xff}), 32768},
		{"ct_state=+trk+new", match(t, flow.FieldCtState, [2]uint64{0x21, 0x21}), 32768},
		{"ct_state=-est+trk", match(t, flow.FieldCtState, [2]uint64{0x20, 0x22}), 32768},
		{"ct_state=0x21", match(t, flow.FieldCtState, [2]uint64{0x21, 0xff}), 32768},
		{"ip,ip_frag=no", match(t, flow.FieldDlType, 0x800, flow.FieldNwFrag, [2]uint64{0, 3}), 32768},
		{"ip,ip_frag=yes", match(t, flow.FieldDlType, 0x800, flow.FieldNwFrag, [2]uint64{1, 1}), 32768},
		{"ip,ip_frag=later", match(t, flow.FieldDlType, 0x800, flow.FieldNwFrag, [2]uint64{3, 3}), 32768},
		{"ip,ip_frag=not_later", match(t, flow.FieldDlType, 0x800, flow.FieldNwFrag, [2]uint64{0, 2}), 32768},
		{"ip,nw_tos=33", match(t, flow.FieldDlType, 0x800, flow.FieldNwTos, [2]uint64{32, 0xfc}), 32768},
		{"ip,ip_dscp=10", match(t, flow.FieldDlType, 0x800, flow.FieldIPDSCP, 10), 32768},
		{"ipv6,ipv6_src=2001:db8::/32", match(t, flow.FieldDlType, 0x86dd, flow.FieldIPv6Src, [2]flow.Value{v6("2001:db8::"), v6("ffff:ffff::")}), 32768},
		{"reg3=0x5/0xff,metadata=0x10", match(t, flow.FieldReg3, [2]uint64{5, 0xff}, flow.FieldMetadata, 0x10), 32768},
		{"NXM_NX_REG0=7", match(t, flow.FieldReg0, 7), 32768},
		{"tun_id=0x99,pkt_mark=5", match(t, flow.FieldTunID, 0x99, flow.FieldPktMark, 5), 32768},
		{"mpls,mpls_label=5", match(t, flow.FieldDlType, 0x8847, flow.FieldMplsLabel, 5), 32768},
	}
	for _, tt := range tests {
		got, prio, err := ParseMatch(tt.in, goldenPorts)
		if err != nil {
			t.Errorf("ParseMatch(%q): %v", tt.in, err)
			continue
		}
		if prio != tt.prio {
			t.Errorf("ParseMatch(%q) priority = %d, want %d", tt.in, prio, tt.prio)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseMatch(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func v6(s string) flow.Value { a, _ := parseIPv6(s); return flow.Value(a) }

func TestParseActions(t *testing.T) {
	out := func(p uint32) openflow.Action { return openflow.Action{Type: openflow.ActOutput, Port: p} }
	tests := []struct {
		in   string
		want []openflow.Action
	}{
		{"drop", nil},
		{"", nil},
		{"output:2", []openflow.Action{out(2)}},
		{"2,3", []openflow.Action{out(2), out(3)}},
		{"tpcp2", []openflow.Action{out(2)}},
		{"output:tpcp1", []openflow.Action{out(1)}},
		{"NORMAL,normal,in_port,LOCAL,flood,all", []openflow.Action{out(openflow.PortNormal), out(openflow.PortNormal), out(openflow.PortInPort), out(openflow.PortLocal), out(openflow.PortFlood), out(openflow.PortAll)}},
		{"controller", []openflow.Action{{Type: openflow.ActController, MaxLen: 0xffff, Reason: 1}}},
		{"controller:100", []openflow.Action{{Type: openflow.ActController, MaxLen: 100, Reason: 1}}},
		{"controller(reason=no_match,max_len=128,id=3)", []openflow.Action{{Type: openflow.ActController, MaxLen: 128, Reason: 0, ID: 3}}},
		{"enqueue:1:2", []openflow.Action{{Type: openflow.ActEnqueue, Port: 1, Queue: 2}}},
		{"enqueue(1,2)", []openflow.Action{{Type: openflow.ActEnqueue, Port: 1, Queue: 2}}},
		{"set_queue:3,group:4", []openflow.Action{{Type: openflow.ActSetQueue, Queue: 3}, {Type: openflow.ActGroup, Group: 4}}},
		{"mod_nw_src:1.2.3.4", []openflow.Action{{Type: openflow.ActModNwSrc, Value: flow.U64(0x01020304)}}},
		{"mod_dl_dst:00:00:00:00:00:02", []openflow.Action{{Type: openflow.ActModDlDst, Value: flow.U64(2)}}},
		{"mod_nw_tos:8,mod_nw_ecn:2,mod_nw_ttl:9", []openflow.Action{{Type: openflow.ActModNwTos, Value: flow.U64(8)}, {Type: openflow.ActModNwECN, Value: flow.U64(2)}, {Type: openflow.ActSetTTL, TTL: 9}}},
		{"mod_tp_src:1,mod_tp_dst:2", []openflow.Action{{Type: openflow.ActModTpSrc, Value: flow.U64(1)}, {Type: openflow.ActModTpDst, Value: flow.U64(2)}}},
		{"mod_vlan_vid:5,mod_vlan_pcp:3,strip_vlan,pop_vlan", []openflow.Action{{Type: openflow.ActModVlanVID, Value: flow.U64(5)}, {Type: openflow.ActModVlanPCP, Value: flow.U64(3)}, {Type: openflow.ActStripVlan}, {Type: openflow.ActPopVlan}}},
		{"push_vlan:0x8100,push_mpls:0x8847,pop_mpls:0x0800", []openflow.Action{{Type: openflow.ActPushVlan, EtherType: 0x8100}, {Type: openflow.ActPushMPLS, EtherType: 0x8847}, {Type: openflow.ActPopMPLS, EtherType: 0x800}}},
		{"set_field:10.0.0.1->ip_dst", []openflow.Action{{Type: openflow.ActSetField, Value: flow.U64(0x0a000001), Dst: flow.Whole(flow.FieldNwDst)}}},
		{"set_field:5/0xf->reg3", []openflow.Action{{Type: openflow.ActSetField, Value: flow.U64(5), Mask: flow.U64(0xf), Dst: flow.Whole(flow.FieldReg3)}}},
		{"load:0x1->NXM_NX_REG1[0..15]", []openflow.Action{{Type: openflow.ActLoad, Value: flow.U64(1), Dst: flow.Subfield{Field: flow.FieldReg1, NBits: 16}}}},
		{"load:1->reg0[3]", []openflow.Action{{Type: openflow.ActLoad, Value: flow.U64(1), Dst: flow.Subfield{Field: flow.FieldReg0, Ofs: 3, NBits: 1}}}},
		{"move:NXM_OF_IN_PORT[0..15]->reg2[16..31]", []openflow.Action{{Type: openflow.ActMove, Src: flow.Subfield{Field: flow.FieldInPort, NBits: 16}, Dst: flow.Subfield{Field: flow.FieldReg2, Ofs: 16, NBits: 16}}}},
		{"load:5->OXM_OF_METADATA[]", []openflow.Action{{Type: openflow.ActLoad, Value: flow.U64(5), Dst: flow.Whole(flow.FieldMetadata)}}},
		{"dec_ttl,dec_mpls_ttl,set_mpls_ttl:5", []openflow.Action{{Type: openflow.ActDecTTL}, {Type: openflow.ActDecMPLSTTL}, {Type: openflow.ActSetMPLSTTL, TTL: 5}}},
		{"resubmit:4", []openflow.Action{{Type: openflow.ActResubmit, Port: 4, Table: 255}}},
		{"resubmit(,3)", []openflow.Action{{Type: openflow.ActResubmit, Port: openflow.PortInPort, Table: 3}}},
		{"resubmit(1,5)", []openflow.Action{{Type: openflow.ActResubmit, Port: 1, Table: 5}}},
		{"note:01.02.03", []openflow.Action{{Type: openflow.ActNote, Note: []byte{1, 2, 3, 0, 0, 0}}}},
		{"meter:1,output:2,clear_actions,write_actions(output:3),write_metadata:0x5/0xf,goto_table:3", []openflow.Action{{Type: openflow.ActMeter, ID: 1}, out(2), {Type: openflow.ActClearActions}, {Type: openflow.ActWriteActions, Nested: []openflow.Action{out(3)}}, {Type: openflow.ActWriteMetadata, Value: flow.U64(5), Mask: flow.U64(0xf)}, {Type: openflow.ActGotoTable, Table: 3}}},
	}
	for _, tt := range tests {
		got, err := ParseActions(tt.in, goldenPorts)
		if err != nil {
			t.Errorf("ParseActions(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseActions(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseFlowModDefaults(t *testing.T) {
	tests := []struct {
		in   string
		cmd  openflow.FlowModCommand
		want openflow.FlowMod
	}{
		{"actions=drop", openflow.FlowAdd, openflow.FlowMod{Priority: 32768, BufferID: openflow.NoBuffer, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}},
		{"in_port=1", openflow.FlowDelete, openflow.FlowMod{Command: openflow.FlowDelete, Table: 255, Priority: 32768, Match: match(t, flow.FieldInPort, 1), BufferID: openflow.NoBuffer, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}},
		{"cookie=0x5/0xf,out_port=2,table=3", openflow.FlowDeleteStrict, openflow.FlowMod{Command: openflow.FlowDeleteStrict, Table: 3, Priority: 32768, Cookie: 5, CookieMask: 0xf, BufferID: openflow.NoBuffer, OutPort: 2, OutGroup: openflow.GroupAny}},
		{"cookie=0x7,idle_timeout=1,hard_timeout=2,importance=3,send_flow_rem,check_overlap,priority=9,actions=output:1", openflow.FlowModify, openflow.FlowMod{Command: openflow.FlowModify, Table: 255, Priority: 9, Cookie: 7, IdleTimeout: 1, HardTimeout: 2, Importance: 3, Flags: openflow.FlagSendFlowRem | openflow.FlagCheckOverlap, BufferID: openflow.NoBuffer, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny, Actions: []openflow.Action{{Type: openflow.ActOutput, Port: 1}}}},
		{" cookie=0x0, duration=1.5s, table=0, n_packets=3, n_bytes=294, idle_age=1, priority=100,in_port=1 actions=output:2", openflow.FlowAdd, openflow.FlowMod{Priority: 100, Match: match(t, flow.FieldInPort, 1), BufferID: openflow.NoBuffer, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny, Actions: []openflow.Action{{Type: openflow.ActOutput, Port: 2}}}},
	}
	for _, tt := range tests {
		got, err := ParseFlowMod(tt.in, tt.cmd, goldenPorts)
		if err != nil {
			t.Errorf("ParseFlowMod(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseFlowMod(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		cmd  openflow.FlowModCommand
		want string
	}{
		{"nw_dts=1,actions=drop", openflow.FlowAdd, `ofctl: unknown field "nw_dts" (did you mean "nw_dst"?)`},
		{"ip,nw_src=10.0.0.256,actions=drop", openflow.FlowAdd, `ofctl: nw_src: invalid IP address "10.0.0.256"`},
		{"actions=outptu:1", openflow.FlowAdd, `ofctl: unknown action "outptu" (did you mean "output"?)`},
		{"tp_dst=80,actions=drop", openflow.FlowAdd, `ofctl: field "tp_dst" requires tcp, udp or sctp`},
		{"ip,tp_dst=80,actions=drop", openflow.FlowAdd, `ofctl: field "tp_dst" requires tcp, udp or sctp`},
		{"nw_src=1.1.1.1,actions=drop", openflow.FlowAdd, `ofctl: field "nw_src" requires ip, arp or rarp`},
		{"tcp,icmp_type=3,actions=drop", openflow.FlowAdd, `ofctl: field "icmp_type" requires icmp or icmp6`},
		{"ipv6,nw_ttl=3,ip_frag=maybe,actions=drop", openflow.FlowAdd, `ofctl: ip_frag: invalid fragment type "maybe" (want no, yes, first, later or not_later)`},
		{"in_port=1", openflow.FlowAdd, `ofctl: must specify an action (actions=...)`},
		{"in_port=foo,actions=drop", openflow.FlowAdd, `ofctl: in_port: invalid or unknown port "foo"`},
		{"in_port=70000,actions=drop", openflow.FlowAdd, `ofctl: in_port: invalid or unknown port "70000"`},
		{"priority=70000,actions=drop", openflow.FlowAdd, `ofctl: invalid priority "70000"`},
		{"ip,nw_src=1.2.3.4/33,actions=drop", openflow.FlowAdd, `ofctl: nw_src: "33": prefix length not between 0 and 32`},
		{"dl_src=01:02:03:04:05,actions=drop", openflow.FlowAdd, `ofctl: dl_src: invalid Ethernet address "01:02:03:04:05"`},
		{"tcp,tcp_flags=+syn+foo,actions=drop", openflow.FlowAdd, `ofctl: tcp_flags: "foo": unknown TCP flag`},
		{"dl_type=0x800/0xff,actions=drop", openflow.FlowAdd, `ofctl: dl_type: "0x800/0xff": field does not support masking`},
		{"dl_vlan=4096,actions=drop", openflow.FlowAdd, `ofctl: dl_vlan: value "4096" does not fit into 12 bits`},
		{"actions=drop,output:1", openflow.FlowAdd, `ofctl: "drop" must not be accompanied by any other action or instruction`},
		{"actions=goto_table:1,output:2", openflow.FlowAdd, `ofctl: invalid instruction ordering: apply_actions must appear before goto_table`},
		{"actions=goto_table:1,goto_table:2", openflow.FlowAdd, `ofctl: instruction goto_table may be specified only once`},
		{"actions=resubmit(,)", openflow.FlowAdd, `ofctl: resubmit: at least one "in_port" or "table" must be specified`},
		{"actions=resubmit(,300)", openflow.FlowAdd, `ofctl: resubmit: "300": resubmit to unknown table`},
		{"actions=load:0x1ffff->NXM_NX_REG0[0..15]", openflow.FlowAdd, `ofctl: load: value 0x1ffff does not fit into 16 bits`},
		{"actions=move:reg0[0..3]->reg1[0..4]", openflow.FlowAdd, `ofctl: move: reg0[0..3]->reg1[0..4]: source field is 4 bits wide but destination is 5 bits wide`},
		{"actions=set_field:1.1.1.1->ip_src", openflow.FlowAdd, `ofctl: actions are invalid with specified match: set_field on "ip_src" requires ip, arp or rarp`},
		{"actions=set_field:5->vlan_vid", openflow.FlowAdd, `ofctl: actions are invalid with specified match: set_field on "vlan_vid" requires a VLAN tag (match one or push_vlan first)`},
		{"ip,actions=set_field:4->ip_proto", openflow.FlowAdd, `ofctl: set_field: ip_proto is read-only`},
		{"actions=set_field:1->nw_dts", openflow.FlowAdd, `ofctl: set_field: unknown field "nw_dts" (did you mean "nw_dst"?)`},
		{"actions=output:foo", openflow.FlowAdd, `ofctl: output: "foo": output to unknown port`},
		{"actions=controller(reason=nomatch)", openflow.FlowAdd, `ofctl: controller: unknown reason "nomatch" (did you mean "no_match"?)`},
		{"actions=push_vlan:0x800", openflow.FlowAdd, `ofctl: push_vlan: ethertype 0x0800 is not 0x8100 or 0x88a8`},
		{"actions=note:1", openflow.FlowAdd, `ofctl: note: "1": odd number of hex digits`},
		{"in_port=1,actions=drop", openflow.FlowDelete, `ofctl: "actions=drop": del-flows does not take actions`},
		{"cookie=1/1,actions=drop", openflow.FlowAdd, `ofctl: cookie=1/1: flow additions cannot use a cookie mask`},
		{"send_flow_rem=1,actions=drop", openflow.FlowAdd, `ofctl: send_flow_rem: takes no value, got "1"`},
		{"tcp=1,actions=drop", openflow.FlowAdd, `ofctl: tcp=1: "tcp" is a protocol keyword and takes no value`},
		{"in_port,actions=drop", openflow.FlowAdd, `ofctl: field "in_port" needs a value (in_port=VALUE)`},
	}
	for _, tt := range tests {
		_, err := ParseFlowMod(tt.in, tt.cmd, goldenPorts)
		if err == nil {
			t.Errorf("ParseFlowMod(%q) succeeded, want error %q", tt.in, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseFlowMod(%q) error\n got %q\nwant %q", tt.in, err.Error(), tt.want)
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseFlowMod(%q) error %v does not wrap ErrSyntax", tt.in, err)
		}
	}
}

func TestParseFlowKey(t *testing.T) {
	k, err := ParseFlowKey("in_port=1,icmp,dl_src=00:00:00:00:00:01,nw_dst=10.0.0.2,icmp_type=8", nil)
	if err != nil {
		t.Fatalf("ParseFlowKey: %v", err)
	}
	want := flow.Key{InPort: 1, DlType: 0x800, NwProto: 1, NwDst: [4]byte{10, 0, 0, 2}, TpSrc: 8, DlSrc: [6]byte{0, 0, 0, 0, 0, 1}}
	if diff := cmp.Diff(want, k); diff != "" {
		t.Errorf("ParseFlowKey (-want +got):\n%s", diff)
	}
	if _, err := ParseFlowKey("ip,nw_dst=10.0.0.0/8", nil); err == nil || !strings.Contains(err.Error(), "not masks") {
		t.Errorf("ParseFlowKey with a mask: err = %v, want a complaint about masks", err)
	}
}
