package ofproto

// Connection tracking in the bridge: the ct action (ovs-actions(7) "The
// ct action"), built as Open vSwitch's datapath does it.
//
//  1. Translation compiles ct(...) into one datapath op, opCT, holding the
//     zone (read from a register at translation time when zone=SRC names
//     one: the megaflow matches those bits), the commit flag, the ct_mark
//     that exec sets, and for ct(table=N) a recirculation state
//     (recirc.go): the table to resume in and the packet metadata
//     (registers, metadata, ...) frozen at that point.
//  2. The pipeline after ct continues with the packet untracked and the
//     ct_* fields cleared, as Open vSwitch's translation does: conntrack
//     state is per packet and cannot be known while translating.
//  3. Executing opCT runs the frame (as the ops before it left it) through
//     the bridge's conntrack.Table; commit confirms a new connection and
//     applies exec's ct_mark. With a recirculation state, a copy of the
//     frame, its key re-extracted with the frozen metadata and ct_state,
//     ct_zone and ct_mark set, is looked up in that state's own megaflow
//     cache (the recirc_id Open vSwitch matches, as one cache per id) and,
//     on a miss, translated from table N; its ops run at once. Then the
//     first pass's remaining ops run on the original frame (the fork of
//     ovs-actions(7): "the original instance of the packet will continue
//     processing the current actions list as an untracked packet").

import (
	"fmt"
	"strconv"
	"strings"

	"tapestry/conntrack"
	"tapestry/flow"
	"tapestry/openflow"
)

// ctOp is a compiled ct action.
type ctOp struct {
	zone     uint16
	commit   bool
	setMark  bool // exec sets ct_mark: mark under markMask
	mark     uint32
	markMask uint32
	rc       *recircState // nil: ct without table=
}

// maxRecircDepth bounds recirculations of one packet (Open vSwitch's
// MAX_RECIRC_DEPTH is 6).
const maxRecircDepth = 6

// conntrack returns the bridge's connection table, creating it on first
// use: a bridge without ct flows pays nothing for it.
func (b *Bridge) conntrack() *conntrack.Table {
	if t := b.ct.Load(); t != nil {
		return t
	}
	b.ctOnce.Do(func() { b.ct.Store(conntrack.New(0)) })
	return b.ct.Load()
}

// Conntrack returns the bridge's connection tracking table, nil until a
// ct action was first translated (for ovs-appctl dpctl/dump-conntrack-like
// reporting).
func (b *Bridge) Conntrack() *conntrack.Table { return b.ct.Load() }

// ct translates ct(...).
func (x *xlate) ct(a *openflow.Action) {
	c := a.CT()
	o := &ctOp{zone: c.Zone, commit: c.Commit}
	if c.ZoneSrc.Field != flow.FieldInvalid {
		o.zone = uint16(x.readSubfield(c.ZoneSrc))
	}
	for i := range c.Exec {
		v, m, ok := ctMarkSet(&c.Exec[i])
		if ok && c.Commit {
			o.setMark = true
			o.mark = o.mark&^m | v&m
			o.markMask |= m
		}
	}
	x.b.conntrack()
	x.tr.ctExec(c.Exec) // trace_ct.go
	if c.Table != openflow.CTRecircNone {
		o.rc = x.b.recirc.state(c.Table, &x.key, x.b.gen.Load())
		x.notef("A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table %d.", c.Table)
		if x.tr != nil {
			x.tr.recircs = append(x.tr.recircs, traceRecirc{rc: o.rc, zone: o.zone, key: x.key})
		}
	}
	x.ops = append(x.ops, op{kind: opCT, ct: o})
	x.note("Sets the packet to an untracked state, and clears all the conntrack fields.")
	x.key.CtState, x.key.CtZone, x.key.CtMark = 0, 0, 0
}

// validateCT checks a ct action as a flow mod arrives: a 16-bit zone
// field that may be read, exec only with commit and only setting ct_mark.
func validateCT(a *openflow.Action) error {
	c := a.CT()
	if c.ZoneSrc.Field != flow.FieldInvalid {
		if err := validateSubfield(c.ZoneSrc, false); err != nil {
			return err
		}
		if c.ZoneSrc.NBits != 16 {
			return fmt.Errorf("%w: ct zone of %d bits, want 16", ErrBadArgument, c.ZoneSrc.NBits)
		}
	}
	if c.Force && !c.Commit || len(c.Exec) > 0 && !c.Commit {
		return fmt.Errorf("%w: ct force or exec without commit", ErrBadArgument)
	}
	for i := range c.Exec {
		if _, ok := openflow.CTExecField(&c.Exec[i]); !ok {
			return fmt.Errorf("%w: ct exec may only set ct_mark", ErrBadArgument)
		}
	}
	return nil
}

// ctMarkSet returns the value and mask an exec action writes to ct_mark.
func ctMarkSet(a *openflow.Action) (v, m uint32, ok bool) {
	if f, ok := openflow.CTExecField(a); !ok || f != flow.FieldCtMark {
		return 0, 0, false
	}
	switch a.Type {
	case openflow.ActSetField:
		m = ^uint32(0)
		if !a.Mask.IsZero() {
			m = uint32(a.Mask.Uint64())
		}
		return uint32(a.Value.Uint64()) & m, m, true
	case openflow.ActLoad:
		n := a.Dst.NBits
		m = uint32((uint64(1)<<n - 1) << a.Dst.Ofs)
		return uint32(a.Value.Uint64()<<a.Dst.Ofs) & m, m, true
	}
	return 0, 0, false
}

// ctState maps conntrack's classification onto ct_state bits as Open
// vSwitch's kernel datapath does (ovs_ct_get_state): a packet without a
// connection (malformed, out of window, table full) is invalid.
func ctState(info conntrack.Info) uint32 {
	s := uint32(flow.CtStateTracked)
	switch info {
	case conntrack.InfoNew:
		s |= flow.CtStateNew
	case conntrack.InfoEstablished:
		s |= flow.CtStateEstablished
	case conntrack.InfoEstablishedReply:
		s |= flow.CtStateEstablished | flow.CtStateReply
	case conntrack.InfoRelated:
		s |= flow.CtStateRelated
	case conntrack.InfoRelatedReply:
		s |= flow.CtStateRelated | flow.CtStateReply
	default:
		s |= flow.CtStateInvalid
	}
	return s
}

// conntrack executes opCT on frame, then recirculates a copy when o asks.
func (pr *proc) conntrack(o *ctOp, frame []byte) {
	k := &pr.ctKey
	*k = flow.Key{}
	off := flow.Extract(frame, pr.inNo, k)
	var l4 []byte
	if off.HasL4() {
		l4 = frame[off.L4:]
	}
	t := pr.b.ct.Load()
	conn, info := t.Track(k, l4, o.zone, pr.now)
	var mark uint32
	if conn != nil {
		if o.commit && info != conntrack.InfoInvalid && !t.Confirm(conn, pr.now) {
			info = conntrack.InfoInvalid
		}
		if o.commit && o.setMark {
			conn.SetMark(conn.Mark()&^o.markMask | o.mark)
		}
		mark = conn.Mark()
	}
	if o.rc == nil {
		return
	}
	if pr.recircDepth >= maxRecircDepth {
		pr.b.drops[dropRecursion].Add(1)
		return
	}
	o.rc.thaw(k)
	k.CtState, k.CtZone, k.CtMark = ctState(info), o.zone, mark
	pr.recirculate(o.rc, frame, off)
}

// ctText prints opCT as Open vSwitch prints its datapath actions:
// ct(commit,zone=N,mark=V/M) and recirc(ID).
func ctText(o *ctOp) string {
	var args []string
	if o.commit {
		args = append(args, "commit")
	}
	if o.zone != 0 {
		args = append(args, "zone="+strconv.Itoa(int(o.zone)))
	}
	if o.setMark {
		args = append(args, "mark=0x"+strconv.FormatUint(uint64(o.mark), 16)+"/0x"+strconv.FormatUint(uint64(o.markMask), 16))
	}
	s := "ct"
	if len(args) > 0 {
		s += "(" + strings.Join(args, ",") + ")"
	}
	if o.rc != nil {
		s += ",recirc(0x" + strconv.FormatUint(uint64(o.rc.id), 16) + ")"
	}
	return s
}
