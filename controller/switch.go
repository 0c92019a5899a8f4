package controller

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"tapestry/flow"
	"tapestry/openflow"
)

// maxMessage is the largest OpenFlow message (the 16-bit length field).
const maxMessage = 0xffff

// ErrSwitchGone is returned by requests to a switch whose connection closed
// before it answered.
var ErrSwitchGone = errors.New("controller: switch disconnected")

// Switch is one connected datapath, as the controller sees it. Its methods
// are safe for concurrent use by apps and the REST API.
type Switch struct {
	DPID      uint64
	Version   uint8 // negotiated: openflow.Version10 or Version13
	Addr      string
	Connected time.Time
	Tables    uint8

	c    *Controller
	conn net.Conn
	// r buffers reads: a busy switch sends many small messages (a
	// packet-in is ~100 bytes), and reading each header and body with
	// its own system call was the controller's largest cost.
	r   *bufio.Reader
	log *slog.Logger

	xid atomic.Uint32

	// wmu guards the outgoing buffer; a writer goroutine drains it so that
	// many small messages (flow mod + packet out per packet-in) leave in
	// one write.
	wmu     sync.Mutex
	wbuf    []byte
	wclosed bool
	wkick   chan struct{}

	// pmu guards the requests waiting for a reply, by xid.
	pmu     sync.Mutex
	pending map[uint32]*request

	// portMu guards ports, kept current from port-status messages.
	portMu sync.Mutex
	ports  map[uint32]openflow.PortDesc

	done     chan struct{}
	doneOnce sync.Once
	lastRecv atomic.Int64 // unix nanoseconds of the last message read
}

// request is one outstanding request; multipart replies accumulate until
// the last part (no MultipartMore flag) arrives.
type request struct {
	parts []openflow.Message
	done  chan error
}

func newSwitch(c *Controller, conn net.Conn) *Switch {
	s := &Switch{
		c:       c,
		conn:    conn,
		r:       bufio.NewReaderSize(conn, 1<<16),
		Addr:    conn.RemoteAddr().String(),
		wkick:   make(chan struct{}, 1),
		pending: make(map[uint32]*request),
		ports:   make(map[uint32]openflow.PortDesc),
		done:    make(chan struct{}),
	}
	s.log = c.log.With("switch", s.Addr)
	s.lastRecv.Store(time.Now().UnixNano())
	go s.writer()
	return s
}

// String names the switch by datapath id, as ovs-ofctl show prints it.
func (s *Switch) String() string { return FormatDPID(s.DPID) }

// FormatDPID prints a datapath id as 16 hex digits.
func FormatDPID(dpid uint64) string { return fmt.Sprintf("%016x", dpid) }

// Done is closed when the connection ends.
func (s *Switch) Done() <-chan struct{} { return s.done }

// Close drops the connection.
func (s *Switch) Close() {
	s.doneOnce.Do(func() {
		close(s.done)
		s.conn.Close()
		s.wmu.Lock()
		s.wclosed = true
		s.wmu.Unlock()
		s.pmu.Lock()
		for xid, r := range s.pending {
			r.done <- ErrSwitchGone
			delete(s.pending, xid)
		}
		s.pmu.Unlock()
	})
}

func (s *Switch) writer() {
	var out []byte
	for {
		select {
		case <-s.done:
			return
		case <-s.wkick:
		}
		s.wmu.Lock()
		out, s.wbuf = s.wbuf, out[:0]
		s.wmu.Unlock()
		if len(out) == 0 {
			continue
		}
		if _, err := s.conn.Write(out); err != nil {
			s.log.Debug("write failed", "err", err)
			s.Close()
			return
		}
	}
}

// Send queues m with a fresh transaction id and returns the xid.
func (s *Switch) Send(m openflow.Message) (uint32, error) {
	xid := s.xid.Add(1)
	return xid, s.sendXID(m, xid)
}

func (s *Switch) sendXID(m openflow.Message, xid uint32) error {
	s.wmu.Lock()
	if s.wclosed {
		s.wmu.Unlock()
		return ErrSwitchGone
	}
	n := len(s.wbuf)
	b, err := m.Append(s.wbuf, s.Version, xid)
	if err != nil {
		s.wbuf = b[:n]
		s.wmu.Unlock()
		return fmt.Errorf("controller: encode %v for OpenFlow 0x%02x: %w", m.Type(), s.Version, err)
	}
	s.wbuf = b
	s.wmu.Unlock()
	s.kick()
	return nil
}

// OutputPacket sends a packet-out with the single action output:port.
// Unlike PacketOut it allocates nothing: the message is built on the
// stack and encoded through its concrete type (a call through the
// Message interface makes the compiler move it to the heap).
func (s *Switch) OutputPacket(inPort, port uint32, data []byte, bufferID uint32) error {
	acts := [1]openflow.Action{{Type: openflow.ActOutput, Port: port}}
	po := openflow.PacketOut{BufferID: bufferID, InPort: inPort, Actions: acts[:], Data: data}
	xid := s.xid.Add(1)
	s.wmu.Lock()
	if s.wclosed {
		s.wmu.Unlock()
		return ErrSwitchGone
	}
	n := len(s.wbuf)
	b, err := po.Append(s.wbuf, s.Version, xid)
	if err != nil {
		s.wbuf = b[:n]
		s.wmu.Unlock()
		return fmt.Errorf("controller: encode OFPT_PACKET_OUT for OpenFlow 0x%02x: %w", s.Version, err)
	}
	s.wbuf = b
	s.wmu.Unlock()
	s.kick()
	return nil
}

// kick wakes the writer.
func (s *Switch) kick() {
	select {
	case s.wkick <- struct{}{}:
	default:
	}
}

// Request sends m and waits for its reply (all parts of a multipart
// reply) or an OFPT_ERROR, which it returns as an error.
func (s *Switch) Request(ctx context.Context, m openflow.Message) ([]openflow.Message, error) {
	r := &request{done: make(chan error, 1)}
	xid := s.xid.Add(1)
	s.pmu.Lock()
	s.pending[xid] = r
	s.pmu.Unlock()
	defer func() {
		s.pmu.Lock()
		delete(s.pending, xid)
		s.pmu.Unlock()
	}()
	if err := s.sendXID(m, xid); err != nil {
		return nil, err
	}
	select {
	case err := <-r.done:
		if err != nil {
			return nil, err
		}
		return r.parts, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("controller: %v to %v: %w", m.Type(), s, ctx.Err())
	case <-s.done:
		return nil, ErrSwitchGone
	}
}

// deliver hands a reply to its waiting request; it reports whether one
// was waiting.
func (s *Switch) deliver(xid uint32, m openflow.Message) bool {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	r := s.pending[xid]
	if r == nil {
		return false
	}
	if e, ok := m.(*openflow.Error); ok {
		delete(s.pending, xid)
		r.done <- fmt.Errorf("controller: switch %v answered with error %v", s, e)
		return true
	}
	r.parts = append(r.parts, m)
	if mp, ok := m.(*openflow.MultipartReply); ok && mp.Flags&openflow.MultipartMore != 0 {
		return true
	}
	delete(s.pending, xid)
	r.done <- nil
	return true
}

// FlowMod sends a flow mod.
func (s *Switch) FlowMod(fm *openflow.FlowMod) error {
	_, err := s.Send(fm)
	return err
}

// AddFlow parses ovs-ofctl flow text ("priority=10,ip,actions=drop") and
// adds it.
func (s *Switch) AddFlow(text string) error {
	return s.FlowText(text, openflow.FlowAdd)
}

// FlowText parses ovs-ofctl flow text for the given command and sends it.
func (s *Switch) FlowText(text string, cmd openflow.FlowModCommand) error {
	fm, err := parseFlowMod(text, cmd)
	if err != nil {
		return err
	}
	return s.FlowMod(&fm)
}

// DeleteFlows deletes the flows that ovs-ofctl del-flows text selects
// ("" for all).
func (s *Switch) DeleteFlows(text string) error {
	return s.FlowText(text, openflow.FlowDelete)
}

// PacketOut sends a packet out of the switch. With bufferID
// openflow.NoBuffer, data is the frame.
func (s *Switch) PacketOut(inPort uint32, actions []openflow.Action, data []byte, bufferID uint32) error {
	_, err := s.Send(&openflow.PacketOut{BufferID: bufferID, InPort: inPort, Actions: actions, Data: data})
	return err
}

// Output sends frame out of port (PortFlood floods it).
func (s *Switch) Output(inPort, port uint32, frame []byte) error {
	return s.OutputPacket(inPort, port, frame, openflow.NoBuffer)
}

// Barrier waits until the switch has processed every earlier message.
func (s *Switch) Barrier(ctx context.Context) error {
	_, err := s.Request(ctx, &openflow.BarrierRequest{})
	return err
}

// FlowStats dumps the flows that req selects.
func (s *Switch) FlowStats(ctx context.Context, req openflow.FlowStatsRequest) ([]openflow.FlowStats, error) {
	parts, err := s.Request(ctx, &openflow.MultipartRequest{MPType: openflow.MPFlow, Flow: req})
	if err != nil {
		return nil, err
	}
	var out []openflow.FlowStats
	for _, p := range parts {
		if mp, ok := p.(*openflow.MultipartReply); ok {
			out = append(out, mp.Flows...)
		}
	}
	return out, nil
}

// AllFlows is the flow-stats request for every flow in every table.
func AllFlows() openflow.FlowStatsRequest {
	return openflow.FlowStatsRequest{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}
}

// PortStats asks for the counters of every port.
func (s *Switch) PortStats(ctx context.Context) ([]openflow.PortStats, error) {
	parts, err := s.Request(ctx, &openflow.MultipartRequest{MPType: openflow.MPPortStats, Port: openflow.PortAny})
	if err != nil {
		return nil, err
	}
	var out []openflow.PortStats
	for _, p := range parts {
		if mp, ok := p.(*openflow.MultipartReply); ok {
			out = append(out, mp.Ports...)
		}
	}
	return out, nil
}

// Ports returns the switch's ports (without the local port), by number.
func (s *Switch) Ports() []openflow.PortDesc {
	s.portMu.Lock()
	defer s.portMu.Unlock()
	out := make([]openflow.PortDesc, 0, len(s.ports))
	for _, p := range s.ports {
		out = append(out, p)
	}
	sortPorts(out)
	return out
}

func (s *Switch) setPorts(ps []openflow.PortDesc) {
	s.portMu.Lock()
	defer s.portMu.Unlock()
	for _, p := range ps {
		s.ports[p.No] = p
	}
}

func (s *Switch) portStatus(ps *openflow.PortStatus) {
	s.portMu.Lock()
	defer s.portMu.Unlock()
	if ps.Reason == openflow.PortDelete {
		delete(s.ports, ps.Port.No)
		return
	}
	s.ports[ps.Port.No] = ps.Port
}

// PacketIn is a packet-in with its flow key already extracted.
type PacketIn struct {
	openflow.PacketIn
	Key flow.Key
}
