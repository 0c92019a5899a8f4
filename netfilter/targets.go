package netfilter

// Verdict-only targets: -j ACCEPT, -j DROP, -j RETURN.
type (
	// AcceptTarget is -j ACCEPT.
	AcceptTarget struct{}
	// DropTarget is -j DROP.
	DropTarget struct{}
	// ReturnTarget is -j RETURN.
	ReturnTarget struct{}
)

// JumpTarget is -j CHAIN, or -g CHAIN when Goto.
type JumpTarget struct {
	Chain string
	Goto  bool
}

// RejectWith is REJECT's --reject-with reply.
type RejectWith uint8

// Reject replies (ipt_REJECT's enum ipt_reject_with).
const (
	RejectPortUnreach RejectWith = iota // the default
	RejectNetUnreach
	RejectHostUnreach
	RejectProtoUnreach
	RejectNetProhibited
	RejectHostProhibited
	RejectAdminProhibited
	RejectTCPReset
)

// RejectNames are the --reject-with names, indexed by RejectWith.
var RejectNames = [...]string{"icmp-port-unreachable", "icmp-net-unreachable", "icmp-host-unreachable", "icmp-proto-unreachable", "icmp-net-prohibited", "icmp-host-prohibited", "icmp-admin-prohibited", "tcp-reset"}

// RejectTarget is -j REJECT.
type RejectTarget struct{ With RejectWith }

// LogTarget is -j LOG.
type LogTarget struct {
	Prefix string
	Level  uint8 // syslog level, default 4 (warning)
	Flags  uint8 // --log-tcp-sequence 1, --log-tcp-options 2, --log-ip-options 4, --log-uid 8
}

// MarkTarget is -j MARK in its --set-xmark form, to which every option
// normalizes: mark = (mark & ^Mask) ^ Value.
type MarkTarget struct{ Value, Mask uint32 }

// CONNMARK modes.
const (
	ConnmarkSet = iota
	ConnmarkSave
	ConnmarkRestore
)

// ConnmarkTarget is -j CONNMARK (revision 1 semantics):
//
//	set:     ctmark = (ctmark & ^CtMask) ^ CtMark
//	save:    ctmark = (ctmark & ^CtMask) ^ (mark & NfMask)
//	restore: mark   = (mark & ^NfMask) ^ (ctmark & CtMask)
type ConnmarkTarget struct {
	Mode           uint8
	CtMark, CtMask uint32
	NfMask         uint32
}

// TOSTarget is -j TOS: tos = (tos & ^Mask) ^ Value.
type TOSTarget struct{ Value, Mask uint8 }

// DSCPTarget is -j DSCP --set-dscp (6 bits).
type DSCPTarget struct{ Value uint8 }

// TTL target modes.
const (
	TTLSet = iota
	TTLDec
	TTLInc
)

// TTLTarget is -j TTL --ttl-set/--ttl-dec/--ttl-inc.
type TTLTarget struct {
	Mode  uint8
	Value uint8
}

// NAT range flags beyond the range itself.
const (
	NATRandom = 1 << iota
	NATPersistent
	NATRandomFully
)

// NATRange is a NAT target's address and port range (struct
// nf_nat_range2): "ip[-ip][:port[-port]]".
type NATRange struct {
	MinIP, MaxIP     [4]byte
	MinPort, MaxPort uint16
	HasIP            bool // an address range was given (else keep the address)
	HasPorts         bool // a port range was given
}

// DNATTarget is -j DNAT --to-destination (nat PREROUTING and OUTPUT).
type DNATTarget struct {
	Range NATRange
	Flags uint8
}

// SNATTarget is -j SNAT --to-source (nat POSTROUTING and INPUT).
type SNATTarget struct {
	Range NATRange
	Flags uint8
}

// MasqueradeTarget is -j MASQUERADE [--to-ports]: SNAT to the out
// interface's primary address.
type MasqueradeTarget struct {
	MinPort, MaxPort uint16
	HasPorts         bool
	Flags            uint8
}

// RedirectTarget is -j REDIRECT [--to-ports]: DNAT to the in interface's
// primary address (127.0.0.1 for locally generated packets).
type RedirectTarget struct {
	MinPort, MaxPort uint16
	HasPorts         bool
	Flags            uint8
}

// CTTarget is -j CT --notrack (raw table); NoTrack false is a plain "-j CT"
// that only sets a zone.
type CTTarget struct {
	NoTrack bool
	Zone    uint16
}

// NotrackTarget is the old -j NOTRACK.
type NotrackTarget struct{}

// TraceTarget is -j TRACE (raw table): the packet is traced through every
// later rule.
type TraceTarget struct{}

// Name implementations: the -j target names.
func (*AcceptTarget) Name() string     { return "ACCEPT" }
func (*DropTarget) Name() string       { return "DROP" }
func (*ReturnTarget) Name() string     { return "RETURN" }
func (j *JumpTarget) Name() string     { return j.Chain }
func (*RejectTarget) Name() string     { return "REJECT" }
func (*LogTarget) Name() string        { return "LOG" }
func (*MarkTarget) Name() string       { return "MARK" }
func (*ConnmarkTarget) Name() string   { return "CONNMARK" }
func (*TOSTarget) Name() string        { return "TOS" }
func (*DSCPTarget) Name() string       { return "DSCP" }
func (*TTLTarget) Name() string        { return "TTL" }
func (*DNATTarget) Name() string       { return "DNAT" }
func (*SNATTarget) Name() string       { return "SNAT" }
func (*MasqueradeTarget) Name() string { return "MASQUERADE" }
func (*RedirectTarget) Name() string   { return "REDIRECT" }
func (*CTTarget) Name() string         { return "CT" }
func (*NotrackTarget) Name() string    { return "NOTRACK" }
func (*TraceTarget) Name() string      { return "TRACE" }
