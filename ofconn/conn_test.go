package ofconn

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"

	"tapestry/openflow"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in            string
		network, addr string
		ok, wantErr   bool
	}{
		{"unix:/run/x/br0.mgmt", "unix", "/run/x/br0.mgmt", true, false},
		{"tcp:127.0.0.1", "tcp", "127.0.0.1:6653", true, false},
		{"tcp:127.0.0.1:16700", "tcp", "127.0.0.1:16700", true, false},
		{"tcp:[::1]:6634", "tcp", "[::1]:6634", true, false},
		{"tcp:[::1]", "tcp", "[::1]:6653", true, false},
		{"br-int", "", "", false, false},
		{"ssl:1.2.3.4", "", "", false, false},
		{"unix:", "", "", true, true},
		{"tcp:localhost", "", "", true, true},
		{"tcp:127.0.0.1:0", "", "", true, true},
		{"tcp:127.0.0.1:70000", "", "", true, true},
		{"tcp:[::1", "", "", true, true},
	}
	for _, tt := range tests {
		network, addr, ok, err := ParseTarget(tt.in)
		if (err != nil) != tt.wantErr || ok != tt.ok || network != tt.network || addr != tt.addr {
			t.Errorf("ParseTarget(%q) = %q, %q, %v, %v; want %q, %q, %v, err %v", tt.in, network, addr, ok, err, tt.network, tt.addr, tt.ok, tt.wantErr)
		}
	}
}

// fakeSwitch runs script against the switch end of a pipe and returns the
// client end and a function that closes it and waits for the script.
func fakeSwitch(t *testing.T, script func(sw net.Conn)) (net.Conn, func()) {
	t.Helper()
	client, sw := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sw.Close()
		script(sw)
	}()
	wait := func() { client.Close(); <-done }
	t.Cleanup(wait)
	return client, wait
}

// readMsg reads one message on the switch side; a read error (the client
// hung up) returns nil.
func readMsg(sw net.Conn) []byte {
	b, err := openflow.ReadMessage(sw, make([]byte, openflow.MaxMessageLen))
	if err != nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func send(sw net.Conn, m openflow.Message, version uint8, xid uint32) {
	b, err := m.Append(nil, version, xid)
	if err != nil {
		panic(err)
	}
	sw.Write(b)
}

// rawHello is a hello of any header version with an optional bitmap.
func rawHello(version uint8, bitmap uint32) []byte {
	b := []byte{version, 0, 0, 8, 0, 0, 0, 9}
	if bitmap != 0 {
		b = append(b, 0, 1, 0, 8, 0, 0, 0, 0)
		binary.BigEndian.PutUint32(b[12:], bitmap)
		b[3] = 16
	}
	return b
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name      string
		offer     uint32
		peer      []byte
		want      uint8
		wantErr   string
		ourHeader uint8
	}{
		{"ovs 1.0-1.5 bitmap", Spoken, rawHello(6, 0x7e), openflow.Version13, "", openflow.Version13},
		{"peer 1.0 only", Spoken, rawHello(1, 0), openflow.Version10, "", openflow.Version13},
		{"peer 1.3 header, no bitmap", Spoken, rawHello(4, 0), openflow.Version13, "", openflow.Version13},
		{"we offer 1.0", Bitmap(openflow.Version10), rawHello(6, 0x7e), openflow.Version10, "", openflow.Version10},
		{"no common version", Bitmap(openflow.Version10), rawHello(4, Bitmap(openflow.Version13)), 0, "version negotiation failed", openflow.Version10},
		{"not a hello", Spoken, []byte{4, 2, 0, 8, 0, 0, 0, 1}, 0, "expected a hello", openflow.Version13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ourHello, afterHello []byte
			nc, wait := fakeSwitch(t, func(sw net.Conn) {
				ourHello = readMsg(sw)
				sw.Write(tt.peer)
				afterHello = readMsg(sw)
			})
			c, err := Handshake(context.Background(), nc, tt.offer)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if c.Version() != tt.want {
					t.Errorf("version %#x, want %#x", c.Version(), tt.want)
				}
			}
			wait()
			func() {
				if ourHello == nil || ourHello[0] != tt.ourHeader {
					t.Errorf("our hello %x, want header version %#x", ourHello, tt.ourHeader)
				}
				if tt.wantErr == "version negotiation failed" && (len(afterHello) < 12 || afterHello[1] != 1 || binary.BigEndian.Uint16(afterHello[8:]) != 0) {
					t.Errorf("after a failed negotiation the switch got %x, want OFPET_HELLO_FAILED", afterHello)
				}
			}()
		})
	}
}

// handshake13 is the switch side of a 1.3 handshake.
func handshake13(sw net.Conn) bool {
	if readMsg(sw) == nil {
		return false
	}
	sw.Write(rawHello(4, Bitmap(openflow.Version13)))
	return true
}

func TestMultipartGathersPartsAndAnswersEcho(t *testing.T) {
	var echoReply []byte
	nc, wait := fakeSwitch(t, func(sw net.Conn) {
		if !handshake13(sw) {
			return
		}
		req := readMsg(sw)
		xid := binary.BigEndian.Uint32(req[4:])
		send(sw, &openflow.EchoRequest{Data: []byte("hi")}, 4, 77)
		echoReply = readMsg(sw)
		send(sw, &openflow.PacketIn{BufferID: openflow.NoBuffer, Data: []byte{1, 2}}, 4, 0) // async, kept
		send(sw, &openflow.MultipartReply{MPType: openflow.MPPortDesc, Flags: openflow.MultipartMore,
			PortDescs: []openflow.PortDesc{{No: 1, Name: "p1"}}}, 4, xid)
		send(sw, &openflow.MultipartReply{MPType: openflow.MPPortDesc, PortDescs: []openflow.PortDesc{{No: 2, Name: "p2"}}}, 4, xid)
		readMsg(sw)
	})
	c, err := Handshake(context.Background(), nc, Spoken)
	if err != nil {
		t.Fatal(err)
	}
	parts, xid, err := c.Multipart(context.Background(), &openflow.MultipartRequest{MPType: openflow.MPPortDesc})
	if err != nil {
		t.Fatal(err)
	}
	if xid != 2 || len(parts) != 2 || parts[0].PortDescs[0].Name != "p1" || parts[1].PortDescs[0].Name != "p2" {
		t.Errorf("xid %d, parts %+v", xid, parts)
	}
	if len(c.Async) != 1 || c.Async[0].Type() != openflow.TypePacketIn {
		t.Errorf("async messages %v, want the packet-in", c.Async)
	}
	wait()
	if len(echoReply) < 8 || echoReply[1] != 3 || binary.BigEndian.Uint32(echoReply[4:]) != 77 || string(echoReply[8:]) != "hi" {
		t.Errorf("echo reply %x", echoReply)
	}
}

func TestTransactReturnsErrorReply(t *testing.T) {
	nc, _ := fakeSwitch(t, func(sw net.Conn) {
		if !handshake13(sw) {
			return
		}
		fm := readMsg(sw)
		barrier := readMsg(sw)
		e := openflow.ErrorFor(4, errors.New("x"), fm)
		e.ErrType, e.Code = uint16(openflow.ErrGroupModFailed), openflow.GMFCOutOfGroups
		send(sw, e, 4, binary.BigEndian.Uint32(fm[4:]))
		send(sw, &openflow.BarrierReply{}, 4, binary.BigEndian.Uint32(barrier[4:]))
		readMsg(sw)
	})
	c, err := Handshake(context.Background(), nc, Spoken)
	if err != nil {
		t.Fatal(err)
	}
	c.SkipXIDs(4)
	xid, err := c.Transact(context.Background(), &openflow.GroupMod{Command: openflow.GroupAdd, Group: openflow.Group{ID: 1}})
	var er *ErrorReply
	if !errors.As(err, &er) {
		t.Fatalf("err %v, want an ErrorReply", err)
	}
	if xid != 6 || er.Error() != "OFPT_ERROR (OF1.3) (xid=0x6): OFPGMFC_OUT_OF_GROUPS" {
		t.Errorf("xid %d, error %q", xid, er.Error())
	}
	if h, _ := openflow.ParseHeader(er.Request()); h.Xid != 6 {
		t.Errorf("echoed request %x", er.Request())
	}
}

func TestErrorName(t *testing.T) {
	nxVendor := func(typ, code uint16) *openflow.Error {
		d := []byte{0, 0, 0x23, 0x20, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(d[4:], typ)
		binary.BigEndian.PutUint16(d[6:], code)
		return &openflow.Error{ErrType: openflow.Err10NiciraVendor, Data: d}
	}
	tests := []struct {
		version uint8
		err     *openflow.Error
		want    string
	}{
		{4, &openflow.Error{ErrType: 6, Code: 3}, "OFPGMFC_OUT_OF_GROUPS"},
		{4, &openflow.Error{ErrType: 1, Code: 4}, "OFPBRC_BAD_SUBTYPE"},
		{4, &openflow.Error{ErrType: 1, Code: 5}, "OFPBRC_EPERM"},
		{1, &openflow.Error{ErrType: 1, Code: 3}, "OFPBRC_BAD_VENDOR"},
		{1, &openflow.Error{ErrType: 3, Code: 0}, "OFPFMFC_TABLE_FULL"},
		{1, &openflow.Error{ErrType: 3, Code: 3}, "OFPFMFC_BAD_EMERG_TIMEOUT"},
		{1, &openflow.Error{ErrType: 2, Code: 4}, "OFPBAC_BAD_OUT_PORT"},
		{1, nxVendor(1, 512), "OFPBRC_BAD_TABLE_ID"},
		{1, nxVendor(0, 263), "OFPBMC_BAD_FIELD"},
		{1, nxVendor(1, 522), "OFPBAC_MATCH_INCONSISTENT"},
		{1, nxVendor(6, 3), "OFPGMFC_OUT_OF_GROUPS"},
		{1, nxVendor(1, 521), "NXBRC_UNENCODABLE_ERROR"},
		{1, nxVendor(2, 522), "OFPET10_2(522)"},
		{1, &openflow.Error{ErrType: 9, Code: 9}, "OFPET10_9(9)"},
	}
	for _, tt := range tests {
		if got := ErrorName(tt.version, tt.err); got != tt.want {
			t.Errorf("ErrorName(%#x, %d/%d) = %q, want %q", tt.version, tt.err.ErrType, tt.err.Code, got, tt.want)
		}
	}
}

// FuzzPeerVersions: any hello bytes give a bitmap or an error, never a
// panic.
func FuzzPeerVersions(f *testing.F) {
	f.Add(rawHello(6, 0x7e))
	f.Add(rawHello(1, 0))
	f.Add([]byte{4, 0, 0, 12, 0, 0, 0, 1, 0, 1, 0, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 4 {
			binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		}
		bm, err := peerVersions(b)
		if err == nil && bm == 0 {
			t.Errorf("hello %x: empty bitmap without an error", b)
		}
	})
}
