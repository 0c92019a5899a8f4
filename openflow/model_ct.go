package openflow

import "tapestry/flow"

// ActCT is Open vSwitch's connection tracking action, ct(...)
// (ovs-actions(7) "The ct action"); build and read it with CT, never
// through Action's raw fields. It sits next to model_nx.go's range.
const ActCT ActionType = 230

// CT flag bits (NX_CT_F_*), the values on the wire.
const (
	CTCommit uint8 = 1 << 0 // commit the connection to the table
	CTForce  uint8 = 1 << 1 // commit: first delete an entry of the other direction
)

// CTRecircNone is the table of a ct action that does not recirculate
// (NX_CT_RECIRC_NONE): the pipeline continues after it.
const CTRecircNone uint8 = 0xff

// CT is ct([commit][,force][,table=N][,zone=N|zone=SRC[..]][,alg=P][,exec(...)]):
// send the packet through the connection tracker of zone Zone (or of the
// zone read from ZoneSrc when that names a field), commit it if Commit,
// and, when Table is not CTRecircNone, continue the pipeline in Table with
// the ct_* fields set. Exec holds the actions run on the connection when
// committing: set_field or load to ct_mark.
type CT struct {
	Commit  bool
	Force   bool
	Zone    uint16
	ZoneSrc flow.Subfield // a 16-bit range of a field; the zero value means Zone
	Table   uint8
	Alg     uint16 // application layer gateway port (21 ftp, 69 tftp), 0 none
	Exec    []Action
}

// Action packs c: Reason=flags, ID=Zone, Src=ZoneSrc, Table=Table,
// MaxLen=Alg, Nested=Exec (nil when empty, so that equal actions compare
// equal).
func (c CT) Action() Action {
	a := Action{Type: ActCT, ID: c.Zone, Src: c.ZoneSrc, Table: c.Table, MaxLen: c.Alg}
	if c.Commit {
		a.Reason |= CTCommit
	}
	if c.Force {
		a.Reason |= CTForce
	}
	if len(c.Exec) > 0 {
		a.Nested = c.Exec
	}
	return a
}

// CT unpacks an ActCT action.
func (a *Action) CT() CT {
	return CT{Commit: a.Reason&CTCommit != 0, Force: a.Reason&CTForce != 0, Zone: a.ID, ZoneSrc: a.Src,
		Table: a.Table, Alg: a.MaxLen, Exec: a.Nested}
}

// CTExecField returns the field an exec action of ct writes and whether
// it is one ct allows (ovs-actions(7): only ct_mark and ct_label may be
// set inside ct; tapestry has no ct_label).
func CTExecField(a *Action) (flow.Field, bool) {
	switch a.Type {
	case ActSetField, ActLoad:
		return a.Dst.Field, a.Dst.Field == flow.FieldCtMark
	}
	return flow.FieldInvalid, false
}
