package netstack

import (
	"strings"
	"testing"
	"time"
)

func TestFormatLinkAddr(t *testing.T) {
	clk := NewVirtualClock(time.Unix(0, 0))
	h1, h2 := NewNamespace("h1", clk), NewNamespace("h2", clk)
	e1, e2, _ := AddVethPair(h1, "eth0", h2, "eth0")
	lo, _ := h1.Interface("lo")
	if got, want := FormatLink(lo), "1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN mode DEFAULT group default qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00"; got != want {
		t.Errorf("lo down:\n%s\nwant\n%s", got, want)
	}
	for _, line := range []string{"add 10.0.0.1/24 brd + dev eth0", "add 10.0.0.9/24 dev eth0"} {
		c, err := ParseAddrCommand(strings.Fields(line))
		must(t, err)
		must(t, c.Apply(h1))
	}
	must(t, h1.SetUp(e1))
	want := "2: eth0@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default qlen 1000\n" +
		"    link/ether " + macStr(e1.MAC()) + " brd ff:ff:ff:ff:ff:ff link-netns h2\n" +
		"    inet 10.0.0.1/24 brd 10.0.0.255 scope global eth0\n       valid_lft forever preferred_lft forever\n" +
		"    inet 10.0.0.9/24 scope global secondary eth0\n       valid_lft forever preferred_lft forever"
	if got := FormatAddr(e1); got != want {
		t.Errorf("ip addr show:\n%s\nwant\n%s", got, want)
	}
	c, err := ParseLinkSet(strings.Fields("dev eth0 up mtu 1400"))
	must(t, err)
	must(t, c.Apply(h2))
	if got := strings.SplitN(FormatLink(e1), "\n", 2)[0]; got != "2: eth0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000" {
		t.Errorf("peer up: %q", got)
	}
	if e2.MTU() != 1400 {
		t.Errorf("mtu = %d", e2.MTU())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		addr bool
		in   string
		want string
	}{
		{true, "add 10.0.0.1/24", `ip addr: not enough information: "dev" argument is required`},
		{true, "add 10.0.0.1/33 dev eth0", `ip addr: invalid prefix "10.0.0.1/33"`},
		{true, "frob", `ip addr: command "frob" is unknown, try "ip address help"`},
		{true, "add 10.0.0.1/24 scope bogus dev eth0", `ip addr: invalid scope "bogus": route: invalid scope "bogus"`},
		{false, "eth0 mtu x", `ip link: invalid mtu "x"`},
		{false, "up", `ip link: not enough information: "dev" argument is required`},
		{false, "eth0 address zz", `"zz" is invalid lladdr.`},
	}
	for _, tt := range tests {
		var err error
		if tt.addr {
			_, err = ParseAddrCommand(strings.Fields(tt.in))
		} else {
			_, err = ParseLinkSet(strings.Fields(tt.in))
		}
		if err == nil || err.Error() != tt.want {
			t.Errorf("parse %q: %v, want %q", tt.in, err, tt.want)
		}
	}
}

func FuzzParseAddrCommand(f *testing.F) {
	f.Add("add 10.0.0.1/24 brd + dev eth0")
	f.Add("del 10.0.0.1/24 dev eth0")
	f.Add("flush dev eth0")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseAddrCommand(strings.Fields(s))
		if err == nil && (c.Dev == "" || (c.Op != "flush" && !c.Addr.Prefix.Addr().Is4())) {
			t.Fatalf("accepted %q as %+v", s, c)
		}
	})
}

func FuzzParseLinkSet(f *testing.F) {
	f.Add("dev eth0 up")
	f.Add("eth0 mtu 9000 down")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseLinkSet(strings.Fields(s))
		if err == nil && (c.Dev == "" || c.MTU < 0) {
			t.Fatalf("accepted %q as %+v", s, c)
		}
	})
}
