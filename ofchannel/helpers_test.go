package ofchannel

import (
	"bufio"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"tapestry/link"
	"tapestry/ofproto"
	"tapestry/openflow"
)

// testBed is a bridge with ports p1 and p2 on in-memory wires and an agent
// serving it on a unix socket.
type testBed struct {
	br    *ofproto.Bridge
	agent *Agent
	sock  string
	hosts map[string]*link.Mem // the far end of each port's wire
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestBed(t testing.TB, cfg Config) *testBed {
	t.Helper()
	br := ofproto.New(ofproto.Config{Name: "br0", DatapathID: 0x1234, Logger: quietLogger()})
	tb := &testBed{br: br, hosts: map[string]*link.Mem{}}
	for i, name := range []string{"p1", "p2"} {
		sw, host := link.Pipe(name, name+"-host", link.PipeOptions{})
		mac := [6]byte{0x02, 0, 0, 0, 0, byte(i + 1)}
		if _, err := br.AddPort(ofproto.PortSpec{Name: name, Link: sw, HWAddr: mac, OFPort: uint32(i + 1)}); err != nil {
			t.Fatalf("AddPort(%s): %v", name, err)
		}
		tb.hosts[name] = host
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	tb.agent = New(br, cfg)
	tb.sock = filepath.Join(t.TempDir(), "br0.mgmt")
	if err := tb.agent.ListenUnix(tb.sock); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tb.agent.Close()
		br.Close()
		for _, h := range tb.hosts {
			h.Close()
		}
	})
	return tb
}

// client is a minimal controller speaking the openflow codec.
type client struct {
	t       testing.TB
	nc      net.Conn
	br      *bufio.Reader
	buf     []byte
	version uint8
	xid     uint32
	ctx     string // the test case, for failure messages
}

// dial connects and completes the hello exchange at version v.
func (tb *testBed) dial(t testing.TB, v uint8) *client {
	t.Helper()
	nc, err := net.Dial("unix", tb.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &client{t: t, nc: nc, br: bufio.NewReader(nc), buf: make([]byte, openflow.MaxMessageLen), version: v}
	h := &openflow.Hello{Versions: 1 << v}
	if v == openflow.Version10 {
		h.Versions = 0
	}
	c.write(h)
	m, _ := c.recv()
	if _, ok := m.(*openflow.Hello); !ok {
		t.Fatalf("first message %T, want hello", m)
	}
	return c
}

func (c *client) write(m openflow.Message) uint32 {
	c.t.Helper()
	c.xid++
	b, err := m.Append(nil, c.version, c.xid)
	if err != nil {
		c.t.Fatalf("encode %T: %v", m, err)
	}
	c.writeRaw(b)
	return c.xid
}

func (c *client) writeRaw(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// recv reads the next message; a 10 s deadline turns a hang into a failure.
func (c *client) recv() (openflow.Message, openflow.Header) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	raw, err := openflow.ReadMessage(c.br, c.buf)
	if err != nil {
		c.t.Fatalf("%s: read: %v", c.ctx, err)
	}
	h, _ := openflow.ParseHeader(raw)
	m, err := openflow.Decode(raw)
	if err != nil {
		c.t.Fatalf("decode %x: %v", raw[:min(len(raw), 32)], err)
	}
	return m, h
}

// recvType skips asynchronous messages (port-status, packet-in) until one
// that is not.
func (c *client) recvReply() (openflow.Message, openflow.Header) {
	c.t.Helper()
	for {
		m, h := c.recv()
		switch m.(type) {
		case *openflow.PortStatus, *openflow.PacketIn, *openflow.FlowRemoved:
			continue
		}
		return m, h
	}
}

// echo checks that the connection still answers.
func (c *client) echo() {
	c.t.Helper()
	xid := c.write(&openflow.EchoRequest{Data: []byte("ping")})
	m, h := c.recvReply()
	if r, ok := m.(*openflow.EchoReply); !ok || h.Xid != xid || string(r.Data) != "ping" {
		c.t.Fatalf("echo: got %T xid %d (want xid %d)", m, h.Xid, xid)
	}
}

// expectError reads the reply to xid and checks it is the given error.
func (c *client) expectError(xid uint32, t openflow.ErrorType, code uint16) *openflow.Error {
	c.t.Helper()
	m, h := c.recvReply()
	e, ok := m.(*openflow.Error)
	if !ok {
		c.t.Fatalf("got %T, want error %s", m, openflow.ErrorName(t, code))
	}
	wt, wc, exp := openflow.ErrorCodeFor(c.version, t, code)
	if h.Xid != xid || e.ErrType != wt || e.Code != wc || e.Experimenter != exp {
		c.t.Fatalf("got error type %d code %d xid %d, want %s (%d,%d) xid %d", e.ErrType, e.Code, h.Xid,
			openflow.ErrorName(t, code), wt, wc, xid)
	}
	return e
}

func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

func mustDial(t testing.TB, sock string) net.Conn {
	t.Helper()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

func newReader(nc net.Conn) *bufio.Reader { return bufio.NewReader(nc) }
