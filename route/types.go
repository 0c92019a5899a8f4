package route

import (
	"fmt"
	"strconv"
)

// Type is a route type, numbered as the kernel's RTN_* constants
// (include/uapi/linux/rtnetlink.h).
type Type uint8

// Route types.
const (
	TypeUnspec      Type = 0
	TypeUnicast     Type = 1
	TypeLocal       Type = 2
	TypeBroadcast   Type = 3
	TypeAnycast     Type = 4
	TypeMulticast   Type = 5
	TypeBlackhole   Type = 6
	TypeUnreachable Type = 7
	TypeProhibit    Type = 8
	TypeThrow       Type = 9
	TypeNAT         Type = 10
)

var typeNames = [...]string{"unspec", "unicast", "local", "broadcast", "anycast",
	"multicast", "blackhole", "unreachable", "prohibit", "throw", "nat"}

// String returns iproute2's name for t, or its number.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return strconv.Itoa(int(t))
}

// ParseType parses an iproute2 route type name.
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if n == s {
			return Type(i), nil
		}
	}
	return 0, fmt.Errorf("route: unknown route type %q", s)
}

// reject reports whether routes of type t answer a lookup with an error
// instead of a nexthop, and which (fib_props[] in fib_semantics.c). Throw
// is the kernel's -EAGAIN: continue with the next rule.
func (t Type) reject() (error, bool) {
	switch t {
	case TypeBlackhole:
		return ErrInvalid, true
	case TypeUnreachable:
		return ErrHostUnreachable, true
	case TypeProhibit:
		return ErrAccess, true
	case TypeThrow:
		return errThrow, true
	}
	return nil, false
}

// minScope is fib_props[type].scope: the narrowest scope a route of this
// type may be given (a numerically smaller scope is rejected).
func (t Type) minScope() Scope {
	switch t {
	case TypeLocal, TypeNAT:
		return ScopeHost
	case TypeBroadcast, TypeAnycast:
		return ScopeLink
	}
	return ScopeUniverse
}

// Scope is a route or address scope (RT_SCOPE_*); larger is narrower.
type Scope uint8

// Scopes, as in /etc/iproute2/rt_scopes.
const (
	ScopeUniverse Scope = 0
	ScopeSite     Scope = 200
	ScopeLink     Scope = 253
	ScopeHost     Scope = 254
	ScopeNowhere  Scope = 255
)

// String returns iproute2's name for s ("global" for universe).
func (s Scope) String() string {
	switch s {
	case ScopeUniverse:
		return "global"
	case ScopeSite:
		return "site"
	case ScopeLink:
		return "link"
	case ScopeHost:
		return "host"
	case ScopeNowhere:
		return "nowhere"
	}
	return strconv.Itoa(int(s))
}

// ParseScope parses a scope name or number.
func ParseScope(s string) (Scope, error) {
	switch s {
	case "global", "universe":
		return ScopeUniverse, nil
	case "site":
		return ScopeSite, nil
	case "link":
		return ScopeLink, nil
	case "host":
		return ScopeHost, nil
	case "nowhere":
		return ScopeNowhere, nil
	}
	n, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("route: invalid scope %q", s)
	}
	return Scope(n), nil
}

// Protocol is the origin of a route (RTPROT_*), named as in
// /etc/iproute2/rt_protos.
type Protocol uint8

// Well-known protocols.
const (
	ProtoUnspec Protocol = 0
	ProtoKernel Protocol = 2
	ProtoBoot   Protocol = 3
	ProtoStatic Protocol = 4
)

var protoNames = map[Protocol]string{
	0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated",
	9: "ra", 10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp",
	15: "ntk", 16: "dhcp", 18: "keepalived", 42: "babel", 99: "openr",
	186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp",
}

// String returns the rt_protos name of p, or its number.
func (p Protocol) String() string {
	if n, ok := protoNames[p]; ok {
		return n
	}
	return strconv.Itoa(int(p))
}

// ParseProtocol parses a protocol name or number.
func ParseProtocol(s string) (Protocol, error) {
	for p, n := range protoNames {
		if n == s {
			return p, nil
		}
	}
	n, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("route: invalid protocol %q", s)
	}
	return Protocol(n), nil
}

// TableID identifies a routing table (RT_TABLE_*; ids above 255 are
// allowed, carried in RTA_TABLE).
type TableID uint32

// Reserved tables, as in /etc/iproute2/rt_tables.
const (
	TableUnspec  TableID = 0
	TableDefault TableID = 253
	TableMain    TableID = 254
	TableLocal   TableID = 255
)

// String returns the rt_tables name of t, or its number.
func (t TableID) String() string {
	switch t {
	case TableUnspec:
		return "unspec"
	case TableDefault:
		return "default"
	case TableMain:
		return "main"
	case TableLocal:
		return "local"
	}
	return strconv.FormatUint(uint64(t), 10)
}

// ParseTableID parses a table name or number.
func ParseTableID(s string) (TableID, error) {
	switch s {
	case "unspec":
		return TableUnspec, nil
	case "default":
		return TableDefault, nil
	case "main":
		return TableMain, nil
	case "local":
		return TableLocal, nil
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("route: invalid table %q", s)
	}
	return TableID(n), nil
}
