package ofchannel

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/flow"
	"tapestry/ofproto"
	"tapestry/openflow"
)

// errReply is an OFPT_ERROR a test expects: the request's xid and the
// error's name (openflow.ErrorName).
type errReply struct {
	Xid  uint32
	Name string
}

// TestFlowModRunErrors sends each stream in one write, so that the agent
// reads its flow mods back to back and applies them as one bridge batch.
// A bad message inside the run must be answered alone, with its own xid,
// while every other flow mod stays applied in order, as if each had been
// sent alone (OpenFlow 1.3 §6.2: a switch processes messages in order and
// reports an error for the one that failed). Both bridge entry points are
// covered: without an OnFlowChanges consumer the agent uses
// ApplyFlowMods, with one RecordFlowMods.
func TestFlowModRunErrors(t *testing.T) {
	add := func(prio uint16, port uint32) openflow.Message { return fmAdd(prio, port) }
	overlap := fmAdd(7, 1)
	overlap.Flags = openflow.FlagCheckOverlap
	overlap.Match = flow.Match{} // overlaps "priority=7,ip" sent before it
	buffered := fmAdd(9, 2)
	buffered.BufferID = 5
	delStrict := fmAdd(10, 1)
	delStrict.Command, delStrict.Actions = openflow.FlowDeleteStrict, nil
	truncated := raw13(14, -1, make([]byte, 40)...) // a flow mod whose match header is missing
	tests := []struct {
		name      string
		stream    []any             // openflow.Message or raw []byte; xid = position + 1
		wantErrs  []errReply        // in order, before the barrier reply
		wantFlows map[uint16]uint32 // priority -> output port
		wantAdded int               // flows OnFlowChanges hears of as added
	}{
		{name: "all good", stream: []any{add(1, 1), add(2, 2), add(3, 1)}, wantFlows: map[uint16]uint32{1: 1, 2: 2, 3: 1}, wantAdded: 3},
		// A batch reports its net change: the first flow 5 was replaced,
		// flow 10 came and went.
		{name: "later add replaces", stream: []any{add(5, 1), add(5, 2)}, wantFlows: map[uint16]uint32{5: 2}, wantAdded: 1},
		{name: "overlap in the middle", stream: []any{add(7, 1), overlap, add(8, 2)}, wantErrs: []errReply{{2, "OFPFMFC_OVERLAP"}}, wantFlows: map[uint16]uint32{7: 1, 8: 2}, wantAdded: 2},
		{name: "bad port first", stream: []any{add(3, 0xffffff10), add(4, 1)}, wantErrs: []errReply{{1, "OFPBAC_BAD_OUT_PORT"}}, wantFlows: map[uint16]uint32{4: 1}, wantAdded: 1},
		{name: "bad port last", stream: []any{add(4, 1), add(3, 0xffffff10)}, wantErrs: []errReply{{2, "OFPBAC_BAD_OUT_PORT"}}, wantFlows: map[uint16]uint32{4: 1}, wantAdded: 1},
		{name: "two bad", stream: []any{add(3, 0xffffff10), add(4, 1), add(5, 0xffffff11), add(6, 2)}, wantErrs: []errReply{{1, "OFPBAC_BAD_OUT_PORT"}, {3, "OFPBAC_BAD_OUT_PORT"}}, wantFlows: map[uint16]uint32{4: 1, 6: 2}, wantAdded: 2},
		{name: "undecodable in the middle", stream: []any{add(1, 1), truncated, add(2, 2)}, wantErrs: []errReply{{77, "OFPBRC_BAD_LEN"}}, wantFlows: map[uint16]uint32{1: 1, 2: 2}, wantAdded: 2},
		{name: "unknown buffer still applies", stream: []any{add(1, 1), buffered, add(2, 2)}, wantErrs: []errReply{{2, "OFPBRC_BUFFER_UNKNOWN"}}, wantFlows: map[uint16]uint32{1: 1, 2: 2, 9: 2}, wantAdded: 3},
		{name: "delete between adds", stream: []any{add(10, 1), delStrict, add(11, 2)}, wantFlows: map[uint16]uint32{11: 2}, wantAdded: 1},
		{name: "echo ends the run", stream: []any{add(1, 1), &openflow.EchoRequest{}, add(3, 0xffffff10), add(2, 2)}, wantErrs: []errReply{{3, "OFPBAC_BAD_OUT_PORT"}}, wantFlows: map[uint16]uint32{1: 1, 2: 2}, wantAdded: 2},
	}
	for _, observed := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/observed=%v", tc.name, observed), func(t *testing.T) {
				var mu sync.Mutex
				added := 0
				var cfg Config
				if observed {
					cfg.OnFlowChanges = func(ch ofproto.FlowChanges) {
						mu.Lock()
						added += len(ch.AddedRefs)
						mu.Unlock()
					}
				}
				tb := newTestBed(t, cfg)
				c := tb.dial(t, openflow.Version13)
				stream := encodeStream(t, tc.stream)
				bar, _ := (&openflow.BarrierRequest{}).Append(nil, openflow.Version13, 0xbeef)
				c.writeRaw(append(stream, bar...))
				var gotErrs []errReply
				for {
					m, h := c.recvReply()
					if m.Type() == openflow.TypeBarrierReply && h.Xid == 0xbeef {
						break
					}
					if e, ok := m.(*openflow.Error); ok {
						gotErrs = append(gotErrs, errReply{h.Xid, openflow.ErrorName(openflow.ErrorType(e.ErrType), e.Code)})
					}
				}
				if diff := cmp.Diff(tc.wantErrs, gotErrs); diff != "" {
					t.Errorf("error replies (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.wantFlows, flowPorts(tb.br)); diff != "" {
					t.Errorf("flows after the barrier (-want +got):\n%s", diff)
				}
				mu.Lock()
				defer mu.Unlock()
				if observed && added != tc.wantAdded {
					t.Errorf("OnFlowChanges heard of %d added flows, want %d", added, tc.wantAdded)
				}
			})
		}
	}
}

// encodeStream encodes msgs back to back at OpenFlow 1.3, message i with
// xid i+1; raw messages are taken as they are.
func encodeStream(t *testing.T, msgs []any) []byte {
	t.Helper()
	var out []byte
	for i, m := range msgs {
		switch m := m.(type) {
		case []byte:
			out = append(out, m...)
		case openflow.Message:
			var err error
			if out, err = m.Append(out, openflow.Version13, uint32(i+1)); err != nil {
				t.Fatalf("encode %T: %v", m, err)
			}
		default:
			t.Fatalf("stream item %T", m)
		}
	}
	return out
}

// flowPorts maps every flow's priority to the port of its first output,
// leaving out the bridge's own priority-0 table-miss flow.
func flowPorts(br *ofproto.Bridge) map[uint16]uint32 {
	all := openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}
	out := map[uint16]uint32{}
	for _, fs := range br.DumpFlows(all) {
		i := slices.IndexFunc(fs.Actions, func(a openflow.Action) bool { return a.Type == openflow.ActOutput })
		if i >= 0 && fs.Priority > 0 {
			out[fs.Priority] = fs.Actions[i].Port
		}
	}
	return out
}
