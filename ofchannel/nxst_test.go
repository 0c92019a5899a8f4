package ofchannel

import (
	"context"
	"errors"
	"testing"

	"tapestry/ofconn"
	ofctlfmt "tapestry/ofctl"
	"tapestry/openflow"
)

// TestNXFlowStats: the client side (ofconn) asks the agent for Nicira flow
// statistics in OpenFlow 1.0 as ovs-ofctl does; filters by nx_match,
// table and out_port select the flows FormatFlowStats then prints.
func TestNXFlowStats(t *testing.T) {
	tb := newTestBed(t, Config{})
	ctx := context.Background()
	c, err := ofconn.Dial(ctx, "unix:"+tb.sock, ofconn.Bitmap(openflow.Version10))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, f := range []string{"priority=100,in_port=LOCAL,ip,nw_dst=10.0.0.1,actions=output:2",
		"priority=50,in_port=1,arp,actions=NORMAL", "table=1,priority=5,tcp,tp_dst=80,actions=output:1"} {
		fm, err := ofctlfmt.ParseFlowMod(f, openflow.FlowAdd, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := fm.Append(nil, openflow.Version10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fm.Table != 0 {
			if _, err := c.TransactRaw(ctx, []byte{1, 4, 0, 24, 0, 0, 0, 0, 0, 0, 0x23, 0x20, 0, 0, 0, 15, 1, 0, 0, 0, 0, 0, 0, 0}); err != nil {
				t.Fatal(err)
			}
			raw[openflow.HeaderLen+48] = fm.Table
		}
		if _, err := c.TransactRaw(ctx, raw); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	ok, err := c.SetFlowFormatNXM(ctx)
	if err != nil || !ok {
		t.Fatalf("NXT_SET_FLOW_FORMAT: %v %v", ok, err)
	}
	inLocal, _, err := ofctlfmt.ParseMatch("in_port=LOCAL", nil)
	if err != nil {
		t.Fatal(err)
	}
	all := openflow.FlowStatsRequest{Table: openflow.TableAll, OutPort: openflow.PortAny}
	tests := []struct {
		name string
		req  openflow.FlowStatsRequest
		want []string
	}{
		{"all", all, []string{"priority=100,ip,in_port=LOCAL,nw_dst=10.0.0.1 actions=output:2",
			"priority=50,arp,in_port=1 actions=NORMAL", "priority=0 actions=NORMAL", // the bridge's own
			"table=1, priority=5,tcp,tp_dst=80 actions=output:1"}},
		{"in_port=LOCAL", openflow.FlowStatsRequest{Table: openflow.TableAll, OutPort: openflow.PortAny, Match: inLocal},
			[]string{"priority=100,ip,in_port=LOCAL,nw_dst=10.0.0.1 actions=output:2"}},
		{"table 1", openflow.FlowStatsRequest{Table: 1, OutPort: openflow.PortAny}, []string{"table=1, priority=5,tcp,tp_dst=80 actions=output:1"}},
		{"out_port 2", openflow.FlowStatsRequest{Table: openflow.TableAll, OutPort: 2}, []string{"priority=100,ip,in_port=LOCAL,nw_dst=10.0.0.1 actions=output:2"}},
	}
	for _, tt := range tests {
		parts, _, err := c.NXFlowStats(ctx, &tt.req, false)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []string
		for _, p := range parts {
			for i := range p.Flows {
				got = append(got, ofctlfmt.FormatFlowStats(&p.Flows[i], ofctlfmt.FormatOptions{NoStats: true})[1:])
			}
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: flow %d is %q, want %q", tt.name, i, got[i], tt.want[i])
			}
		}
	}
	parts, _, err := c.NXFlowStats(ctx, &all, true)
	if err != nil || parts[len(parts)-1].Aggregate.Flows != 4 {
		t.Errorf("NXST_AGGREGATE: %+v, %v", parts, err)
	}
}

// TestSetFlowFormatRejectsUnknown: formats other than OpenFlow 1.0 and NXM
// are refused with OFPBRC_EPERM, as Open vSwitch refuses them.
func TestSetFlowFormatRejectsUnknown(t *testing.T) {
	tb := newTestBed(t, Config{})
	ctx := context.Background()
	c, err := ofconn.Dial(ctx, "unix:"+tb.sock, ofconn.Bitmap(openflow.Version10))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, format := range []byte{0, 2, 7} {
		msg := []byte{1, 4, 0, 20, 0, 0, 0, 0, 0, 0, 0x23, 0x20, 0, 0, 0, 12, 0, 0, 0, format}
		_, err := c.TransactRaw(ctx, msg)
		var er *ofconn.ErrorReply
		switch {
		case format != 7 && err != nil:
			t.Errorf("format %d: %v", format, err)
		case format == 7 && (!errors.As(err, &er) || ofconn.ErrorName(1, er.Err) != "OFPBRC_EPERM"):
			t.Errorf("format 7: %v, want OFPBRC_EPERM", err)
		}
	}
}

// FuzzNXStatsRequest: any request body parses or fails with an OpenFlow
// error, and never panics. (A parsed match does not always encode again:
// an NXM_OF_VLAN_TCI match with the CFI bit, e.g. 0x4130, decodes but the
// OXM encoder refuses it; see testdata/fuzz.)
func FuzzNXStatsRequest(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0, 6, 0xff, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xfe, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 40, 0xff, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		_, filter, err := parseNXStatsRequest(body)
		if err != nil {
			if _, _, ok := openflow.ErrorCodeOf(err); !ok {
				t.Fatalf("error without an OpenFlow code: %v", err)
			}
			return
		}
		if filter.OutGroup != openflow.GroupAny {
			t.Errorf("out_group %d, want any", filter.OutGroup)
		}
	})
}
