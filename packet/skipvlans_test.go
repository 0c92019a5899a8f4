package packet

import "testing"

func TestSkipVLANs(t *testing.T) {
	eth := func(types ...uint16) []byte {
		f := make([]byte, 12)
		for _, ty := range types {
			f = append(f, byte(ty>>8), byte(ty), 0, 0)
		}
		return f
	}
	cases := []struct {
		name   string
		frame  []byte
		typ    uint16
		l3     int
		wantOK bool
	}{
		{"untagged", eth(EtherTypeIPv4), EtherTypeIPv4, 14, true},
		{"one tag", eth(EtherTypeVLAN, EtherTypeIPv6), EtherTypeIPv6, 18, true},
		{"two tags", eth(EtherTypeQinQ, EtherTypeVLAN, EtherTypeIPv4), EtherTypeIPv4, 22, true},
		{"three tags", eth(EtherTypeQinQ, EtherTypeVLAN, EtherTypeVLAN, EtherTypeIPv4), 0, 0, false},
		{"truncated", eth(EtherTypeVLAN)[:17], 0, 0, false},
		{"too short", make([]byte, 13), 0, 0, false},
	}
	for _, tc := range cases {
		typ, l3, ok := SkipVLANs(tc.frame, 2)
		if typ != tc.typ || l3 != tc.l3 || ok != tc.wantOK {
			t.Errorf("%s: SkipVLANs = %#04x, %d, %v; want %#04x, %d, %v", tc.name, typ, l3, ok, tc.typ, tc.l3, tc.wantOK)
		}
	}
}
