package controllertest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"tapestry/flow"
	"tapestry/openflow"
)

// Blaster is a switch for load tests: it answers the handshake, then
// sends pre-encoded packet-ins as fast as the connection takes them and
// counts what comes back by message type without decoding it, so that a
// benchmark measures the controller rather than the fake switch.
type Blaster struct {
	conn    net.Conn
	version uint8

	// mu guards the counters; cond signals changes.
	mu         sync.Mutex
	cond       *sync.Cond
	packetOuts int
	flowMods   int
	err        error
}

// Header offsets (OpenFlow 1.3 §7.1, the same in 1.0).
const (
	offVersion = 0
	offType    = 1
	offXid     = 4
)

// DialBlaster connects a blaster with datapath id dpid and nports ports.
func DialBlaster(addr string, dpid uint64, nports uint32, version uint8) (*Blaster, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &Blaster{conn: conn, version: version}
	b.cond = sync.NewCond(&b.mu)
	hello, _ := (&openflow.Hello{Versions: 1 << version}).Append(nil, version, 1)
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, err
	}
	go b.serve(dpid, nports)
	return b, nil
}

// Close drops the connection.
func (b *Blaster) Close() error { return b.conn.Close() }

func (b *Blaster) serve(dpid uint64, nports uint32) {
	r := bufio.NewReaderSize(b.conn, 1<<16)
	buf := make([]byte, 0xffff)
	var err error
	for err == nil {
		var m []byte
		if m, err = openflow.ReadMessage(r, buf); err != nil {
			break
		}
		err = b.handle(m, dpid, nports)
	}
	b.mu.Lock()
	b.err = err
	b.cond.Broadcast()
	b.mu.Unlock()
}

func (b *Blaster) handle(m []byte, dpid uint64, nports uint32) error {
	xid := binary.BigEndian.Uint32(m[offXid:])
	t, ok := openflow.TypeOf(m[offVersion], m[offType])
	if !ok {
		return fmt.Errorf("controllertest: unknown message type %d", m[offType])
	}
	switch t {
	case openflow.TypePacketOut:
		b.count(&b.packetOuts)
		return nil
	case openflow.TypeFlowMod:
		b.count(&b.flowMods)
		return nil
	case openflow.TypeHello, openflow.TypeSetConfig, openflow.TypeEchoReply:
		return nil
	}
	var reply openflow.Message
	switch t {
	case openflow.TypeEchoRequest:
		reply = &openflow.EchoReply{}
	case openflow.TypeFeaturesRequest:
		f := &openflow.FeaturesReply{DatapathID: dpid, Tables: 254}
		if b.version == openflow.Version10 {
			f.Ports = portDescs(dpid, nports)
		}
		reply = f
	case openflow.TypeMultipartRequest:
		reply = &openflow.MultipartReply{MPType: openflow.MPPortDesc, PortDescs: portDescs(dpid, nports)}
	case openflow.TypeBarrierRequest:
		reply = &openflow.BarrierReply{}
	case openflow.TypeRoleRequest:
		dec, err := openflow.Decode(m)
		if err != nil {
			return err
		}
		r := *dec.(*openflow.Role)
		r.IsReply = true
		reply = &r
	default:
		return nil
	}
	out, err := reply.Append(nil, b.version, xid)
	if err != nil {
		return err
	}
	_, err = b.conn.Write(out)
	return err
}

func (b *Blaster) count(n *int) {
	b.mu.Lock()
	*n++
	b.cond.Broadcast()
	b.mu.Unlock()
}

func portDescs(dpid uint64, n uint32) []openflow.PortDesc {
	ps := make([]openflow.PortDesc, 0, n)
	for i := uint32(1); i <= n; i++ {
		ps = append(ps, openflow.PortDesc{No: i, Name: fmt.Sprintf("p%d", i), HWAddr: [6]byte{0x02, 0, 0, 0, byte(dpid), byte(i)}})
	}
	return ps
}

// PacketIns encodes one table-miss packet-in per frame, frame i arriving
// on port ports[i].
func (b *Blaster) PacketIns(ports []uint32, frames [][]byte) ([][]byte, error) {
	out := make([][]byte, len(frames))
	for i, f := range frames {
		pi := &openflow.PacketIn{BufferID: openflow.NoBuffer, TotalLen: uint16(len(f)), InPort: ports[i], Data: f}
		pi.Match.Set(flow.FieldInPort, flow.U64(uint64(ports[i])))
		m, err := pi.Append(nil, b.version, 0)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// Send writes n packet-ins, cycling through the encoded msgs, in writes
// of up to 64 KiB.
func (b *Blaster) Send(n int, msgs [][]byte) error {
	w := bufio.NewWriterSize(b.conn, 1<<16)
	for i := 0; i < n; i++ {
		if _, err := w.Write(msgs[i%len(msgs)]); err != nil {
			return err
		}
	}
	return w.Flush()
}

// Wait blocks until at least packetOuts packet-outs arrived, the
// connection failed or timeout passed.
func (b *Blaster) Wait(packetOuts int, timeout time.Duration) error {
	expired := false
	t := time.AfterFunc(timeout, func() {
		b.mu.Lock()
		expired = true
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer t.Stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.packetOuts < packetOuts {
		switch {
		case b.err != nil && !errors.Is(b.err, io.EOF):
			return b.err
		case b.err != nil, expired:
			return fmt.Errorf("controllertest: %d of %d packet-outs arrived", b.packetOuts, packetOuts)
		}
		b.cond.Wait()
	}
	return nil
}

// Counts returns the packet-outs and flow mods received.
func (b *Blaster) Counts() (packetOuts, flowMods int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.packetOuts, b.flowMods
}
