package classifier

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"tapestry/flow"
)

// match parses a small subset of ovs-ofctl match syntax for tests:
// comma-separated field=value[/mask], where value is an IPv4 address (mask a
// prefix length or a dotted mask), a MAC (mask a MAC) or a number (mask a
// number). "" is the all-wildcard match.
func match(t testing.TB, s string) flow.Match {
	t.Helper()
	var m flow.Match
	if s == "" {
		return m
	}
	for _, kv := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("match(%q): %q has no value", s, kv)
		}
		f, ok := flow.Lookup(name)
		if !ok {
			t.Fatalf("match(%q): unknown field %q", s, name)
		}
		v, mask := value(t, f, val)
		m.SetMasked(f, v, mask)
	}
	return m
}

// key parses like match and returns the key; masks are not allowed.
func key(t testing.TB, s string) flow.Key {
	t.Helper()
	m := match(t, s)
	return m.Key
}

func value(t testing.TB, f flow.Field, s string) (v, mask flow.Value) {
	t.Helper()
	val, ms, hasMask := strings.Cut(s, "/")
	mask = f.FullMask()
	switch {
	case strings.Count(val, ".") == 3:
		a, err := netip.ParseAddr(val)
		if err != nil {
			t.Fatalf("bad address %q: %v", val, err)
		}
		v = flow.Bytes(a.AsSlice())
		if hasMask {
			if n, err := strconv.Atoi(ms); err == nil {
				p := netip.PrefixFrom(netip.IPv4Unspecified(), n)
				b := net.CIDRMask(p.Bits(), 32)
				mask = flow.Bytes(b)
			} else {
				a, err := netip.ParseAddr(ms)
				if err != nil {
					t.Fatalf("bad mask %q: %v", ms, err)
				}
				mask = flow.Bytes(a.AsSlice())
			}
		}
	case strings.Count(val, ":") == 5:
		v = mac(t, val)
		if hasMask {
			mask = mac(t, ms)
		}
	default:
		v = num(t, val)
		if hasMask {
			mask = num(t, ms)
		}
	}
	return v, mask
}

func mac(t testing.TB, s string) flow.Value {
	t.Helper()
	hw, err := net.ParseMAC(s)
	if err != nil {
		t.Fatalf("bad MAC %q: %v", s, err)
	}
	return flow.Bytes(hw)
}

func num(t testing.TB, s string) flow.Value {
	t.Helper()
	x, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		t.Fatalf("bad number %q: %v", s, err)
	}
	return flow.U64(x)
}

// rule makes a rule named name and its match, Insert's arguments; tests
// identify rules by their Value.
func rule(t testing.TB, m string, prio uint16, name string) (*Rule[string], *flow.Match) {
	t.Helper()
	fm := match(t, m)
	return &Rule[string]{Priority: prio, Value: name}, &fm
}

// name returns r's Value, or "" for nil.
func name(r *Rule[string]) string {
	if r == nil {
		return ""
	}
	return r.Value
}
