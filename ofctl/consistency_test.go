package ofctl

import (
	"strings"
	"testing"

	"tapestry/openflow"
)

// ovsInconsistent is what ovs-ofctl 3.1 prints for every rejected case
// below: tapestry's message starts the same and says which field and
// what it needs.
const ovsInconsistent = "actions are invalid with specified match"

// TestConsistencyNXActions checks the field prerequisites of the Nicira
// actions: the fields output:REG reads and multipath and bundle_load
// write, and every action inside clone(...), which sees the packet as the
// actions before it leave it and changes nothing outside. Each case's
// outcome is what ovs-ofctl 3.1 parse-flow does with the line.
func TestConsistencyNXActions(t *testing.T) {
	tests := []struct {
		flow string
		err  string // "" when ovs-ofctl accepts the line
	}{
		{"actions=clone(load:1->NXM_OF_TCP_DST[])", `load on "tcp_dst" requires tcp or tcp6`},
		{"actions=clone(move:NXM_OF_TCP_DST[]->NXM_NX_REG0[0..15])", `move on "tcp_dst" requires tcp or tcp6`},
		{"ip,actions=clone(set_field:80->tcp_dst)", `set_field on "tcp_dst" requires tcp or tcp6`},
		{"ip,actions=clone(clone(load:1->NXM_OF_UDP_SRC[]))", `load on "udp_src" requires udp or udp6`},
		{"tcp,actions=push_mpls:0x8847,clone(set_field:80->tcp_dst)", `set_field on "tcp_dst" requires tcp or tcp6`},
		{"tcp,actions=clone(push_mpls:0x8847,set_field:80->tcp_dst)", `set_field on "tcp_dst" requires tcp or tcp6`},
		{"actions=clone(push_vlan:0x8100),set_field:5->vlan_vid", `set_field on "vlan_vid" requires a VLAN tag (match one or push_vlan first)`},
		{"actions=output:NXM_OF_TCP_DST[]", `output on "tcp_dst" requires tcp or tcp6`},
		{"actions=output:NXM_NX_IPV6_LABEL[0..15]", `output on "ipv6_label" requires ipv6 (dl_type=0x86dd)`},
		{"actions=clone(output:NXM_OF_TCP_DST[])", `output on "tcp_dst" requires tcp or tcp6`},
		{"actions=multipath(eth_src,50,modulo_n,1,0,NXM_OF_TCP_DST[])", `multipath on "tcp_dst" requires tcp or tcp6`},
		{"actions=clone(multipath(eth_src,50,modulo_n,1,0,NXM_OF_TCP_DST[]))", `multipath on "tcp_dst" requires tcp or tcp6`},
		{"actions=bundle_load(eth_src,0,hrw,ofport,NXM_OF_TCP_SRC[],members:1,2)", `bundle_load on "tcp_src" requires tcp or tcp6`},
		{"ip,actions=bundle_load(eth_src,0,hrw,ofport,NXM_OF_UDP_DST[],members:1,2)", `bundle_load on "udp_dst" requires udp or udp6`},
		{"actions=ct(commit)", `ct requires ip or ipv6`},
		{"arp,actions=ct(table=1)", `ct requires ip or ipv6`},
		{"ip,actions=clone(ct(commit))", ""},
		{"ipv6,actions=ct(commit,exec(set_field:1->ct_mark))", ""},
		{"tcp,actions=clone(push_mpls:0x8847),set_field:80->tcp_dst", ""},
		{"tcp,actions=clone(output:NXM_OF_TCP_DST[])", ""},
		{"tcp,actions=output:NXM_OF_TCP_DST[]", ""},
		{"actions=output:NXM_OF_IN_PORT[]", ""},
		{"actions=multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[])", ""},
		{"udp,actions=multipath(eth_src,50,modulo_n,1,0,NXM_OF_UDP_DST[])", ""},
		{"tcp,actions=bundle_load(eth_src,0,hrw,ofport,NXM_OF_TCP_SRC[],members:1,2)", ""},
		// OpenFlow 1.0's mod_tp_dst only narrows the usable protocols to
		// OpenFlow 1.0 in Open vSwitch, inside clone as outside.
		{"ip,actions=mod_tp_dst:80", ""},
		{"ip,actions=clone(mod_tp_dst:80)", ""},
	}
	for _, tc := range tests {
		_, err := ParseFlowMod(tc.flow, openflow.FlowAdd, nil)
		want := ""
		if tc.err != "" {
			want = "ofctl: " + ovsInconsistent + ": " + tc.err
		}
		if got := errText(err); got != want {
			t.Errorf("ParseFlowMod(%q) error = %q, want %q", tc.flow, got, want)
		}
		if err != nil && !strings.Contains(err.Error(), ovsInconsistent) {
			t.Errorf("ParseFlowMod(%q) error %q does not say %q as ovs-ofctl does", tc.flow, err, ovsInconsistent)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
