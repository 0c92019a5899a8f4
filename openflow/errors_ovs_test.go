package openflow

import (
	"encoding/hex"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"tapestry/internal/hosttest"
)

// ovsErrorName is Open vSwitch 3.1's name for a 1.3 error where it
// differs from the spec's (it keeps the 1.0 words, and says SECONDARY).
func ovsErrorName(t ErrorType, code uint16) string {
	n := ErrorName(t, code)
	switch n {
	case "OFPBRC_BAD_MULTIPART":
		return "OFPBRC_BAD_STAT"
	case "OFPBRC_BAD_EXPERIMENTER":
		return "OFPBRC_BAD_VENDOR"
	case "OFPBRC_BAD_EXP_TYPE":
		return "OFPBRC_BAD_SUBTYPE"
	case "OFPBRC_IS_SLAVE":
		return "OFPBRC_IS_SECONDARY"
	case "OFPBAC_BAD_EXPERIMENTER":
		return "OFPBAC_BAD_VENDOR"
	case "OFPBAC_BAD_EXP_TYPE":
		return "OFPBAC_BAD_VENDOR_TYPE"
	case "OFPTFFC_BAD_TYPE", "OFPTFFC_BAD_LEN":
		// OpenFlow 1.4 moved these to bad-property errors; Open vSwitch
		// prints the 1.3 codes by those names.
		return strings.Replace(n, "OFPTFFC", "OFPBPC", 1)
	case "OFPTFFC_BAD_ARGUMENT":
		return "OFPBPC_BAD_VALUE"
	}
	return n
}

func allErrors() [][2]uint16 {
	var out [][2]uint16
	for t, names := range errorCodeNames {
		for c := range names {
			out = append(out, [2]uint16{uint16(t), uint16(c)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] || out[i][0] == out[j][0] && out[i][1] < out[j][1] })
	return out
}

// TestErrors10AgainstOvsOfctl checks the OpenFlow 1.0 error table against
// `ovs-ofctl print-error`, which prints Open vSwitch's encoding of an
// error for every version.
func TestErrors10AgainstOvsOfctl(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	for _, e := range allErrors() {
		ty, code := ErrorType(e[0]), e[1]
		name := ovsErrorName(ty, code)
		out, err := exec.Command("ovs-ofctl", "print-error", name).CombinedOutput()
		if err != nil {
			continue // a name this Open vSwitch does not know (OFPTFFC_BAD_TYPE...)
		}
		want := unencodable10
		for _, l := range strings.Split(string(out), "\n") {
			var vendor string
			var typ, c uint16
			if _, err := fmt.Sscanf(l, "OpenFlow 1.0: vendor %s type %d, code %d", &vendor, &typ, &c); err == nil {
				want = wire10{vendor != "0,", typ, c}
			}
		}
		if got := errorCode10(ty, code); got != want {
			t.Errorf("%s: OpenFlow 1.0 encoding %+v, ovs-ofctl print-error says %+v", name, got, want)
		}
	}
}

// TestErrorsPrintInOvsOfctl sends every error the codec knows, in
// OpenFlow 1.0 and 1.3, through the real `ovs-ofctl ofp-print`: it must
// print the error's name, or for an error 1.0 lacks, Open vSwitch's own
// NXBRC_UNENCODABLE_ERROR; and ofconn's reverse mapping (ErrorName10)
// must give the same name.
func TestErrorsPrintInOvsOfctl(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	for _, v := range []uint8{Version10, Version13} {
		req := []byte{v, 2, 0, 8, 0, 0, 0, 1}
		for _, e := range allErrors() {
			ty, code := ErrorType(e[0]), e[1]
			want := ovsErrorName(ty, code)
			if v == Version10 && errorCode10(ty, code) == unencodable10 {
				want = "NXBRC_UNENCODABLE_ERROR"
			}
			if v == Version10 && want == "OFPBRC_IS_SECONDARY" {
				want = "OFPBRC_EPERM" // 1.0 has no code of its own for it
			}
			em := ErrorFor(v, errorf(ty, code, "x"), req)
			msg, err := em.Append(nil, v, 9)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := exec.Command("ovs-ofctl", "ofp-print", hex.EncodeToString(msg)).CombinedOutput()
			first, _, _ := strings.Cut(string(out), "\n")
			if i := strings.LastIndex(first, "): "); i >= 0 {
				first = first[i+3:]
			}
			if first != want {
				t.Errorf("v%d %s: ovs-ofctl prints %q, want %q", v, ErrorName(ty, code), first, want)
			}
			if v == Version10 {
				if n, ok := ErrorName10(em); !ok || n != want && !(want == "OFPBRC_EPERM") {
					t.Errorf("ErrorName10 of %s = %q, %v; want %q", ErrorName(ty, code), n, ok, want)
				}
			}
		}
	}
}
