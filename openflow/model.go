// Package openflow holds OpenFlow's typed model (flow mods, actions, ports,
// flow statistics) and the wire codec for OpenFlow 1.0 and 1.3.
//
// The model is version independent: ports are 32-bit as in OpenFlow 1.3, and
// instructions are actions in the same ordered list, as Open vSwitch's ofpacts
// are. The flow-text syntax (package ofctl), the wire codec and the bridge all
// speak this model.
package openflow

import (
	"time"

	"tapestry/flow"
)

// Reserved port numbers (OpenFlow 1.3 §7.2.1, enum ofp_port_no). OpenFlow 1.0
// uses the same values truncated to 16 bits (0xfff8...).
const (
	PortMax        uint32 = 0xffffff00
	PortInPort     uint32 = 0xfffffff8
	PortTable      uint32 = 0xfffffff9
	PortNormal     uint32 = 0xfffffffa
	PortFlood      uint32 = 0xfffffffb
	PortAll        uint32 = 0xfffffffc
	PortController uint32 = 0xfffffffd
	PortLocal      uint32 = 0xfffffffe
	PortAny        uint32 = 0xffffffff // also OFPP_NONE in OpenFlow 1.0
)

// Special group and table numbers.
const (
	GroupAll         uint32 = 0xfffffffc
	GroupAny         uint32 = 0xffffffff
	TableAll         uint8  = 0xff
	TableMax         uint8  = 254
	NoBuffer         uint32 = 0xffffffff
	DefaultPriority         = 32768  // priority of a flow that does not name one
	ControllerMaxLen        = 0xffff // OFPCML_NO_BUFFER
)

// ActionType names an action or an instruction.
type ActionType uint8

// Actions, in the vocabulary of ovs-actions(7). Instructions (goto_table,
// write_metadata, clear_actions, write_actions, meter) are actions too.
const (
	ActOutput        ActionType = iota + 1 // Port; MaxLen when Port is PortController
	ActController                          // controller(reason=,max_len=,id=): MaxLen, Reason, ID
	ActEnqueue                             // enqueue:port:queue: Port, Queue
	ActSetQueue                            // set_queue:Queue
	ActGroup                               // group:Group
	ActModDlSrc                            // mod_dl_src:MAC (Value)
	ActModDlDst                            // mod_dl_dst:MAC
	ActModNwSrc                            // mod_nw_src:IP
	ActModNwDst                            // mod_nw_dst:IP
	ActModNwTos                            // mod_nw_tos:TOS (DSCP bits of the TOS byte)
	ActModNwECN                            // mod_nw_ecn:ECN
	ActModTpSrc                            // mod_tp_src:PORT
	ActModTpDst                            // mod_tp_dst:PORT
	ActModVlanVID                          // mod_vlan_vid:VID
	ActModVlanPCP                          // mod_vlan_pcp:PCP
	ActStripVlan                           // strip_vlan (OpenFlow 1.0)
	ActPushVlan                            // push_vlan:ETHERTYPE (EtherType)
	ActPopVlan                             // pop_vlan
	ActPushMPLS                            // push_mpls:ETHERTYPE
	ActPopMPLS                             // pop_mpls:ETHERTYPE
	ActSetField                            // set_field:Value/Mask->Dst.Field
	ActLoad                                // load:Value->Dst (a subfield)
	ActMove                                // move:Src->Dst
	ActDecTTL                              // dec_ttl
	ActSetTTL                              // mod_nw_ttl:TTL
	ActDecMPLSTTL                          // dec_mpls_ttl
	ActSetMPLSTTL                          // set_mpls_ttl:TTL
	ActResubmit                            // resubmit([Port],[Table]); Port PortInPort for in_port, Table TableAll for "same"
	ActNote                                // note:hex bytes
	ActGotoTable                           // instruction goto_table:Table
	ActWriteMetadata                       // instruction write_metadata:Value/Mask
	ActClearActions                        // instruction clear_actions
	ActWriteActions                        // instruction write_actions(Nested)
	ActMeter                               // instruction meter:ID
)

// Action is one action or instruction. Only the fields its Type documents are
// meaningful; the rest stay zero so that equal actions compare equal.
type Action struct {
	Type      ActionType
	Port      uint32
	MaxLen    uint16
	Queue     uint32
	Group     uint32
	Table     uint8
	Reason    uint8 // packet-in reason for controller()
	ID        uint16
	EtherType uint16
	TTL       uint8
	Value     flow.Value // set_field/load/mod_* value, write_metadata value
	Mask      flow.Value // set_field and write_metadata mask; zero means exact
	Dst       flow.Subfield
	Src       flow.Subfield
	Note      []byte
	Nested    []Action // write_actions
}

// FlowModCommand is the OpenFlow flow-mod command (OpenFlow 1.3 §7.3.4.1).
type FlowModCommand uint8

// Flow-mod commands; values are the wire values.
const (
	FlowAdd          FlowModCommand = 0
	FlowModify       FlowModCommand = 1
	FlowModifyStrict FlowModCommand = 2
	FlowDelete       FlowModCommand = 3
	FlowDeleteStrict FlowModCommand = 4
)

// FlowModFlags are OFPFF_* (OpenFlow 1.3 numbering).
type FlowModFlags uint16

// Flow-mod flags.
const (
	FlagSendFlowRem  FlowModFlags = 1 << 0
	FlagCheckOverlap FlowModFlags = 1 << 1
	FlagResetCounts  FlowModFlags = 1 << 2
	FlagNoPktCounts  FlowModFlags = 1 << 3
	FlagNoBytCounts  FlowModFlags = 1 << 4
)

// FlowMod adds, modifies or deletes flows. For delete and modify, OutPort and
// OutGroup filter (PortAny/GroupAny for none) and CookieMask selects cookies.
type FlowMod struct {
	Command     FlowModCommand
	Table       uint8 // TableAll for delete/modify in every table
	Priority    uint16
	Match       flow.Match
	Cookie      uint64
	CookieMask  uint64
	IdleTimeout uint16 // seconds, 0 = none
	HardTimeout uint16
	Flags       FlowModFlags
	BufferID    uint32
	OutPort     uint32
	OutGroup    uint32
	Importance  uint16
	Actions     []Action
}

// FlowStats is one flow as dump-flows reports it.
type FlowStats struct {
	Table       uint8
	Priority    uint16
	Match       flow.Match
	Cookie      uint64
	IdleTimeout uint16
	HardTimeout uint16
	Flags       FlowModFlags
	Importance  uint16
	Duration    time.Duration
	IdleAge     time.Duration // time since the flow last matched a packet
	HardAge     time.Duration // time since the flow was added or last modified
	Packets     uint64
	Bytes       uint64
	Actions     []Action
}

// PortConfig bits (OFPPC_*, OpenFlow 1.3 numbering).
type PortConfig uint32

// Port config bits.
const (
	PortDown       PortConfig = 1 << 0
	PortNoRecv     PortConfig = 1 << 2
	PortNoFwd      PortConfig = 1 << 5
	PortNoPacketIn PortConfig = 1 << 6
	// PortNoFlood exists only in OpenFlow 1.0 (bit 4); Open vSwitch keeps it
	// for 1.3 too, and so do we.
	PortNoFlood PortConfig = 1 << 4
)

// PortState bits (OFPPS_*).
type PortState uint32

// Port state bits.
const (
	PortLinkDown PortState = 1 << 0
	PortBlocked  PortState = 1 << 1
	PortLive     PortState = 1 << 2
)

// PortDesc describes a switch port (ofp_port).
type PortDesc struct {
	No         uint32
	HWAddr     [6]byte
	Name       string
	Config     PortConfig
	State      PortState
	Curr       uint32 // OFPPF_* features
	Advertised uint32
	Supported  uint32
	Peer       uint32
	CurrSpeed  uint32 // kbps
	MaxSpeed   uint32
}

// PortStats are a port's counters (ofp_port_stats).
type PortStats struct {
	No         uint32
	RxPackets  uint64
	TxPackets  uint64
	RxBytes    uint64
	TxBytes    uint64
	RxDropped  uint64
	TxDropped  uint64
	RxErrors   uint64
	TxErrors   uint64
	RxFrameErr uint64
	RxOverErr  uint64
	RxCRCErr   uint64
	Collisions uint64
	Duration   time.Duration
}

// TableStats are one table's counters (ofp_table_stats).
type TableStats struct {
	Table        uint8
	Name         string
	ActiveCount  uint32
	LookupCount  uint64
	MatchedCount uint64
	MaxEntries   uint32
}

// AggregateStats is the reply to an aggregate request.
type AggregateStats struct {
	Packets uint64
	Bytes   uint64
	Flows   uint32
}
