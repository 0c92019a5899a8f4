package ofproto

import (
	"fmt"
	"strings"

	"tapestry/flow"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// TraceRecirc is one recirculation of a traced packet after ct(table=N).
// As ovs-appctl ofproto/trace without --ct-next, the trace does not ask the
// connection table: the resumed packet is assumed new (ct_state=trk|new).
type TraceRecirc struct {
	ID      uint32 `json:"id"`
	Table   uint8  `json:"table"`
	CtState string `json:"ct_state"` // as the resume banner prints it, "trk|new"
	Trace   *Trace `json:"trace"`
}

// traceRecirc is a recirculation seen while translating a trace.
type traceRecirc struct {
	rc   *recircState
	zone uint16
	key  flow.Key // the packet when ct froze it
}

// ctExec records ct's nested exec actions (or "drop" for none) as
// ofproto/trace prints them under the ct line.
func (t *tracer) ctExec(exec []openflow.Action) {
	if t == nil || t.step == nil {
		return
	}
	if len(exec) == 0 {
		t.act = &TraceAction{Action: "drop"}
		t.step.Actions = append(t.step.Actions, t.act)
		return
	}
	for i := range exec {
		t.act = &TraceAction{Action: ofctl.FormatActions(exec[i:i+1], nil)}
		t.step.Actions = append(t.step.Actions, t.act)
	}
}

// traceRecircs traces the recirculations rs, depth levels deep.
func (b *Bridge) traceRecircs(rs []traceRecirc, depth int) []*TraceRecirc {
	if depth > maxRecircDepth {
		return nil
	}
	var out []*TraceRecirc
	for _, r := range rs {
		k := r.key
		r.rc.thaw(&k)
		k.CtState, k.CtZone, k.CtMark = flow.CtStateTracked|flow.CtStateNew, r.zone, 0
		head := recircFlowText(r.rc.id, &k)
		tr := &Trace{Bridge: b.name, Flow: head}
		t := &tracer{b: b, steps: &tr.Steps}
		e := b.translateAt(&k, r.rc.f.table, b.now().UnixNano(), false, t, nil)
		if *e.final == k {
			tr.FinalFlow = "unchanged"
		} else {
			tr.FinalFlow = recircFlowText(r.rc.id, e.final)
		}
		m := ofctl.FormatMatch(&flow.Match{Key: e.key, Mask: e.wc}, openflow.DefaultPriority, nil)
		tr.Megaflow = fmt.Sprintf("recirc_id=%#x,%s", r.rc.id, m)
		tr.DatapathActions = datapathActions(e.ops)
		if e.why != 0 {
			tr.Drop = dropNames[e.why]
		}
		tr.Recirc = b.traceRecircs(t.recircs, depth+1)
		out = append(out, &TraceRecirc{ID: r.rc.id, Table: r.rc.f.table, CtState: "trk|new", Trace: tr})
	}
	return out
}

// recircFlowText prints a recirculated packet as ofproto/trace's Flow
// line: recirc_id and the conntrack fields first, then the packet.
func recircFlowText(id uint32, k *flow.Key) string {
	s := fmt.Sprintf("recirc_id=%#x,", id)
	if k.CtState != 0 {
		s += "ct_state=" + ctStateText(k.CtState) + ","
	}
	if k.CtZone != 0 {
		s += fmt.Sprintf("ct_zone=%d,", k.CtZone)
	}
	if k.CtMark != 0 {
		s += fmt.Sprintf("ct_mark=%#x,", k.CtMark)
	}
	return s + "eth," + keyText(k)
}

// ctStateText prints ct_state as Open vSwitch's flow format does:
// flag names in bit order joined by '|'.
func ctStateText(s uint32) string {
	names := [...]string{"new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"}
	var parts []string
	for i, n := range names {
		if s&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "|")
}

// writeRecircs prints the recirculations after the trace they came from,
// as ofproto/trace does.
func writeRecircs(sb *strings.Builder, rs []*TraceRecirc) {
	bar := strings.Repeat("=", 79)
	for _, r := range rs {
		fmt.Fprintf(sb, "\n%s\nrecirc(%#x) - resume conntrack with default ct_state=%s (use --ct-next to customize)\n%s\n\n",
			bar, r.ID, r.CtState, bar)
		t := r.Trace
		fmt.Fprintf(sb, "Flow: %s\n\n", t.Flow)
		title := fmt.Sprintf("bridge(%q)", t.Bridge)
		sb.WriteString(title + "\n" + strings.Repeat("-", len(title)) + "\n")
		fmt.Fprintf(sb, "    thaw\n        Resuming from table %d\n", r.Table)
		printSteps(sb, t.Steps, 0)
		fmt.Fprintf(sb, "\nFinal flow: %s\nMegaflow: %s\nDatapath actions: %s\n", t.FinalFlow, t.Megaflow, t.DatapathActions)
		writeRecircs(sb, t.Recirc)
	}
}
