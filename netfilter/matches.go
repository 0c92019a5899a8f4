package netfilter

import "net/netip"

// PortRange is an inclusive port range (Lo == Hi for one port).
type PortRange struct{ Lo, Hi uint16 }

// Contains reports whether p is in the range.
func (r PortRange) Contains(p uint16) bool { return p >= r.Lo && p <= r.Hi }

// TCPMatch is -m tcp (implicit with -p tcp): ports, flags and --syn.
type TCPMatch struct {
	Src, Dst       *PortRange // nil: any
	InvSrc, InvDst bool
	FlagsMask      uint8 // --tcp-flags MASK COMP; --syn is SYN,RST,ACK,FIN SYN
	FlagsCmp       uint8
	HasFlags       bool
	InvFlags       bool
	Option         uint8 // --tcp-option N
	HasOption      bool
	InvOption      bool
}

// UDPMatch is -m udp.
type UDPMatch struct {
	Src, Dst       *PortRange
	InvSrc, InvDst bool
}

// ICMPMatch is -m icmp --icmp-type TYPE[/CODE]; Any matches every type
// (the kernel's type 0xff).
type ICMPMatch struct {
	Type             uint8
	CodeMin, CodeMax uint8
	Any              bool
	Inv              bool
}

// Multiport direction flags (xt_multiport's flags).
const (
	MultiportSrc = iota
	MultiportDst
	MultiportAny
)

// MultiportMatch is -m multiport --sports/--dports/--ports (up to 15 ports,
// a range counting as two).
type MultiportMatch struct {
	Dir   uint8
	Ports []PortRange
	Inv   bool
}

// MarkMatch is -m mark --mark VALUE[/MASK]: (mark & Mask) == Value.
type MarkMatch struct {
	Value, Mask uint32
	Inv         bool
}

// ConnmarkMatch is -m connmark --mark VALUE[/MASK] on the connection mark.
type ConnmarkMatch struct {
	Value, Mask uint32
	Inv         bool
}

// CtState is a set of conntrack states as -m state/-m conntrack name them.
type CtState uint16

// Conntrack states.
const (
	StateInvalid CtState = 1 << iota
	StateNew
	StateRelated
	StateEstablished
	StateUntracked
	StateSNAT
	StateDNAT
)

// CtStateNames lists the state names in the order iptables prints them.
var CtStateNames = []struct {
	Name  string
	State CtState
}{
	{"INVALID", StateInvalid}, {"NEW", StateNew}, {"RELATED", StateRelated},
	{"ESTABLISHED", StateEstablished}, {"UNTRACKED", StateUntracked},
	{"SNAT", StateSNAT}, {"DNAT", StateDNAT},
}

// Conntrack --ctdir values.
const (
	CtDirAny = iota
	CtDirOriginal
	CtDirReply
)

// ConntrackMatch is -m conntrack. Each option is tested only when given.
type ConntrackMatch struct {
	State              CtState
	HasState, InvState bool
	Proto              uint8
	HasProto, InvProto bool
	OrigSrc, OrigDst   netip.Prefix // zero: not given
	ReplSrc, ReplDst   netip.Prefix
	InvOrigSrc         bool
	InvOrigDst         bool
	InvReplSrc         bool
	InvReplDst         bool
	Dir                uint8 // CtDirAny, CtDirOriginal, CtDirReply
}

// StateMatch is -m state --state.
type StateMatch struct {
	States CtState
	Inv    bool
}

// IPRangeMatch is -m iprange --src-range/--dst-range (inclusive).
type IPRangeMatch struct {
	SrcLo, SrcHi   netip.Addr // invalid: not given
	DstLo, DstHi   netip.Addr
	InvSrc, InvDst bool
}

// MACMatch is -m mac --mac-source.
type MACMatch struct {
	Addr [6]byte
	Inv  bool
}

// TOSMatch is -m tos --tos VALUE[/MASK]: (tos & Mask) == Value.
type TOSMatch struct {
	Value, Mask uint8
	Inv         bool
}

// DSCPMatch is -m dscp --dscp/--dscp-class (the 6-bit DSCP).
type DSCPMatch struct {
	Value uint8
	Inv   bool
}

// LengthMatch is -m length --length MIN[:MAX] on the IP total length.
type LengthMatch struct {
	Min, Max uint16
	Inv      bool
}

// LimitScale is the unit of LimitMatch.Avg (XT_LIMIT_SCALE): Avg is the
// average time between packets in 1/10000 s.
const LimitScale = 10000

// LimitMatch is -m limit --limit RATE --limit-burst N: a token bucket.
type LimitMatch struct {
	Avg   uint32 // seconds*LimitScale per packet; iptables' default is 3/hour
	Burst uint32 // default 5
}

// CommentMatch is -m comment --comment; it matches every packet.
type CommentMatch struct{ Text string }

// AddrType is a set of routing address types (RTN_* as bits).
type AddrType uint16

// Address types, 1<<RTN_*.
const (
	AddrUnspec AddrType = 1 << iota
	AddrUnicast
	AddrLocal
	AddrBroadcast
	AddrAnycast
	AddrMulticast
	AddrBlackhole
	AddrUnreachable
	AddrProhibit
	AddrThrow
	AddrNAT
	AddrXResolve
)

// AddrTypeNames are the names addrtype takes, in bit order.
var AddrTypeNames = []string{"UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"}

// AddrTypeMatch is -m addrtype --src-type/--dst-type; zero sets are not
// tested. LimitIn/LimitOut restrict LOCAL to the in/out interface.
type AddrTypeMatch struct {
	Src, Dst          AddrType
	InvSrc, InvDst    bool
	LimitIn, LimitOut bool
}

// TTL comparison modes.
const (
	TTLEq = iota
	TTLNe
	TTLLt
	TTLGt
)

// TTLMatch is -m ttl --ttl-eq/--ttl-gt/--ttl-lt (! --ttl-eq is TTLNe).
type TTLMatch struct {
	Mode  uint8
	Value uint8
}

// OwnerMatch is -m owner --uid-owner (OUTPUT and POSTROUTING only).
type OwnerMatch struct {
	UIDMin, UIDMax uint32
	Inv            bool
}

// Name implementations: the -m module names.
func (*TCPMatch) Name() string       { return "tcp" }
func (*UDPMatch) Name() string       { return "udp" }
func (*ICMPMatch) Name() string      { return "icmp" }
func (*MultiportMatch) Name() string { return "multiport" }
func (*MarkMatch) Name() string      { return "mark" }
func (*ConnmarkMatch) Name() string  { return "connmark" }
func (*ConntrackMatch) Name() string { return "conntrack" }
func (*StateMatch) Name() string     { return "state" }
func (*IPRangeMatch) Name() string   { return "iprange" }
func (*MACMatch) Name() string       { return "mac" }
func (*TOSMatch) Name() string       { return "tos" }
func (*DSCPMatch) Name() string      { return "dscp" }
func (*LengthMatch) Name() string    { return "length" }
func (*LimitMatch) Name() string     { return "limit" }
func (*CommentMatch) Name() string   { return "comment" }
func (*AddrTypeMatch) Name() string  { return "addrtype" }
func (*TTLMatch) Name() string       { return "ttl" }
func (*OwnerMatch) Name() string     { return "owner" }
