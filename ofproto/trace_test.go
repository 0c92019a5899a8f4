package ofproto

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The expected texts were produced by ovs-appctl ofproto/trace of Open
// vSwitch 3.1 (userspace datapath) with the same flows; two lines differ by
// design: datapath actions name OpenFlow port numbers (OVS prints its
// datapath's port numbers) and the megaflow is this bridge's own mask.
const traceFlow = "icmp,in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0"

func TestTraceText(t *testing.T) {
	tests := []struct {
		name  string
		flows []string
		want  string
	}{
		{"output", []string{"in_port=1,actions=output:2"}, `
 0. in_port=1, priority 32768
    output:2

Final flow: unchanged
Megaflow: in_port=1
Datapath actions: 2
`},
		{"miss", []string{"in_port=2,actions=output:1"}, `
 0. No match.
    drop

Final flow: unchanged
Megaflow: in_port=1
Datapath actions: drop
`},
		{"resubmit nested", []string{"actions=resubmit(,1),resubmit(,2)", "table=1,ip,actions=mod_nw_dst:10.0.0.9", "table=2,priority=5,actions=output:3"}, `
 0. priority 32768
    resubmit(,1)
     1. ip, priority 32768
            mod_nw_dst:10.0.0.9
    resubmit(,2)
 2. priority 5
    output:3

Final flow: ` + strings.Replace(traceFlow, "nw_dst=10.0.0.2", "nw_dst=10.0.0.9", 1) + `
Megaflow: ip,in_port=1
Datapath actions: set(ipv4(dst=10.0.0.9)),3
`},
		{"two levels and normal", []string{"in_port=1,actions=resubmit(,1),output:2", "table=1,actions=resubmit(,2),output:3", "table=2,actions=NORMAL,output:1"}, `
 0. in_port=1, priority 32768
    resubmit(,1)
     1. priority 32768
            resubmit(,2)
             2. priority 32768
                    NORMAL
                     -> no learned MAC for destination, flooding
                    output:1
                     >> skipping output to input port
            output:3
    output:2

Final flow: unchanged
Megaflow: in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b
Datapath actions: 2,3,3,2
`},
		{"dec_ttl and vlan", []string{"actions=resubmit(,3)", "table=3,actions=resubmit(,4)", "table=4,actions=dec_ttl,mod_vlan_vid:5,output:3"}, `
 0. priority 32768
    resubmit(,3)
 3. priority 32768
    resubmit(,4)
 4. priority 32768
    dec_ttl
    mod_vlan_vid:5
    output:3

Final flow: ` + strings.Replace(strings.Replace(traceFlow, "vlan_tci=0x0000", "dl_vlan=5,dl_vlan_pcp=0,vlan_tci1=0x0000", 1), "nw_ttl=64", "nw_ttl=63", 1) + `
Megaflow: ip,in_port=1,vlan_tci=0x0000,nw_ttl=64
Datapath actions: set(ipv4(ttl=63)),push_vlan(vid=5,pcp=0),3
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 3)
			tb.flows(tc.flows...)
			got := tb.TracePacket(icmp(macA, macB), 1).String()
			want := "Flow: " + traceFlow + "\n\nbridge(\"br0\")\n-------------" + tc.want
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Trace().String() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTraceJSON(t *testing.T) {
	tb := newTestBridge(t, 2)
	tb.flows("actions=resubmit(,1)", "table=1,actions=output:2")
	tr := tb.TracePacket(icmp(macA, macB), 1)
	js, err := json.Marshal(tr)
	if err != nil {
		t.Fatalf("json.Marshal(Trace): %v", err)
	}
	var back Trace
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("json.Unmarshal: %v", err)
	}
	if diff := cmp.Diff(tr, &back); diff != "" {
		t.Errorf("Trace JSON round trip (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(js), `"datapath_actions":"2"`) {
		t.Errorf("Trace JSON = %s, want datapath_actions 2", js)
	}
}
