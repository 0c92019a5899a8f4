package openflow

import (
	"bytes"
	"encoding/hex"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tapestry/flow"
	"tapestry/internal/hosttest"
)

// fakeSwitch accepts one ovs-ofctl connection on a unix socket, answers
// the handshake, echo and barrier, and returns every other message it
// receives: that is how we learn Open vSwitch's own encoding of a flow.
func captureOVS(t *testing.T, version uint8, args ...string) [][]byte {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "sw.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan [][]byte, 1)
	go func() {
		var msgs [][]byte
		defer func() { got <- msgs }()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		hello, _ := (&Hello{Versions: 1 << version}).Append(nil, version, 1)
		if _, err := c.Write(hello); err != nil {
			return
		}
		buf := make([]byte, MaxMessageLen)
		for {
			raw, err := ReadMessage(c, buf)
			if err != nil {
				return
			}
			h, _ := ParseHeader(raw)
			t, _ := TypeOf(h.Version, h.Type)
			var reply Message
			switch t {
			case TypeHello:
				continue
			case TypeEchoRequest:
				reply = &EchoReply{}
			case TypeBarrierRequest:
				reply = &BarrierReply{}
			case TypeFeaturesRequest:
				reply = &FeaturesReply{DatapathID: 1, Tables: 254}
			default:
				msgs = append(msgs, append([]byte(nil), raw...))
				continue
			}
			out, _ := reply.Append(nil, version, h.Xid)
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}()
	proto := map[uint8]string{Version10: "OpenFlow10", Version13: "OpenFlow13"}[version]
	cmd := exec.Command("ovs-ofctl", append([]string{"--timeout=5", "--no-names", "-O", proto}, append(args[:1:1], append([]string{"unix:" + sock}, args[1:]...)...)...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	ln.Close()
	return <-got
}

// ovsFlows are flows whose OVS encoding our encoder must reproduce byte for
// byte, after decoding it into the model.
var ovsFlows = []string{
	"in_port=1,actions=output:2",
	"priority=100,ip,nw_dst=10.0.0.0/8,in_port=3,actions=output:1",
	"tcp,tp_dst=80,nw_src=192.168.1.1,actions=mod_nw_dst:10.1.1.1,mod_tp_dst:8080,output:4",
	"udp,udp_src=53,actions=set_field:99->udp_dst,output:LOCAL",
	"dl_vlan=5,dl_vlan_pcp=2,actions=strip_vlan,NORMAL",
	"vlan_tci=0,actions=mod_vlan_vid:10,output:1",
	"dl_src=00:11:22:33:44:55,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:02:00:00:00:00:02,FLOOD",
	"arp,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/24,arp_sha=00:00:00:00:00:01,actions=ALL",
	"icmp,icmp_type=8,icmp_code=0,nw_tos=32,actions=mod_nw_tos:64,dec_ttl,IN_PORT",
	"reg0=5,reg3=0x10/0xf0,actions=load:0x1234->NXM_NX_REG1[0..15],move:NXM_NX_REG0[]->NXM_NX_REG2[],resubmit(,3)",
	"pkt_mark=7,ct_state=+trk+est,ct_zone=3,ct_mark=0x1/0xff,ip,actions=resubmit:5,resubmit(2,4),CONTROLLER:128",
	"metadata=0x10/0xff,tun_id=0x64,actions=write_metadata:0x5/0xff,goto_table:4",
	"ipv6,ipv6_src=2001:db8::/32,ipv6_label=0x12345,actions=dec_ttl,output:7",
	"tcp6,ipv6_dst=2001:db8::1,tcp_flags=+syn-ack,actions=drop",
	"mpls,mpls_label=5,mpls_tc=3,mpls_bos=1,actions=pop_mpls:0x0800,output:3",
	"ip,nw_ecn=1,nw_ttl=64,ip_frag=no,actions=push_mpls:0x8847,set_mpls_ttl(10),dec_mpls_ttl,output:1",
	"actions=controller(reason=no_match,max_len=200,id=3),note:01020304,set_queue:5,enqueue:2:7",
	"sctp,sctp_src=9,actions=mod_tp_src:10,clear_actions",
	"actions=group:5",
	"ip,actions=push_vlan:0x8100,set_field:4196->vlan_vid,mod_nw_ecn:2,mod_nw_ttl:9,write_actions(output:3)",
	"in_port=LOCAL,actions=meter:3,output:1",
	"cookie=0x1234,table=3,idle_timeout=10,hard_timeout=20,send_flow_rem,check_overlap,priority=5,actions=output:1",
	"udp6,icmpv6_type=1,actions=drop",
	"icmp6,icmpv6_type=135,icmpv6_code=0,actions=drop",
}

var ovsFlows10 = []string{
	"in_port=1,actions=output:2",
	"priority=100,ip,nw_dst=10.0.0.0/8,in_port=3,actions=output:1",
	"tcp,tp_dst=80,nw_src=192.168.1.1,actions=mod_nw_dst:10.1.1.1,mod_tp_dst:8080,output:4",
	"dl_vlan=5,dl_vlan_pcp=2,actions=strip_vlan,NORMAL",
	"dl_vlan=0xffff,actions=mod_vlan_vid:10,mod_vlan_pcp:3,output:1",
	"dl_src=00:11:22:33:44:55,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:02:00:00:00:00:02,FLOOD",
	"arp,nw_src=10.0.0.1,actions=ALL",
	"icmp,icmp_type=8,nw_tos=32,actions=mod_nw_tos:64,dec_ttl,IN_PORT",
	"ip,actions=load:0x1234->NXM_NX_REG1[0..15],move:NXM_NX_REG0[]->NXM_NX_REG2[],resubmit(,3),resubmit:4",
	"actions=controller(reason=no_match,max_len=200,id=3),note:01020304,set_queue:5,enqueue:2:7,CONTROLLER:64",
	"ip,actions=mod_nw_ecn:2,mod_nw_ttl:9,push_mpls:0x8847,set_mpls_ttl(10),dec_mpls_ttl,output:1",
	"actions=goto_table:4",
	"in_port=1,actions=group:1",
	"udp,tp_src=53,actions=mod_tp_src:99,output:LOCAL",
	"cookie=0x1234,idle_timeout=10,hard_timeout=20,send_flow_rem,priority=5,actions=output:1",
}

// TestOVSFlowModEncoding sends each flow with the real ovs-ofctl to a fake
// switch, decodes what arrives into the model and re-encodes it: the bytes
// must be Open vSwitch's.
func TestOVSFlowModEncoding(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	for _, tc := range []struct {
		version uint8
		flows   []string
	}{{Version13, ovsFlows}, {Version10, ovsFlows10}} {
		for _, f := range tc.flows {
			msgs := captureOVS(t, tc.version, "add-flow", f)
			if len(msgs) != 1 {
				t.Errorf("v%d %q: captured %d messages", tc.version, f, len(msgs))
				continue
			}
			raw := msgs[0]
			var fm FlowMod
			if err := DecodeFlowMod(raw, &fm); err != nil {
				t.Errorf("v%d %q: DecodeFlowMod(%x): %v", tc.version, f, raw, err)
				continue
			}
			out, err := fm.Append(nil, tc.version, be32(raw[4:]))
			if err != nil {
				t.Errorf("v%d %q: Append: %v", tc.version, f, err)
				continue
			}
			if !bytes.Equal(out, raw) {
				t.Errorf("v%d %q: encoding differs from OVS\n got %x\nwant %x", tc.version, f, out, raw)
			}
		}
	}
}

// TestOVSPrintsWhatWeEncode encodes one message of every kind we send, in
// both versions, and has ovs-ofctl ofp-print decode it.
func TestOVSPrintsWhatWeEncode(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	match := flow.Match{}
	match.Set(flow.FieldInPort, flow.U64(3))
	match.Set(flow.FieldDlType, flow.U64(flow.EthTypeIPv4))
	match.SetMasked(flow.FieldNwDst, flow.U64(0x0a000000), flow.U64(0xff000000))
	port := PortDesc{No: 1, HWAddr: [6]byte{2, 0, 0, 0, 0, 1}, Name: "tpg0", State: PortLive, CurrSpeed: 10000000, MaxSpeed: 10000000}
	cases := []struct {
		name string
		v    uint8
		m    Message
		want string
	}{
		{"hello13", Version13, &Hello{Versions: 1<<1 | 1<<4}, "version bitmap: 0x01, 0x04"},
		{"hello10", Version10, &Hello{}, "OFPT_HELLO (xid=0x7)"},
		{"error13", Version13, ErrorFor(Version13, errorf(ErrBadMatch, BMCBadPrereq, "x"), []byte{4, 2, 0, 8, 0, 0, 0, 1}), "OFPBMC_BAD_PREREQ"},
		{"error10", Version10, ErrorFor(Version10, errorf(ErrBadRequest, BRCBadType, "x"), []byte{1, 2, 0, 8, 0, 0, 0, 1}), "OFPBRC_BAD_TYPE"},
		{"error10nx", Version10, ErrorFor(Version10, errorf(ErrBadMatch, BMCBadPrereq, "x"), []byte{1, 2, 0, 8, 0, 0, 0, 1}), "OFPBMC_BAD_PREREQ"},
		{"dupinst13", Version13, ErrorFor(Version13, errorf(ErrBadInstruction, BICDupInst, "x"), []byte{4, 2, 0, 8, 0, 0, 0, 1}), "OFPBIC_DUP_INST"},
		{"echo13", Version13, &EchoRequest{Data: []byte("hi")}, "OFPT_ECHO_REQUEST (OF1.3)"},
		{"echoreply10", Version10, &EchoReply{}, "OFPT_ECHO_REPLY"},
		{"features13", Version13, &FeaturesReply{DatapathID: 0xab, Buffers: 0, Tables: 254, Capabilities: 0x4f}, "dpid:00000000000000ab"},
		{"features10", Version10, &FeaturesReply{DatapathID: 0xab, Tables: 254, Capabilities: 0xc7, Actions: 0xfff, Ports: []PortDesc{port}}, "1(tpg0): addr:02:00:00:00:00:01"},
		{"getconfig13", Version13, &SwitchConfig{MissSendLen: 128}, "OFPT_GET_CONFIG_REPLY (OF1.3) (xid=0x7): frags=normal miss_send_len=128"},
		{"setconfig10", Version10, &SwitchConfig{IsSet: true, Flags: ConfigFragDrop, MissSendLen: 0xffff}, "frags=drop"},
		{"packetin13", Version13, &PacketIn{BufferID: NoBuffer, TotalLen: 60, InPort: 3, Reason: ReasonAction, Table: 2, Cookie: 9, Data: make([]byte, 60)}, "table_id=2 cookie=0x9 total_len=60 in_port=3 (via action)"},
		{"packetin10", Version10, &PacketIn{BufferID: NoBuffer, TotalLen: 60, InPort: 3, Reason: ReasonNoMatch, Data: make([]byte, 60)}, "total_len=60 in_port=3 (via no_match)"},
		{"flowremoved13", Version13, &FlowRemoved{Cookie: 1, Priority: 7, Reason: RemovedDelete, Table: 1, Duration: 1500 * time.Millisecond, Packets: 3, Bytes: 180, Match: match}, "priority=7,ip,in_port=3,nw_dst=10.0.0.0/8 reason=delete table_id=1 cookie:0x1 duration1.500s"},
		{"flowremoved10", Version10, &FlowRemoved{Priority: 7, Reason: RemovedIdleTimeout, IdleTimeout: 5, Match: match}, "reason=idle"},
		{"portstatus13", Version13, &PortStatus{Reason: PortAdd, Port: port}, "ADD: 1(tpg0): addr:02:00:00:00:00:01"},
		{"portstatus10", Version10, &PortStatus{Reason: PortModify, Port: port}, "MOD: 1(tpg0)"},
		{"packetout13", Version13, &PacketOut{BufferID: NoBuffer, InPort: PortController, Actions: []Action{{Type: ActOutput, Port: 2}}, Data: make([]byte, 64)}, "in_port=CONTROLLER actions=output:2 data_len=64"},
		{"packetout10", Version10, &PacketOut{BufferID: NoBuffer, InPort: PortController, Actions: []Action{{Type: ActOutput, Port: PortFlood}}, Data: make([]byte, 64)}, "actions=FLOOD data_len=64"},
		{"flowmod13", Version13, &FlowMod{Command: FlowAdd, Priority: 10, Match: match, BufferID: NoBuffer, OutPort: PortAny, OutGroup: GroupAny, Actions: []Action{{Type: ActOutput, Port: 1}}}, "ADD priority=10,ip,in_port=3,nw_dst=10.0.0.0/8 actions=output:1"},
		{"flowmod10", Version10, &FlowMod{Command: FlowDeleteStrict, Priority: 10, Match: match, BufferID: NoBuffer, OutPort: PortAny}, "DEL_STRICT priority=10,ip,in_port=3,nw_dst=10.0.0.0/8"},
		{"groupmod", Version13, &GroupMod{Command: GroupAdd, Group: Group{GroupType: GroupTypeSelect, ID: 5, Buckets: []Bucket{{Weight: 2, WatchPort: PortAny, WatchGroup: GroupAny, Actions: []Action{{Type: ActOutput, Port: 1}}}}}}, "ADD group_id=5,type=select,bucket=weight:2,actions=output:1"},
		{"ffgroup", Version13, &GroupMod{Command: GroupModify, Group: Group{GroupType: GroupTypeFastFailover, ID: 6, Buckets: []Bucket{{WatchPort: 2, WatchGroup: GroupAny, Actions: []Action{{Type: ActOutput, Port: 2}}}}}}, "MOD group_id=6,type=ff,bucket=watch_port:2,actions=output:2"},
		{"portmod13", Version13, &PortMod{Port: 1, HWAddr: port.HWAddr, Config: PortDown, Mask: PortDown}, "config: PORT_DOWN"},
		{"portmod10", Version10, &PortMod{Port: 1, HWAddr: port.HWAddr, Config: PortNoFlood, Mask: PortNoFlood}, "config: NO_FLOOD"},
		{"tablemod", Version13, &TableMod{Table: 1}, "OFPT_TABLE_MOD (OF1.3) (xid=0x7): table_id=1"},
		{"barrier13", Version13, &BarrierReply{}, "OFPT_BARRIER_REPLY (OF1.3)"},
		{"barrier10", Version10, &BarrierRequest{}, "OFPT_BARRIER_REQUEST"},
		{"role", Version13, &Role{IsReply: true, Role: RoleMaster, GenerationID: 7}, "role=primary generation_id=7"},
		{"async", Version13, &AsyncConfig{PacketIn: [2]uint32{3, 0}, PortStatus: [2]uint32{7, 7}, FlowRemoved: [2]uint32{15, 0}}, "PACKET_IN: no_match action"},
		{"queuecfg", Version13, &QueueGetConfigRequest{Port: 1}, "OFPT_QUEUE_GET_CONFIG_REQUEST (OF1.3) (xid=0x7): port=1"},
		{"metermod", Version13, &MeterMod{Command: MeterAdd, Flags: 1, Meter: 1, Bands: []MeterBand{{BandType: 1, Rate: 1000, Extra: make([]byte, 4)}}}, "ADD meter=1 kbps bands=\ntype=drop rate=1000"},
		{"desc", Version13, &MultipartReply{MPType: MPDesc, Desc: SwitchDesc{Manufacturer: "tapestry", Hardware: "hw", Software: "sw", SerialNum: "1", Datapath: "br0"}}, "Manufacturer: tapestry"},
		{"desc10", Version10, &MultipartReply{MPType: MPDesc, Desc: SwitchDesc{Manufacturer: "tapestry"}}, "OFPST_DESC reply"},
		{"flowstats13", Version13, &MultipartReply{MPType: MPFlow, Flows: []FlowStats{{Table: 0, Priority: 5, Match: match, Duration: 2 * time.Second, Packets: 4, Bytes: 400, Actions: []Action{{Type: ActOutput, Port: 2}}}}}, "duration=2s, table=0, n_packets=4, n_bytes=400, priority=5,ip,in_port=3,nw_dst=10.0.0.0/8 actions=output:2"},
		{"flowstats10", Version10, &MultipartReply{MPType: MPFlow, Flows: []FlowStats{{Priority: 5, Match: match, Actions: []Action{{Type: ActOutput, Port: 2}}}}}, "priority=5,ip,in_port=3,nw_dst=10.0.0.0/8 actions=output:2"},
		{"flowreq13", Version13, &MultipartRequest{MPType: MPFlow, Flow: FlowStatsRequest{Table: TableAll, OutPort: PortAny, OutGroup: GroupAny, Match: match}}, "OFPST_FLOW request (OF1.3) (xid=0x7): ip,in_port=3,nw_dst=10.0.0.0/8"},
		{"aggregate", Version13, &MultipartReply{MPType: MPAggregate, Aggregate: AggregateStats{Packets: 1, Bytes: 2, Flows: 3}}, "packet_count=1 byte_count=2 flow_count=3"},
		{"aggregate10", Version10, &MultipartReply{MPType: MPAggregate, Aggregate: AggregateStats{Flows: 3}}, "flow_count=3"},
		{"tables13", Version13, &MultipartReply{MPType: MPTable, Tables: []TableStats{{Table: 0, ActiveCount: 4, LookupCount: 10, MatchedCount: 8}}}, "active=4, lookup=10, matched=8"},
		{"tables10", Version10, &MultipartReply{MPType: MPTable, Tables: []TableStats{{Table: 0, Name: "classifier", MaxEntries: 1000000, ActiveCount: 4}}}, "active=4"},
		{"ports13", Version13, &MultipartReply{MPType: MPPortStats, Ports: []PortStats{{No: 1, RxPackets: 5, TxBytes: 600}}}, "port  1: rx pkts=5"},
		{"ports10", Version10, &MultipartReply{MPType: MPPortStats, Ports: []PortStats{{No: PortLocal, RxPackets: 5}}}, "port LOCAL: rx pkts=5"},
		{"portdesc", Version13, &MultipartReply{MPType: MPPortDesc, PortDescs: []PortDesc{port}}, "1(tpg0): addr:02:00:00:00:00:01"},
		{"groupdesc", Version13, &MultipartReply{MPType: MPGroupDesc, GroupDescs: []Group{{GroupType: GroupTypeAll, ID: 1, Buckets: []Bucket{{WatchPort: PortAny, WatchGroup: GroupAny, Actions: []Action{{Type: ActOutput, Port: 2}}}}}}}, "group_id=1,type=all,bucket=actions=output:2"},
		{"groupfeat", Version13, &MultipartReply{MPType: MPGroupFeatures, GroupFeatures: GroupFeatures{Types: 0xf, MaxGroups: [4]uint32{1, 2, 3, 4}}}, "Group table:"},
		{"tablefeat", Version13, &MultipartReply{MPType: MPTableFeatures, TableFeatures: DefaultTableFeatures(2, 1000)}, "table 0 (\"table0\")"},
		{"portreq10", Version10, &MultipartRequest{MPType: MPPortStats, Port: PortAny}, "OFPST_PORT request (xid=0x7): port_no=ANY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.m.Append(nil, tc.v, 7)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			text := ovsPrint(t, b)
			if strings.Contains(text, "***") || strings.Contains(text, "WARN") {
				t.Fatalf("ovs-ofctl ofp-print %s complains:\n%s", hex.EncodeToString(b), text)
			}
			if !strings.Contains(text, tc.want) {
				t.Fatalf("ovs-ofctl ofp-print %s:\n%s\nwant it to contain %q", hex.EncodeToString(b), text, tc.want)
			}
			m2, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(Append()): %v", err)
			}
			b2, _ := m2.Append(nil, tc.v, 7)
			if !bytes.Equal(b, b2) {
				t.Fatalf("decode+encode changes bytes:\n%x\n%x", b, b2)
			}
		})
	}
}
