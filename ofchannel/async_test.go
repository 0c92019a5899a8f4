package ofchannel

import (
	"bytes"
	"net"
	"testing"
	"time"

	"tapestry/flow"
	"tapestry/openflow"
)

// frame is a minimal Ethernet frame from 02:..:01 to 02:..:02.
var frame = append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5}, bytes.Repeat([]byte{0xab}, 50)...)

func TestPacketInAndFlowRemoved(t *testing.T) {
	tb := newTestBed(t, Config{})
	c := tb.dial(t, openflow.Version13)
	// A service connection receives async messages once it configures them.
	c.write(&openflow.SwitchConfig{IsSet: true, MissSendLen: 0xffff})
	fm := &openflow.FlowMod{Command: openflow.FlowAdd, Priority: 10, Cookie: 0x55, BufferID: openflow.NoBuffer,
		OutPort: openflow.PortAny, OutGroup: openflow.GroupAny, Flags: openflow.FlagSendFlowRem,
		Actions: []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortController, MaxLen: 0xffff}}}
	fm.Match.Set(flow.FieldInPort, flow.U64(1))
	c.write(fm)
	c.write(&openflow.BarrierRequest{})
	if m, _ := c.recvReply(); m.Type() != openflow.TypeBarrierReply {
		t.Fatalf("got %v, want barrier reply", m.Type())
	}
	if _, err := tb.hosts["p1"].Write([][]byte{frame}); err != nil {
		t.Fatal(err)
	}
	m, _ := c.recv()
	for m.Type() == openflow.TypePortStatus {
		m, _ = c.recv()
	}
	pin, ok := m.(*openflow.PacketIn)
	if !ok || pin.InPort != 1 || pin.Cookie != 0x55 || pin.BufferID != openflow.NoBuffer || !bytes.Equal(pin.Data, frame) {
		t.Fatalf("got %+v, want packet-in of the frame from port 1", m)
	}
	// The bridge credits a flow's counters when the receive batch ends,
	// which can be just after the packet-in went out: wait for the count
	// before deleting, so the flow-removed message carries it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if agg := tb.br.Aggregate(openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}); agg.Packets >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the flow never counted the packet")
		}
	}
	del := &openflow.FlowMod{Command: openflow.FlowDelete, Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny, BufferID: openflow.NoBuffer}
	c.write(del)
	m, _ = c.recv()
	fr, ok := m.(*openflow.FlowRemoved)
	if !ok || fr.Cookie != 0x55 || fr.Reason != openflow.RemovedDelete || fr.Packets != 1 {
		t.Fatalf("got %+v, want flow removed (delete) of cookie 0x55 with 1 packet", m)
	}
}

// TestRateLimit checks the token bucket on a fake clock.
func TestRateLimit(t *testing.T) {
	now := time.Unix(100, 0)
	var tb tokenBucket
	tb.init(100, 25, func() time.Time { return now })
	n := 0
	for range 1000 {
		if tb.allow() {
			n++
		}
	}
	if n != 25 {
		t.Fatalf("burst allowed %d, want 25", n)
	}
	now = now.Add(100 * time.Millisecond) // 10 more tokens
	n = 0
	for range 1000 {
		if tb.allow() {
			n++
		}
	}
	if n != 10 {
		t.Fatalf("after 100ms allowed %d, want 10", n)
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct{ in, network, addr string }{
		{"tcp:127.0.0.1:6653", "tcp", "127.0.0.1:6653"},
		{"tcp:127.0.0.1", "tcp", "127.0.0.1:6653"},
		{"tcp:[::1]:6633", "tcp", "[::1]:6633"},
		{"unix:/run/c.sock", "unix", "/run/c.sock"},
		{"ssl:1.2.3.4", "", ""},
		{"tcp:nohost", "", ""},
	}
	for _, tc := range tests {
		n, a, err := parseTarget(tc.in)
		if n != tc.network || a != tc.addr || (err != nil) != (tc.network == "") {
			t.Errorf("parseTarget(%q) = %q, %q, %v; want %q, %q", tc.in, n, a, err, tc.network, tc.addr)
		}
	}
}

// FuzzConn feeds arbitrary bytes after a valid hello; the agent must not
// panic and must still answer an echo unless the bytes broke framing.
func FuzzConn(f *testing.F) {
	f.Add([]byte{4, 2, 0, 8, 0, 0, 0, 1})
	f.Add(badActionFlowMod())
	f.Add(raw13(14, -1, make([]byte, 40)...))
	f.Add(raw13(18, -1, 0, 12, 0, 0, 0, 0, 0, 0, 0, 64))
	tb := newTestBed(f, Config{})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		defer b.Close()
		go tb.agent.Serve(a)
		c := &client{t: t, nc: b, br: newReader(b), buf: make([]byte, openflow.MaxMessageLen), version: openflow.Version13}
		c.write(&openflow.Hello{Versions: 1 << openflow.Version13})
		if m, _ := c.recv(); m.Type() != openflow.TypeHello {
			t.Fatalf("got %v", m.Type())
		}
		// Only whole messages keep the stream framed: send data only if
		// its length fields frame it exactly, else it would swallow the echo.
		if !framed(data) {
			return
		}
		go b.Write(data) //nolint:errcheck
		c.write(&openflow.EchoRequest{Data: []byte("ping")})
		for {
			b.SetReadDeadline(time.Now().Add(10 * time.Second))
			raw, err := openflow.ReadMessage(c.br, c.buf)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if raw[1] == uint8(openflow.TypeEchoReply) && string(raw[8:]) == "ping" {
				return
			}
		}
	})
}

// framed reports whether data is a sequence of complete 1.3 messages whose
// lengths are at least a header.
func framed(data []byte) bool {
	for len(data) > 0 {
		if len(data) < 8 {
			return false
		}
		n := int(data[2])<<8 | int(data[3])
		if n < 8 || n > len(data) {
			return false
		}
		data = data[n:]
	}
	return true
}
