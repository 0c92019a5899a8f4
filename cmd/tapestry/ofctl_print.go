package main

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"tapestry/api"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// The printers in this file reproduce ovs-ofctl 3.1's output (ofp-print.c)
// byte for byte, including the header lines naming the reply and its xid.
// ovs-ofctl's xids depend on how many requests it sent before: a command
// with a flow argument first fetches the port names (features and port
// description), which is why a filtered dump-flows says xid=0x8 in OpenFlow
// 1.0 and xid=0x6 in 1.3. The xids printed here are those ovs-ofctl prints
// for the same command line.

// versionTag is the " (OF1.3)" ovs-ofctl puts after a message name for
// versions other than 1.0.
func versionTag(v uint8) string {
	if v == ofctl.OpenFlow13 {
		return " (OF1.3)"
	}
	return ""
}

// replyHeader is the first line of a flow or aggregate stats reply:
// "NXST_FLOW reply (xid=0x4):" in OpenFlow 1.0 (Nicira extension stats),
// "OFPST_FLOW reply (OF1.3) (xid=0x2):" in 1.3.
func replyHeader(kind string, v uint8, filtered bool) string {
	if v == ofctl.OpenFlow13 {
		xid := 2
		if filtered {
			xid = 6
		}
		return fmt.Sprintf("OFPST_%s reply (OF1.3) (xid=%#x):\n", kind, xid)
	}
	xid := 4
	if filtered {
		xid = 8
	}
	return fmt.Sprintf("NXST_%s reply (xid=%#x):\n", kind, xid)
}

// bitNames prints the names of the bits set in v, in order, or "0".
func bitNames(v uint32, names []string) string {
	var parts []string
	for i, n := range names {
		if v&(1<<i) != 0 && n != "" {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, " ")
}

// OFPPC_* names by bit (OpenFlow 1.0 numbering, which 1.3 keeps).
var portConfigNames = []string{"PORT_DOWN", "NO_STP", "NO_RECV", "NO_RECV_STP", "NO_FLOOD", "NO_FWD", "NO_PACKET_IN"}

// OFPPS_* names by bit, OpenFlow 1.3 (1.0 has only LINK_DOWN here; its
// STP states live in other bits).
var portStateNames13 = []string{"LINK_DOWN", "BLOCKED", "LIVE"}

// OFPPF_* names by bit, OpenFlow 1.3 numbering.
var portFeatureNames = []string{"10MB-HD", "10MB-FD", "100MB-HD", "100MB-FD", "1GB-HD", "1GB-FD", "10GB-FD",
	"40GB-FD", "100GB-FD", "1TB-FD", "OTHER", "COPPER", "FIBER", "AUTO_NEG", "AUTO_PAUSE", "AUTO_PAUSE_ASYM"}

// portLabel prints a port number as ovs-ofctl does: reserved ports by name.
func portLabel(no uint32) string {
	switch no {
	case openflow.PortLocal:
		return "LOCAL"
	case openflow.PortController:
		return "CONTROLLER"
	case openflow.PortNormal:
		return "NORMAL"
	case openflow.PortFlood:
		return "FLOOD"
	case openflow.PortAll:
		return "ALL"
	case openflow.PortInPort:
		return "IN_PORT"
	case openflow.PortTable:
		return "TABLE"
	case openflow.PortAny:
		return "ANY"
	}
	return fmt.Sprint(no)
}

// formatPortDesc prints one port as in show and dump-ports-desc.
func formatPortDesc(sb *strings.Builder, p *openflow.PortDesc, v uint8) {
	fmt.Fprintf(sb, " %s(%s): addr:%s\n", portLabel(p.No), p.Name, net.HardwareAddr(p.HWAddr[:]))
	config := uint32(p.Config)
	if v == ofctl.OpenFlow13 {
		// OpenFlow 1.3 dropped the STP and flood bits (§7.2.1).
		config &^= 1<<1 | 1<<3 | uint32(openflow.PortNoFlood)
	}
	fmt.Fprintf(sb, "     config:     %s\n", bitNames(config, portConfigNames))
	state := uint32(p.State)
	if v != ofctl.OpenFlow13 {
		state &= uint32(openflow.PortLinkDown)
	}
	fmt.Fprintf(sb, "     state:      %s\n", bitNames(state, portStateNames13))
	for _, f := range []struct {
		label string
		v     uint32
	}{{"current:    ", p.Curr}, {"advertised: ", p.Advertised}, {"supported:  ", p.Supported}, {"peer:       ", p.Peer}} {
		if f.v != 0 {
			fmt.Fprintf(sb, "     %s%s\n", f.label, bitNames(f.v, portFeatureNames))
		}
	}
	fmt.Fprintf(sb, "     speed: %d Mbps now, %d Mbps max\n", p.CurrSpeed/1000, p.MaxSpeed/1000)
}

// sortedPorts orders ports by number; LOCAL (0xfffffffe) comes last.
func sortedPorts(ps []openflow.PortDesc) []openflow.PortDesc {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b openflow.PortDesc) int { return int(int64(a.No) - int64(b.No)) })
	return ps
}

// OpenFlow 1.0 action bits in the order ovs-ofctl show prints them.
var actionBitNames = []struct {
	bit  uint
	name string
}{{0, "output"}, {11, "enqueue"}, {1, "set_vlan_vid"}, {2, "set_vlan_pcp"}, {3, "strip_vlan"}, {4, "mod_dl_src"},
	{5, "mod_dl_dst"}, {6, "mod_nw_src"}, {7, "mod_nw_dst"}, {8, "mod_nw_tos"}, {9, "mod_tp_src"}, {10, "mod_tp_dst"}}

// OFPC_* capability names, OpenFlow 1.0 numbering.
var capabilityNames10 = []string{"FLOW_STATS", "TABLE_STATS", "PORT_STATS", "STP", "", "IP_REASM", "QUEUE_STATS", "ARP_MATCH_IP"}

// formatShow prints ovs-ofctl show: the features reply with the ports
// (1.0) or followed by a port description reply (1.3), then the switch
// config.
func formatShow(f api.Features, v uint8) string {
	var sb strings.Builder
	tag := versionTag(v)
	fmt.Fprintf(&sb, "OFPT_FEATURES_REPLY%s (xid=0x2): dpid:%016x\n", tag, f.DatapathID)
	fmt.Fprintf(&sb, "n_tables:%d, n_buffers:%d\n", f.NTables, f.NBuffers)
	if v == ofctl.OpenFlow13 {
		// OpenFlow 1.3 moved bit 3 to GROUP_STATS and dropped
		// ARP_MATCH_IP; OVS reports group stats.
		caps := f.Capabilities&^(1<<7) | 1<<3
		fmt.Fprintf(&sb, "capabilities: %s\n", bitNames(caps, []string{"FLOW_STATS", "TABLE_STATS", "PORT_STATS", "GROUP_STATS", "", "IP_REASM", "QUEUE_STATS"}))
		fmt.Fprintf(&sb, "OFPST_PORT_DESC reply%s (xid=0x3):\n", tag)
	} else {
		fmt.Fprintf(&sb, "capabilities: %s\n", bitNames(f.Capabilities, capabilityNames10))
		var acts []string
		for _, a := range actionBitNames {
			if f.Actions&(1<<a.bit) != 0 {
				acts = append(acts, a.name)
			}
		}
		fmt.Fprintf(&sb, "actions: %s\n", strings.Join(acts, " "))
	}
	for _, p := range sortedPorts(f.Ports) {
		formatPortDesc(&sb, &p, v)
	}
	xid := 4
	if v == ofctl.OpenFlow13 {
		xid = 5
	}
	fmt.Fprintf(&sb, "OFPT_GET_CONFIG_REPLY%s (xid=%#x): frags=normal miss_send_len=0\n", tag, xid)
	return sb.String()
}

// formatPortDescReply prints dump-ports-desc.
func formatPortDescReply(ps []openflow.PortDesc, v uint8) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "OFPST_PORT_DESC reply%s (xid=0x2):\n", versionTag(v))
	for _, p := range sortedPorts(ps) {
		formatPortDesc(&sb, &p, v)
	}
	return sb.String()
}

// selectPortDesc keeps the port named (or numbered) p.
func selectPortDesc(ps []openflow.PortDesc, br, p string) ([]openflow.PortDesc, error) {
	for _, d := range ps {
		if d.Name == p || portLabel(d.No) == p || strings.EqualFold(p, "LOCAL") && d.No == openflow.PortLocal {
			return []openflow.PortDesc{d}, nil
		}
	}
	return nil, fmt.Errorf("%s: couldn't find port `%s'", br, p)
}

// formatPortStats prints dump-ports: LOCAL first, then by number, as the
// reply from Open vSwitch usually comes. A port named by name costs
// ovs-ofctl one more request (xid 0x4).
func formatPortStats(ps []openflow.PortStats, v uint8, byName bool) string {
	ps = slices.Clone(ps)
	sortPortStats(ps)
	return formatPortStatsAsSent(ps, v, byName)
}

// sortPortStats puts LOCAL first, then the ports by number.
func sortPortStats(ps []openflow.PortStats) {
	slices.SortFunc(ps, func(a, b openflow.PortStats) int {
		ka, kb := int64(a.No), int64(b.No)
		if a.No == openflow.PortLocal {
			ka = -1
		}
		if b.No == openflow.PortLocal {
			kb = -1
		}
		return int(ka - kb)
	})
}

// formatPortStatsAsSent prints port stats in the order given, as
// ovs-ofctl prints a reply.
func formatPortStatsAsSent(ps []openflow.PortStats, v uint8, byName bool) string {
	var sb strings.Builder
	xid := 2
	if byName {
		xid = 4
	}
	fmt.Fprintf(&sb, "OFPST_PORT reply%s (xid=%#x): %d ports\n", versionTag(v), xid, len(ps))
	for _, s := range ps {
		label := portLabel(s.No)
		if s.No < 10 {
			label = " " + label // ovs-ofctl pads one-digit ports
		}
		fmt.Fprintf(&sb, "  port %s: rx pkts=%d, bytes=%d, drop=%d, errs=%d, frame=%d, over=%d, crc=%d\n",
			label, s.RxPackets, s.RxBytes, s.RxDropped, s.RxErrors, s.RxFrameErr, s.RxOverErr, s.RxCRCErr)
		fmt.Fprintf(&sb, "           tx pkts=%d, bytes=%d, drop=%d, errs=%d, coll=%d\n",
			s.TxPackets, s.TxBytes, s.TxDropped, s.TxErrors, s.Collisions)
		if v == ofctl.OpenFlow13 {
			fmt.Fprintf(&sb, "           duration=%.3fs\n", s.Duration.Seconds())
		}
	}
	return sb.String()
}

// showTables is how many tables ovs-ofctl lists: 0-253 (OVS's table 254
// is internal and not reported).
const showTables = 254

// formatTableStats prints dump-tables. Runs of tables identical to the one
// before (same counters; every table has the same features) collapse into
// "tables A...B: ditto", as ovs-ofctl prints them.
func formatTableStats(ts []openflow.TableStats, v uint8) string {
	ts = slices.Clone(ts)
	for i := range ts {
		ts[i].Name = ""
	}
	return formatTableStatsAsSent(ts, v)
}

// formatTableStatsAsSent prints a table-stats reply; a table with a name
// shows it, as ovs-ofctl does (table 0 ("name"):).
func formatTableStatsAsSent(ts []openflow.TableStats, v uint8) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "OFPST_TABLE reply%s (xid=0x2):\n", versionTag(v))
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b openflow.TableStats) int { return int(a.Table) - int(b.Table) })
	if len(ts) > showTables {
		ts = ts[:showTables]
	}
	same := func(a, b *openflow.TableStats) bool {
		return a.ActiveCount == b.ActiveCount && a.LookupCount == b.LookupCount && a.MatchedCount == b.MatchedCount
	}
	for i := 0; i < len(ts); i++ {
		if i > 0 && same(&ts[i], &ts[i-1]) {
			j := i
			for j+1 < len(ts) && same(&ts[j+1], &ts[i]) {
				j++
			}
			if j == i {
				fmt.Fprintf(&sb, "\n  table %d: ditto\n", ts[i].Table)
			} else {
				fmt.Fprintf(&sb, "\n  tables %d...%d: ditto\n", ts[i].Table, ts[j].Table)
			}
			i = j
			continue
		}
		if i > 0 {
			sb.WriteString("\n")
		}
		t := &ts[i]
		if t.Name != "" {
			fmt.Fprintf(&sb, "  table %d (\"%s\"):\n", t.Table, t.Name)
		} else {
			fmt.Fprintf(&sb, "  table %d:\n", t.Table)
		}
		fmt.Fprintf(&sb, "    active=%d, lookup=%d, matched=%d\n", t.ActiveCount, t.LookupCount, t.MatchedCount)
		if v == ofctl.OpenFlow13 {
			continue
		}
		if i > 0 {
			sb.WriteString("    (same features)\n")
			continue
		}
		sb.WriteString("    max_entries=1000000\n")
		sb.WriteString("    matching:\n")
		sb.WriteString("      exact match or wildcard: in_port eth_{src,dst,type} vlan_{vid,pcp} ip_{src,dst} nw_{proto,tos} tcp_{src,dst}\n")
	}
	return sb.String()
}
