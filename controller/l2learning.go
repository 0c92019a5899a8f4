package controller

import (
	"sync"

	"tapestry/flow"
	"tapestry/openflow"
)

// L2Learning is a learning switch (the classic controller app): on every
// packet-in it learns source MAC -> in_port for that datapath; a packet to
// a known destination gets a flow (in_port, dl_src, dl_dst -> output, with
// an idle timeout) and is sent on; an unknown or multicast destination is
// flooded. On switch-up it installs the table-miss flow that sends
// everything to the controller (OpenFlow 1.3 switches drop misses
// otherwise, §5.4).
type L2Learning struct {
	// IdleTimeout of the learned flows, in seconds.
	IdleTimeout uint16
	// Priority of the learned flows.
	Priority uint16

	// mu guards tables.
	mu     sync.Mutex
	tables map[uint64]map[[6]byte]uint32

	// The scratch flow mod, reused for every packet-in (no allocation
	// per event): it is encoded into the switch's buffer before FlowMod
	// returns, and only the app's own goroutine touches it.
	fm    openflow.FlowMod
	fmAct [1]openflow.Action
}

// NewL2Learning returns the app with OVS-like defaults (idle_timeout=60,
// priority=10).
func NewL2Learning() *L2Learning {
	return &L2Learning{IdleTimeout: 60, Priority: 10, tables: make(map[uint64]map[[6]byte]uint32)}
}

// Name implements App.
func (*L2Learning) Name() string { return "l2-learning" }

// Lookup returns the port learned for mac on datapath dpid.
func (l *L2Learning) Lookup(dpid uint64, mac [6]byte) (uint32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.tables[dpid][mac]
	return p, ok
}

// TableMiss is the flow that sends unmatched packets to the controller.
func TableMiss() *openflow.FlowMod {
	return &openflow.FlowMod{
		Command: openflow.FlowAdd, Priority: 0, BufferID: openflow.NoBuffer,
		OutPort: openflow.PortAny, OutGroup: openflow.GroupAny,
		Actions: []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortController, MaxLen: openflow.ControllerMaxLen}},
	}
}

// HandleEvent implements App.
func (l *L2Learning) HandleEvent(_ *Controller, ev Event) error {
	switch ev.Kind {
	case EventSwitchUp:
		l.mu.Lock()
		l.tables[ev.Switch.DPID] = make(map[[6]byte]uint32)
		l.mu.Unlock()
		return ev.Switch.FlowMod(TableMiss())
	case EventSwitchDown:
		l.mu.Lock()
		delete(l.tables, ev.Switch.DPID)
		l.mu.Unlock()
	case EventPacketIn:
		return l.packetIn(ev.Switch, ev.PacketIn)
	}
	return nil
}

func (l *L2Learning) packetIn(s *Switch, pi *PacketIn) error {
	k := &pi.Key
	if k.DlType == 0x88cc { // LLDP belongs to the topology app
		return nil
	}
	l.mu.Lock()
	t := l.tables[s.DPID]
	if t == nil {
		t = make(map[[6]byte]uint32)
		l.tables[s.DPID] = t
	}
	if k.DlSrc[0]&1 == 0 {
		t[k.DlSrc] = k.InPort
	}
	out, known := t[k.DlDst]
	l.mu.Unlock()
	if !known || out == k.InPort {
		if known {
			return nil // the destination is behind the port it came from
		}
		out = openflow.PortFlood
	} else if err := s.FlowMod(l.learnedFlow(k, out)); err != nil {
		return nil // the switch went away; not the app's fault
	}
	_ = s.OutputPacket(k.InPort, out, pi.bufferData(), pi.BufferID)
	return nil
}

// learnedFlow fills the scratch flow mod: in_port, dl_src, dl_dst ->
// output.
func (l *L2Learning) learnedFlow(k *flow.Key, out uint32) *openflow.FlowMod {
	l.fmAct[0] = openflow.Action{Type: openflow.ActOutput, Port: out}
	l.fm = openflow.FlowMod{
		Command: openflow.FlowAdd, Priority: l.Priority, IdleTimeout: l.IdleTimeout,
		BufferID: openflow.NoBuffer, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny,
		Actions: l.fmAct[:],
	}
	l.fm.Match.Set(flow.FieldInPort, flow.U64(uint64(k.InPort)))
	l.fm.Match.Set(flow.FieldDlSrc, flow.Bytes(k.DlSrc[:]))
	l.fm.Match.Set(flow.FieldDlDst, flow.Bytes(k.DlDst[:]))
	return &l.fm
}

// bufferData is the frame to send in a packet-out: none when the switch
// buffered the packet.
func (pi *PacketIn) bufferData() []byte {
	if pi.BufferID != openflow.NoBuffer {
		return nil
	}
	return pi.Data
}
