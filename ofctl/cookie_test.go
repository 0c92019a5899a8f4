package ofctl

import (
	"strings"
	"testing"

	"tapestry/openflow"
)

// Cookies and masks parse as ovs-ofctl's strtoull does: "/-1" is the
// all-ones mask that people type to select one cookie exactly.
func TestCookieMaskForms(t *testing.T) {
	cases := []struct {
		text       string
		cmd        openflow.FlowModCommand
		cookie     uint64
		mask       uint64
		wantErrSub string
	}{
		{"cookie=0x5/-1,actions=drop", openflow.FlowModify, 5, ^uint64(0), ""},
		{"cookie=0x5/0xff", openflow.FlowDelete, 5, 0xff, ""},
		{"cookie=7/-2", openflow.FlowDelete, 6, ^uint64(1), ""},
		{"cookie=0x1f/0x0f", openflow.FlowDelete, 0xf, 0xf, ""},
		{"cookie=-1,actions=drop", openflow.FlowAdd, ^uint64(0), 0, ""},
		{"cookie=0x5/-x", openflow.FlowDelete, 0, 0, `invalid cookie mask "-x"`},
		{"cookie=0x5/-1,actions=drop", openflow.FlowAdd, 0, 0, "cannot use a cookie mask"},
	}
	for _, tc := range cases {
		fm, err := ParseFlowMod(tc.text, tc.cmd, nil)
		if tc.wantErrSub != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
				t.Errorf("%q: error %v, want one mentioning %q", tc.text, err, tc.wantErrSub)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.text, err)
			continue
		}
		if fm.Cookie != tc.cookie || fm.CookieMask != tc.mask {
			t.Errorf("%q: cookie %#x/%#x, want %#x/%#x", tc.text, fm.Cookie, fm.CookieMask, tc.cookie, tc.mask)
		}
	}
}
