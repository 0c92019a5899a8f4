package ofchannel

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"tapestry/openflow"
)

// helloTimeout bounds how long a peer may take to send its HELLO.
const helloTimeout = 10 * time.Second

// Default async masks (OpenFlow 1.3 §7.3.10, as Open vSwitch sets them):
// index 0 is master/equal, 1 is slave.
var defaultAsync = openflow.AsyncConfig{
	PacketIn:    [2]uint32{1<<openflow.ReasonNoMatch | 1<<openflow.ReasonAction, 0},
	PortStatus:  [2]uint32{1<<openflow.PortAdd | 1<<openflow.PortDelete | 1<<openflow.PortModify, 1<<openflow.PortAdd | 1<<openflow.PortDelete | 1<<openflow.PortModify},
	FlowRemoved: [2]uint32{1<<openflow.RemovedIdleTimeout | 1<<openflow.RemovedHardTimeout | 1<<openflow.RemovedDelete, 0},
}

// conn is one OpenFlow connection.
type conn struct {
	a   *Agent
	nc  net.Conn
	ctl *controller // nil for service connections (punix:, ptcp:)

	version  uint8
	out      chan []byte
	quit     chan struct{}
	once     sync.Once
	lastRecv atomic.Int64 // unix nanoseconds of the last message received

	// mu guards the per-connection OpenFlow state below, read by the
	// goroutines that fan out asynchronous messages.
	mu          sync.Mutex
	role        uint32
	async       openflow.AsyncConfig
	asyncOn     bool // service connections get async messages once they ask
	missSendLen uint16
	cfgFlags    uint16
	// flowModTableID: NXT_FLOW_MOD_TABLE_ID enabled (OpenFlow 1.0).
	flowModTableID bool
}

func (a *Agent) newConn(nc net.Conn, ctl *controller) *conn {
	c := &conn{a: a, nc: nc, ctl: ctl, out: make(chan []byte, a.cfg.SendQueue), quit: make(chan struct{}),
		role: openflow.RoleEqual, async: defaultAsync, asyncOn: ctl != nil, missSendLen: 128}
	c.lastRecv.Store(time.Now().UnixNano())
	return c
}

// close ends the connection: the writer flushes what is queued (bounded
// by a write deadline, so a stuck peer cannot hold it) and then closes the
// socket, which also ends the reader.
func (c *conn) close() {
	c.once.Do(func() {
		close(c.quit)
		c.nc.SetWriteDeadline(time.Now().Add(time.Second)) //nolint:errcheck
	})
}

// send queues a reply, waiting while the queue is full: a peer that does
// not read its replies stops being read from. It reports false once the
// connection is closed.
func (c *conn) send(b []byte) bool {
	select {
	case c.out <- b:
		return true
	case <-c.quit:
		return false
	}
}

// trySend queues an asynchronous message unless the queue is full.
func (c *conn) trySend(b []byte) bool {
	select {
	case c.out <- b:
		return true
	default:
		return false
	}
}

// reply encodes m for the connection's version and queues it.
func (c *conn) reply(m openflow.Message, xid uint32) {
	b, err := m.Append(nil, c.version, xid)
	if err != nil {
		c.a.log.Warn("ofchannel: cannot encode reply", "type", m.Type(), "err", err)
		return
	}
	c.send(b)
}

// replyError answers request with the OFPT_ERROR err maps to, carrying the
// first 64 bytes of the request (OpenFlow 1.3 §7.4.4).
func (c *conn) replyError(xid uint32, err error, request []byte) {
	c.a.log.Debug("ofchannel: request refused", "err", err)
	c.reply(openflow.ErrorFor(c.version, err, request), xid)
}

// writer drains the send queue, flushing whenever it runs dry.
func (c *conn) writer() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	for {
		select {
		case b := <-c.out:
			if _, err := bw.Write(b); err != nil {
				c.close()
				c.nc.Close()
				return
			}
			if len(c.out) == 0 {
				if err := bw.Flush(); err != nil {
					c.close()
					c.nc.Close()
					return
				}
			}
		case <-c.quit:
			// Flush what is queued (an error reply before a close,
			// for example) on a best-effort basis, then close.
			for {
				select {
				case b := <-c.out:
					bw.Write(b) //nolint:errcheck // closing anyway
				default:
					bw.Flush() //nolint:errcheck
					c.nc.Close()
					return
				}
			}
		}
	}
}

// runConn runs one connection until it closes.
func (a *Agent) runConn(nc net.Conn, ctl *controller) {
	c := a.newConn(nc, ctl)
	if !a.register(c) {
		nc.Close()
		return
	}
	defer a.unregister(c)
	defer c.close()
	done := make(chan struct{})
	go func() { c.writer(); close(done) }()
	defer func() { c.close(); <-done }()
	br := bufio.NewReaderSize(nc, 64<<10)
	buf := make([]byte, openflow.MaxMessageLen)
	if err := c.handshake(br, buf); err != nil {
		a.log.Debug("ofchannel: hello failed", "peer", nc.RemoteAddr(), "err", err)
		return
	}
	if ctl != nil {
		ctl.connected(c)
		defer ctl.disconnected(c)
		a.checkFailOpen()
		go c.probe()
	}
	c.readLoop(br, buf)
}

// handshake sends our HELLO, reads the peer's and settles the version
// (OpenFlow 1.3 §6.3.1): with bitmaps on both sides the highest common
// version; otherwise the smaller of the two header versions, which we must
// support.
func (c *conn) handshake(br *bufio.Reader, buf []byte) error {
	high := highestBit(c.a.vers)
	hello, _ := (&openflow.Hello{Versions: c.a.vers}).Append(nil, high, 0)
	if high == openflow.Version10 {
		// An OpenFlow 1.0 hello has no elements.
		hello, _ = (&openflow.Hello{}).Append(nil, high, 0)
	}
	c.send(hello)
	c.nc.SetReadDeadline(time.Now().Add(helloTimeout)) //nolint:errcheck
	raw, err := openflow.ReadMessage(br, buf)
	if err != nil {
		return err
	}
	c.nc.SetReadDeadline(time.Time{}) //nolint:errcheck
	h, _ := openflow.ParseHeader(raw)
	if h.Type != uint8(openflow.TypeHello) {
		c.failHello(h, fmt.Sprintf("first message is type %d, not hello", h.Type))
		return errors.New("peer did not start with hello")
	}
	var peer uint32
	if m, err := openflow.Decode(raw); err == nil {
		peer = m.(*openflow.Hello).Versions
	}
	var v uint8
	if peer != 0 {
		v = highestBit(peer & c.a.vers)
	} else if h.Version != 0 {
		v = min(h.Version, high)
		if c.a.vers&(1<<v) == 0 {
			v = 0
		}
	}
	if v == 0 {
		c.failHello(h, fmt.Sprintf("we support versions 0x%x, peer 0x%02x (bitmap 0x%x)", c.a.vers, h.Version, peer))
		return errors.New("no common version")
	}
	c.version = v
	c.lastRecv.Store(time.Now().UnixNano())
	return nil
}

// failHello answers a failed negotiation with OFPET_HELLO_FAILED/
// OFPHFC_INCOMPATIBLE, whose data is an ASCII explanation (OpenFlow 1.3
// §7.4.4.1).
func (c *conn) failHello(h openflow.Header, why string) {
	v := openflow.Version13
	if h.Version < openflow.Version13 {
		v = openflow.Version10
	}
	e := &openflow.Error{ErrType: uint16(openflow.ErrHelloFailed), Code: openflow.HFCIncompatible, Data: []byte(why)}
	b, err := e.Append(nil, v, h.Xid)
	if err == nil {
		c.send(b)
	}
}

func highestBit(x uint32) uint8 {
	for v := 31; v > 0; v-- {
		if x&(1<<v) != 0 {
			return uint8(v)
		}
	}
	return 0
}

// readLoop reads and handles messages in order until the stream ends or
// cannot be framed.
func (c *conn) readLoop(br *bufio.Reader, buf []byte) {
	var batch flowModBatch
	for {
		raw, err := openflow.ReadMessage(br, buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.a.log.Debug("ofchannel: connection dropped", "peer", c.nc.RemoteAddr(), "err", err)
				if _, _, ok := openflow.ErrorCodeOf(err); ok {
					// A length below the header size: say why, then
					// close, since the stream cannot be framed.
					c.replyError(binary.BigEndian.Uint32(buf[4:8]), err, buf[:openflow.HeaderLen])
				}
			}
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
		if c.isFlowMod(raw) {
			c.flowMods(&batch, raw, br, buf)
			continue
		}
		c.handle(raw)
	}
}

// probe sends an echo request after InactivityProbe of silence and drops
// the connection after another InactivityProbe (ovs-vswitchd.conf.db(5)
// Controller inactivity_probe).
func (c *conn) probe() {
	p := c.a.cfg.InactivityProbe
	t := time.NewTicker(p / 4)
	defer t.Stop()
	var echoed int64
	for {
		select {
		case <-c.quit:
			return
		case now := <-t.C:
			last := c.lastRecv.Load()
			idle := time.Duration(now.UnixNano() - last)
			switch {
			case idle >= 2*p:
				c.a.log.Info("ofchannel: controller inactive, disconnecting", "peer", c.nc.RemoteAddr(), "idle", idle)
				c.close()
				return
			case idle >= p && echoed != last:
				echoed = last
				b, _ := (&openflow.EchoRequest{}).Append(nil, c.version, 0)
				c.trySend(b)
			}
		}
	}
}
