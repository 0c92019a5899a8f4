// Package controllertest is a test kit for the controller: a small
// OpenFlow switch that speaks the wire protocol over a real connection,
// keeps a flow table (highest priority wins, output actions only), and
// lets tests inject frames on ports and read what comes out.
package controllertest

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"tapestry/flow"
	"tapestry/openflow"
)

// Switch is the fake datapath.
type Switch struct {
	DPID    uint64
	Version uint8
	NPorts  uint32

	conn net.Conn
	// wmu serialises writes to conn.
	wmu sync.Mutex

	// mu guards flows, out, flowMods and the counters.
	mu       sync.Mutex
	flows    []openflow.FlowMod
	out      map[uint32][][]byte
	flowMods []openflow.FlowMod
	cond     *sync.Cond
	gone     bool

	// PacketIns counts packet-ins sent; PacketOuts packet-outs received.
	PacketIns, PacketOuts int
}

// Dial connects a switch with nports ports (1..nports) to the controller
// at addr, speaking version (openflow.Version10 or Version13).
func Dial(addr string, dpid uint64, nports uint32, version uint8) (*Switch, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Switch{DPID: dpid, Version: version, NPorts: nports, conn: conn, out: make(map[uint32][][]byte)}
	s.cond = sync.NewCond(&s.mu)
	b, _ := (&openflow.Hello{Versions: 1 << version}).Append(nil, version, 1)
	if _, err := conn.Write(b); err != nil {
		return nil, err
	}
	go s.serve()
	return s, nil
}

// Close drops the connection.
func (s *Switch) Close() error { return s.conn.Close() }

func (s *Switch) send(m openflow.Message, xid uint32) {
	b, err := m.Append(nil, s.Version, xid)
	if err != nil {
		panic(fmt.Sprintf("controllertest: encode %v: %v", m.Type(), err))
	}
	s.wmu.Lock()
	_, _ = s.conn.Write(b)
	s.wmu.Unlock()
}

func (s *Switch) ports() []openflow.PortDesc {
	var ps []openflow.PortDesc
	for i := uint32(1); i <= s.NPorts; i++ {
		ps = append(ps, openflow.PortDesc{No: i, Name: fmt.Sprintf("p%d", i), HWAddr: [6]byte{0x02, 0, 0, 0, byte(s.DPID), byte(i)}})
	}
	return ps
}

func (s *Switch) serve() {
	buf := make([]byte, 0xffff)
	for {
		b, err := openflow.ReadMessage(s.conn, buf)
		if err != nil {
			s.mu.Lock()
			s.gone = true
			s.cond.Broadcast()
			s.mu.Unlock()
			return
		}
		h, _ := openflow.ParseHeader(b)
		m, err := openflow.Decode(b)
		if err != nil {
			continue
		}
		s.handle(h.Xid, m)
	}
}

func (s *Switch) handle(xid uint32, m openflow.Message) {
	switch m := m.(type) {
	case *openflow.EchoRequest:
		s.send(&openflow.EchoReply{Data: m.Data}, xid)
	case *openflow.FeaturesRequest:
		f := &openflow.FeaturesReply{DatapathID: s.DPID, Tables: 254, Buffers: 0}
		if s.Version == openflow.Version10 {
			f.Ports = s.ports()
		}
		s.send(f, xid)
	case *openflow.MultipartRequest:
		s.multipart(xid, m)
	case *openflow.BarrierRequest:
		s.send(&openflow.BarrierReply{}, xid)
	case *openflow.Role:
		s.send(&openflow.Role{IsReply: true, Role: m.Role, GenerationID: m.GenerationID}, xid)
	case *openflow.FlowMod:
		s.flowMod(m)
	case *openflow.PacketOut:
		s.mu.Lock()
		s.PacketOuts++
		s.mu.Unlock()
		s.execute(m.InPort, m.Actions, m.Data)
	}
}

func (s *Switch) multipart(xid uint32, m *openflow.MultipartRequest) {
	r := &openflow.MultipartReply{MPType: m.MPType}
	switch m.MPType {
	case openflow.MPPortDesc:
		r.PortDescs = s.ports()
	case openflow.MPPortStats:
		for _, p := range s.ports() {
			r.Ports = append(r.Ports, openflow.PortStats{No: p.No})
		}
	case openflow.MPFlow:
		s.mu.Lock()
		for _, f := range s.flows {
			if m.Flow.Table != openflow.TableAll && f.Table != m.Flow.Table {
				continue
			}
			if f.Cookie&m.Flow.CookieMask != m.Flow.Cookie&m.Flow.CookieMask {
				continue
			}
			r.Flows = append(r.Flows, openflow.FlowStats{Table: f.Table, Priority: f.Priority, Match: f.Match, Cookie: f.Cookie,
				IdleTimeout: f.IdleTimeout, HardTimeout: f.HardTimeout, Actions: f.Actions})
		}
		s.mu.Unlock()
	}
	s.send(r, xid)
}

func (s *Switch) flowMod(m *openflow.FlowMod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flowMods = append(s.flowMods, *m)
	same := func(f *openflow.FlowMod) bool {
		return f.Priority == m.Priority && f.Match == m.Match && f.Table == m.Table
	}
	switch m.Command {
	case openflow.FlowAdd:
		s.flows = slices.DeleteFunc(s.flows, func(f openflow.FlowMod) bool { return same(&f) })
		s.flows = append(s.flows, *m)
		slices.SortStableFunc(s.flows, func(a, b openflow.FlowMod) int { return int(b.Priority) - int(a.Priority) })
	case openflow.FlowDelete, openflow.FlowDeleteStrict:
		s.flows = slices.DeleteFunc(s.flows, func(f openflow.FlowMod) bool {
			if m.Command == openflow.FlowDeleteStrict {
				return f.Priority == m.Priority && f.Match == m.Match
			}
			return f.Cookie&m.CookieMask == m.Cookie&m.CookieMask && covers(&m.Match, &f.Match)
		})
	}
	s.cond.Broadcast()
}

// covers reports whether every packet f matches is matched by m (m is
// the same or less specific), as non-strict delete selects flows.
func covers(m, f *flow.Match) bool {
	mw, fw := (*flow.Key)(&m.Mask).Words(), (*flow.Key)(&f.Mask).Words()
	kw, fk := m.Key.Words(), f.Key.Words()
	for i := range mw {
		if mw[i]&^fw[i] != 0 || kw[i] != fk[i]&mw[i] {
			return false
		}
	}
	return true
}

// Inject receives frame on port: the flow table decides; a miss with no
// table-miss flow is dropped (OpenFlow 1.3 §5.4).
func (s *Switch) Inject(port uint32, frame []byte) {
	var k flow.Key
	flow.Extract(frame, port, &k)
	s.mu.Lock()
	var acts []openflow.Action
	found := false
	for i := range s.flows {
		if s.flows[i].Match.Matches(&k) {
			acts, found = s.flows[i].Actions, true
			break
		}
	}
	s.mu.Unlock()
	if found {
		s.execute(port, acts, frame)
	}
}

func (s *Switch) execute(inPort uint32, acts []openflow.Action, frame []byte) {
	for _, a := range acts {
		if a.Type != openflow.ActOutput {
			continue
		}
		switch a.Port {
		case openflow.PortController:
			s.mu.Lock()
			s.PacketIns++
			s.mu.Unlock()
			pi := &openflow.PacketIn{BufferID: openflow.NoBuffer, TotalLen: uint16(len(frame)), InPort: inPort, Data: frame}
			pi.Match.Set(flow.FieldInPort, flow.U64(uint64(inPort)))
			s.send(pi, 0)
		case openflow.PortFlood, openflow.PortAll:
			for p := uint32(1); p <= s.NPorts; p++ {
				if p != inPort {
					s.deliver(p, frame)
				}
			}
		default:
			s.deliver(a.Port, frame)
		}
	}
}

func (s *Switch) deliver(port uint32, frame []byte) {
	s.mu.Lock()
	s.out[port] = append(s.out[port], slices.Clone(frame))
	s.cond.Broadcast()
	s.mu.Unlock()
}

// Received returns and clears the frames sent out of port.
func (s *Switch) Received(port uint32) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.out[port]
	delete(s.out, port)
	return r
}

// Flows returns a copy of the flow table, highest priority first.
func (s *Switch) Flows() []openflow.FlowMod {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.flows)
}

// FlowMods returns every flow mod received so far.
func (s *Switch) FlowMods() []openflow.FlowMod {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.flowMods)
}

// WaitFor blocks until cond (called with the switch locked, given the
// flow table and the frames out) holds, the connection closes or timeout
// passes; it reports whether cond held. Tests use it instead of sleeping.
func (s *Switch) WaitFor(timeout time.Duration, cond func(flows []openflow.FlowMod, out map[uint32][][]byte) bool) bool {
	expired := false
	t := time.AfterFunc(timeout, func() {
		s.mu.Lock()
		expired = true
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer t.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !cond(s.flows, s.out) {
		if s.gone || expired {
			return false
		}
		s.cond.Wait()
	}
	return true
}

// InjectMiss sends frame to the controller as a table miss on port,
// whatever the flow table says (an OpenFlow 1.0 switch's default miss).
func (s *Switch) InjectMiss(port uint32, frame []byte) {
	s.execute(port, []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortController}}, frame)
}

// Counts returns the packet-ins sent and packet-outs received.
func (s *Switch) Counts() (packetIns, packetOuts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.PacketIns, s.PacketOuts
}
