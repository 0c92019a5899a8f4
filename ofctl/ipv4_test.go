package ofctl

import (
	"net/netip"
	"testing"
)

// TestParseIPv4 compares the hand-written dotted-quad parser with
// netip.ParseAddr, the behaviour it replaced.
func TestParseIPv4(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "10.1.2.3", "255.255.255.255", "1.2.3.4", "192.168.0.10",
		"256.1.1.1", "1.2.3.256", "01.2.3.4", "1.2.3.04", "1.2.3.00", "1.2.3",
		"1.2.3.4.5", "1..3.4", ".1.2.3", "1.2.3.", "1.2.3.4 ", "a.b.c.d",
		"1.2.3.4/24", "1000.1.1.1", "1.2.3.1000", "::1", "::ffff:1.2.3.4",
		"", "1", "1.2.3.-4", "+1.2.3.4", "0x1.2.3.4", "1.2.3.4%eth0",
	} {
		got, gotOK := parseIPv4(s)
		a, err := netip.ParseAddr(s)
		wantOK := err == nil && a.Is4()
		var want [4]byte
		if wantOK {
			want = a.As4()
		}
		if got != want || gotOK != wantOK {
			t.Errorf("parseIPv4(%q) = %v, %v; netip says %v, %v", s, got, gotOK, want, wantOK)
		}
	}
}

// FuzzParseIPv4 checks the hand-written parser against netip.ParseAddr on
// any input.
func FuzzParseIPv4(f *testing.F) {
	for _, s := range []string{"10.1.2.3", "01.2.3.4", "1.2.3.256", "::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gotOK := parseIPv4(s)
		a, err := netip.ParseAddr(s)
		wantOK := err == nil && a.Is4()
		if gotOK != wantOK || wantOK && got != a.As4() {
			t.Errorf("parseIPv4(%q) = %v, %v; netip says %v, %v", s, got, gotOK, a, wantOK)
		}
	})
}
