package ofproto

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"tapestry/flow"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// Trace is what ovs-appctl ofproto/trace reports: every table a packet
// visited, the flow it matched and the actions taken (resubmits nested), the
// megaflow a real packet would install, and the datapath actions.
type Trace struct {
	Bridge          string       `json:"bridge"`
	Flow            string       `json:"flow"`
	Steps           []*TraceStep `json:"steps"`
	FinalFlow       string       `json:"final_flow"` // "unchanged" or the changed flow
	Megaflow        string       `json:"megaflow"`
	DatapathActions string       `json:"datapath_actions"`
	// Drop says why the packet went nowhere ("table-miss", ...), if it did.
	Drop string `json:"drop,omitempty"`
	// Recirc are the passes after ct(table=N) (trace_ct.go).
	Recirc []*TraceRecirc `json:"recirc,omitempty"`
}

// TraceStep is one table lookup.
type TraceStep struct {
	Table     uint8  `json:"table"`
	Match     string `json:"match,omitempty"`
	Priority  uint16 `json:"priority"`
	Cookie    uint64 `json:"cookie,omitempty"`
	Miss      bool   `json:"miss,omitempty"`
	ActionSet bool   `json:"action_set,omitempty"` // the OpenFlow 1.3 action set, run at the end
	// Bucket is set for a group bucket executed by the group action this
	// step is nested under; Actions are then the bucket's.
	Bucket  *TraceBucket   `json:"bucket,omitempty"`
	Actions []*TraceAction `json:"actions,omitempty"`
}

// TraceBucket names a group bucket that executed.
type TraceBucket struct {
	Group  uint32 `json:"group"`
	Bucket int    `json:"bucket"`
}

// TraceAction is one action of a matched flow, with what it did.
type TraceAction struct {
	Action string       `json:"action"`
	Notes  []string     `json:"notes,omitempty"`
	Steps  []*TraceStep `json:"steps,omitempty"` // tables visited by resubmit or goto_table
}

// tracer records a translation into a Trace. A nil *tracer records nothing,
// so the fast path's translations pay one branch per event.
type tracer struct {
	b      *Bridge
	steps  *[]*TraceStep // where the next lookup is recorded
	step   *TraceStep
	act    *TraceAction
	saved  []tracerFrame
	orphan []string // notes before any step
	// recircs are the translation's ct(table=N) recirculations.
	recircs []traceRecirc
}

type tracerFrame struct {
	steps *[]*TraceStep
	step  *TraceStep
	act   *TraceAction
}

func (t *tracer) add(s *TraceStep) {
	*t.steps = append(*t.steps, s)
	t.step, t.act = s, nil
}

func (t *tracer) flow(id uint8, f *Flow) {
	if t == nil {
		return
	}
	m := f.rule.Match()
	t.add(&TraceStep{Table: id, Match: matchText(&m, nil), Priority: f.rule.Priority, Cookie: f.cookie})
}

func (t *tracer) miss(id uint8) {
	if t == nil {
		return
	}
	t.add(&TraceStep{Table: id, Miss: true, Actions: []*TraceAction{{Action: "drop"}}})
}

func (t *tracer) action(a *openflow.Action, _ bool) {
	if t == nil || t.step == nil {
		return
	}
	t.act = &TraceAction{Action: ofctl.FormatActions([]openflow.Action{*a}, nil)}
	t.step.Actions = append(t.step.Actions, t.act)
}

// gotoTable makes the following lookups children of the goto_table action,
// which is always the last of its flow's, so they print at the same level.
func (t *tracer) gotoTable() {
	if t == nil || t.act == nil {
		return
	}
	t.steps = &t.act.Steps
}

func (t *tracer) enter() {
	if t == nil {
		return
	}
	t.saved = append(t.saved, tracerFrame{t.steps, t.step, t.act})
	if t.act != nil {
		t.steps = &t.act.Steps
	}
}

func (t *tracer) leave() {
	if t == nil {
		return
	}
	f := t.saved[len(t.saved)-1]
	t.saved = t.saved[:len(t.saved)-1]
	t.steps, t.step, t.act = f.steps, f.step, f.act
}

// bucket records the start of bucket i of group id; call it between enter
// and leave, after the group action.
func (t *tracer) bucket(id uint32, i int) {
	if t == nil {
		return
	}
	t.add(&TraceStep{Bucket: &TraceBucket{Group: id, Bucket: i}})
}

func (t *tracer) actionSet() {
	if t == nil {
		return
	}
	t.add(&TraceStep{ActionSet: true})
}

// note records a detail ("-> ...") or, when s starts with "!", a warning
// (">> ..."), as Open vSwitch marks them.
func (t *tracer) note(s string) {
	if t == nil {
		return
	}
	if strings.HasPrefix(s, "!") {
		s = ">> " + s[1:]
	} else {
		s = "-> " + s
	}
	switch {
	case t.act != nil:
		t.act.Notes = append(t.act.Notes, s)
	case t.step != nil:
		t.step.Actions = append(t.step.Actions, &TraceAction{Notes: []string{s}})
	default:
		t.orphan = append(t.orphan, s)
	}
}

// matchText prints a flow's match without its priority.
func matchText(m *flow.Match, names ofctl.PortNamer) string {
	return ofctl.FormatMatch(m, openflow.DefaultPriority, names)
}

// Trace runs k through the pipeline without forwarding it, learning or
// counting, and reports what happened, as ovs-appctl ofproto/trace does.
func (b *Bridge) Trace(k flow.Key) *Trace {
	tr := &Trace{Bridge: b.name, Flow: keyText(&k)}
	t := &tracer{b: b, steps: &tr.Steps}
	e := b.translate(&k, b.now().UnixNano(), false, t)
	if *e.final == k {
		tr.FinalFlow = "unchanged"
	} else {
		tr.FinalFlow = keyText(e.final)
	}
	tr.Megaflow = ofctl.FormatMatch(&flow.Match{Key: e.key, Mask: e.wc}, openflow.DefaultPriority, nil)
	tr.DatapathActions = datapathActions(e.ops)
	if e.why != 0 {
		tr.Drop = dropNames[e.why]
	}
	tr.Recirc = b.traceRecircs(t.recircs, 1) // trace_ct.go
	return tr
}

// TracePacket traces a frame received on inPort.
func (b *Bridge) TracePacket(frame []byte, inPort uint32) *Trace {
	var k flow.Key
	flow.Extract(frame, inPort, &k)
	return b.Trace(k)
}

// keyText prints a packet's key as ofproto/trace's "Flow:" line: the
// protocol, then every field the packet's headers carry, in Open vSwitch's
// order.
func keyText(k *flow.Key) string {
	var parts []string
	add := func(f string, a ...any) { parts = append(parts, fmt.Sprintf(f, a...)) }
	proto := protoName(k)
	if proto != "" {
		parts = append(parts, proto)
	}
	for r := 0; r < flow.NumRegs; r++ {
		if k.Regs[r] != 0 {
			add("reg%d=%#x", r, k.Regs[r])
		}
	}
	if k.Metadata != 0 {
		add("metadata=%#x", k.Metadata)
	}
	add("in_port=%s", portText(k.InPort))
	if k.Tagged() {
		add("dl_vlan=%d,dl_vlan_pcp=%d,vlan_tci1=0x0000", k.VlanVID(), k.VlanTCI>>flow.VlanPCPShift)
	} else {
		add("vlan_tci=0x0000")
	}
	add("dl_src=%s,dl_dst=%s", macString(k.DlSrc), macString(k.DlDst))
	switch k.DlType {
	case flow.EthTypeIPv4, flow.EthTypeIPv6:
		if k.DlType == flow.EthTypeIPv4 {
			add("nw_src=%s,nw_dst=%s", k.Src(), k.Dst())
		} else {
			add("ipv6_src=%s,ipv6_dst=%s,ipv6_label=0x%05x", netip.AddrFrom16(k.IPv6Src), netip.AddrFrom16(k.IPv6Dst), k.IPv6Label)
		}
		if proto == "ip" || proto == "ipv6" {
			add("nw_proto=%d", k.NwProto)
		}
		add("nw_tos=%d,nw_ecn=%d,nw_ttl=%d,nw_frag=%s", k.NwTos&0xfc, k.NwTos&3, k.NwTTL, fragText(k.NwFrag))
		if k.NwFrag&flow.FragLater != 0 {
			break
		}
		switch k.NwProto {
		case flow.ProtoTCP:
			add("tp_src=%d,tp_dst=%d,tcp_flags=%s", k.TpSrc, k.TpDst, tcpFlagsText(k.TCPFlags))
		case flow.ProtoUDP, flow.ProtoSCTP:
			add("tp_src=%d,tp_dst=%d", k.TpSrc, k.TpDst)
		case flow.ProtoICMP:
			add("icmp_type=%d,icmp_code=%d", k.TpSrc, k.TpDst)
		case flow.ProtoICMPv6:
			add("icmp_type=%d,icmp_code=%d", k.TpSrc, k.TpDst)
		}
	case flow.EthTypeARP, 0x8035:
		add("arp_spa=%s,arp_tpa=%s,arp_op=%d,arp_sha=%s,arp_tha=%s", k.Src(), k.Dst(), k.NwProto, macString(k.ArpSha), macString(k.ArpTha))
	default:
		add("dl_type=0x%04x", k.DlType)
	}
	return strings.Join(parts, ",")
}

// protoName is the shorthand Open vSwitch prints first in a flow.
func protoName(k *flow.Key) string {
	switch k.DlType {
	case flow.EthTypeIPv4:
		switch k.NwProto {
		case flow.ProtoICMP:
			return "icmp"
		case flow.ProtoTCP:
			return "tcp"
		case flow.ProtoUDP:
			return "udp"
		case flow.ProtoSCTP:
			return "sctp"
		}
		return "ip"
	case flow.EthTypeIPv6:
		switch k.NwProto {
		case flow.ProtoICMPv6:
			return "icmp6"
		case flow.ProtoTCP:
			return "tcp6"
		case flow.ProtoUDP:
			return "udp6"
		case flow.ProtoSCTP:
			return "sctp6"
		}
		return "ipv6"
	case flow.EthTypeARP:
		return "arp"
	case 0x8035:
		return "rarp"
	}
	return ""
}

func portText(no uint32) string {
	switch no {
	case openflow.PortLocal:
		return "LOCAL"
	case openflow.PortController:
		return "CONTROLLER"
	}
	return strconv.FormatUint(uint64(no), 10)
}

func fragText(f uint8) string {
	switch {
	case f&flow.FragLater != 0:
		return "later"
	case f&flow.FragAny != 0:
		return "first"
	}
	return "no"
}

func tcpFlagsText(f uint16) string {
	if f == 0 {
		return "0"
	}
	names := []string{"fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns"}
	var out []string
	for i, n := range names {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, "|")
}

// String prints the trace as ovs-appctl ofproto/trace does.
func (t *Trace) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Flow: %s\n\n", t.Flow)
	title := fmt.Sprintf("bridge(%q)", t.Bridge)
	sb.WriteString(title + "\n" + strings.Repeat("-", len(title)) + "\n")
	printSteps(&sb, t.Steps, 0)
	fmt.Fprintf(&sb, "\nFinal flow: %s\nMegaflow: %s\nDatapath actions: %s\n", t.FinalFlow, t.Megaflow, t.DatapathActions)
	writeRecircs(&sb, t.Recirc)
	return sb.String()
}

// printSteps prints lookups at a nesting level as Open vSwitch does: a
// table at level L is indented as its parent's actions are (8L-4 spaces),
// its actions by 8L+4. Tables reached by the last action of a list (a tail
// resubmit, goto_table) print at their parent's level.
func printSteps(sb *strings.Builder, steps []*TraceStep, level int) {
	tind, aind := "", strings.Repeat(" ", 8*level+4)
	if level > 0 {
		tind = strings.Repeat(" ", 8*level-4)
	}
	for _, s := range steps {
		switch {
		case s.ActionSet:
			fmt.Fprintf(sb, "%sAction set:\n", tind)
		case s.Bucket != nil:
			fmt.Fprintf(sb, "%sbucket %d\n", tind, s.Bucket.Bucket)
		case s.Miss:
			fmt.Fprintf(sb, "%s%2d. No match.\n", tind, s.Table)
		default:
			line := fmt.Sprintf("priority %d", s.Priority)
			if s.Match != "" {
				line = s.Match + ", " + line
			}
			if s.Cookie != 0 {
				line += fmt.Sprintf(", cookie %#x", s.Cookie)
			}
			fmt.Fprintf(sb, "%s%2d. %s\n", tind, s.Table, line)
		}
		for i, a := range s.Actions {
			if a.Action != "" {
				fmt.Fprintf(sb, "%s%s\n", aind, a.Action)
			}
			for _, n := range a.Notes {
				fmt.Fprintf(sb, "%s %s\n", aind, n)
			}
			if i == len(s.Actions)-1 && (len(a.Steps) == 0 || a.Steps[0].Bucket == nil) {
				// Buckets always nest under their group action.
				printSteps(sb, a.Steps, level)
			} else {
				printSteps(sb, a.Steps, level+1)
			}
		}
	}
}

// datapathActions prints ops as Open vSwitch prints datapath actions.
func datapathActions(ops []op) string {
	var parts []string
	for i := range ops {
		switch ops[i].kind {
		case opSave:
			// A bucket run on a copy of the packet, as OVS prints a
			// clone: clone(set(...),2).
			parts = append(parts, "clone(")
		case opRestore:
			if n := len(parts); n > 0 && parts[n-1] == "clone(" {
				parts[n-1] = "clone()"
			} else {
				parts = append(parts, ")")
			}
		default:
			if s := opText(&ops[i]); s != "" {
				parts = append(parts, s)
			}
		}
	}
	hasOut := false
	for i := range ops {
		if ops[i].kind == opOutput || ops[i].kind == opController || ops[i].kind == opCT {
			hasOut = true
		}
	}
	if !hasOut {
		return "drop"
	}
	s := strings.Join(parts, ",")
	return strings.NewReplacer("clone(,", "clone(", ",)", ")").Replace(s)
}

func opText(o *op) string {
	ip4 := func() string { return netip.AddrFrom4([4]byte(o.addr[:4])).String() }
	mac := func() string { return macString([6]byte(o.addr[:6])) }
	ipv := "ipv4"
	if o.v6 {
		ipv = "ipv6"
	}
	switch o.kind {
	case opCT:
		return ctText(o.ct) // ct.go
	case opOutput:
		// tapestry has no separate datapath port numbers: ports print by
		// their OpenFlow number, and the bridge's own port by its name
		// rather than as 4294967294.
		if o.port.no == openflow.PortLocal {
			return "LOCAL"
		}
		return strconv.FormatUint(uint64(o.port.no), 10)
	case opController:
		return fmt.Sprintf("userspace(controller(reason=%d,rule_cookie=%#x,controller_id=%d,max_len=%d))",
			o.pin.Reason, o.pin.Cookie, o.pin.ID, o.pin.MaxLen)
	case opSetEthSrc:
		return "set(eth(src=" + mac() + "))"
	case opSetEthDst:
		return "set(eth(dst=" + mac() + "))"
	case opPushVLAN:
		tp := ""
		if o.u32 != flow.EthTypeVLAN {
			tp = fmt.Sprintf("tpid=0x%04x,", o.u32)
		}
		return fmt.Sprintf("push_vlan(%svid=%d,pcp=%d)", tp, o.u16&flow.VlanVIDMask, o.u16>>flow.VlanPCPShift)
	case opPopVLAN:
		return "pop_vlan"
	case opSetVLAN:
		return fmt.Sprintf("pop_vlan,push_vlan(vid=%d,pcp=%d)", o.u16&flow.VlanVIDMask, o.u16>>flow.VlanPCPShift)
	case opSetIPv4Src:
		return "set(ipv4(src=" + ip4() + "))"
	case opSetIPv4Dst:
		return "set(ipv4(dst=" + ip4() + "))"
	case opSetTOS:
		return fmt.Sprintf("set(%s(tos=%#x/0xfc))", ipv, o.u8)
	case opSetECN:
		return fmt.Sprintf("set(%s(tos=%#x/0x3))", ipv, o.u8)
	case opSetTTL:
		if o.v6 {
			return fmt.Sprintf("set(ipv6(hlimit=%d))", o.u8)
		}
		return fmt.Sprintf("set(ipv4(ttl=%d))", o.u8)
	case opSetL4Src, opSetL4Dst:
		return l4Text(o)
	case opSetARPOp:
		return fmt.Sprintf("set(arp(op=%d))", o.u16)
	case opSetARPSha:
		return "set(arp(sha=" + mac() + "))"
	case opSetARPSpa:
		return "set(arp(sip=" + ip4() + "))"
	case opSetARPTha:
		return "set(arp(tha=" + mac() + "))"
	case opSetARPTpa:
		return "set(arp(tip=" + ip4() + "))"
	case opSetIPv6Src:
		return "set(ipv6(src=" + netip.AddrFrom16(o.addr).String() + "))"
	case opSetIPv6Dst:
		return "set(ipv6(dst=" + netip.AddrFrom16(o.addr).String() + "))"
	case opSetIPv6Label:
		return fmt.Sprintf("set(ipv6(label=%#x))", o.u32)
	}
	return ""
}

func l4Text(o *op) string {
	proto := map[uint8]string{flow.ProtoTCP: "tcp", flow.ProtoUDP: "udp", flow.ProtoSCTP: "sctp",
		flow.ProtoICMP: "icmp", flow.ProtoICMPv6: "icmpv6"}[o.u8]
	field := "src"
	if o.kind == opSetL4Dst {
		field = "dst"
	}
	if o.u8 == flow.ProtoICMP || o.u8 == flow.ProtoICMPv6 {
		field = map[string]string{"src": "type", "dst": "code"}[field]
	}
	return fmt.Sprintf("set(%s(%s=%d))", proto, field, o.u16)
}
