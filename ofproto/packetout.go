package ofproto

import (
	"fmt"

	"tapestry/flow"
	"tapestry/link"
	"tapestry/openflow"
)

// Execute runs actions on frame as if it had been received on inPort, the
// OpenFlow packet-out (OpenFlow 1.3 §7.3.7): output:TABLE submits it to the
// pipeline from table 0, output:IN_PORT sends it back where it "came from".
// Nothing is cached; as in Open vSwitch, the flows, tables and groups the
// packet went through are credited with it.
func (b *Bridge) Execute(inPort uint32, actions []openflow.Action, frame []byte) error {
	if err := validateActions(actions, true); err != nil {
		return fmt.Errorf("ofproto: packet-out: %w", err)
	}
	if err := checkGroups(actions, b.groupTable(), openflow.GroupAny); err != nil {
		return fmt.Errorf("ofproto: packet-out: %w", err)
	}
	var k flow.Key
	buf := make([]byte, link.Headroom+len(frame))
	copy(buf[link.Headroom:], frame)
	off := flow.Extract(buf[link.Headroom:], inPort, &k)
	now := b.now().UnixNano()
	x := &xlate{b: b, ports: b.ports.Load(), now: now, mayLearn: true, key: k}
	x.wc.InPort = ^uint32(0)
	x.actions(actions, 0, false)
	if x.failed == 0 && len(x.set) > 0 {
		x.applyActionSet()
	}
	if x.failed != 0 {
		x.ops = nil
	}
	e := &mfEntry{ops: x.ops, flows: x.flows, hits: x.hits, groups: x.groupCtrs}
	e.finish(x.why)
	e.packets.Store(1)
	e.bytes.Store(uint64(len(frame)))
	e.used.Store(now)
	b.mf.mu.Lock()
	b.mf.retired = append(b.mf.retired, e) // credited by the next syncStats
	b.mf.mu.Unlock()
	if e.nout == 0 {
		return nil
	}
	pr := newProc(b, b.ports.Load().byNo(inPort), inPort, false)
	pr.now = now
	pr.execute(e, buf, link.Headroom, len(buf), off)
	pr.flushOutputs()
	return nil
}
