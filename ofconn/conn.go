// Package ofconn is the client side of an OpenFlow channel: what ovs-ofctl
// and controllers do when they talk to a switch. It dials unix: and tcp:
// targets, negotiates the version with hellos carrying a version bitmap
// (OpenFlow 1.3 §6.3.1), numbers requests, answers the switch's echo
// requests, gathers multipart replies and turns OFPT_ERROR into Go errors.
//
// A Conn is used by one goroutine at a time: requests are answered in
// order on the one connection, so there is nothing to demultiplex beyond
// skipping asynchronous messages (packet-ins, port status) that arrive
// between replies.
package ofconn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"tapestry/openflow"
)

// DefaultPort is the IANA OpenFlow port a tcp: target without a port uses,
// as ovs-ofctl 3.1 does.
const DefaultPort = 6653

// Bitmap returns the hello version bitmap for versions.
func Bitmap(versions ...uint8) uint32 {
	var b uint32
	for _, v := range versions {
		b |= 1 << v
	}
	return b
}

// Spoken is the bitmap of versions the codec speaks.
var Spoken = Bitmap(openflow.Version10, openflow.Version13)

// Conn is an OpenFlow connection to a switch after version negotiation.
type Conn struct {
	nc      net.Conn
	r       *bufio.Reader
	version uint8
	xid     uint32
	rbuf    []byte
	wbuf    []byte
	// Async holds asynchronous messages (packet-in, port status, flow
	// removed) read while waiting for a reply, oldest first.
	Async []openflow.Message
}

// ParseTarget splits an ovs-ofctl connection target into a network and an
// address for net.Dial: "unix:PATH", "tcp:IP[:PORT]" (IPv6 in brackets),
// the port defaulting to DefaultPort. ok is false for anything else (a
// bridge name, for instance).
func ParseTarget(target string) (network, addr string, ok bool, err error) {
	kind, rest, found := strings.Cut(target, ":")
	if !found {
		return "", "", false, nil
	}
	switch kind {
	case "unix":
		if rest == "" {
			return "", "", true, fmt.Errorf("%s: missing socket path", target)
		}
		return "unix", rest, true, nil
	case "tcp":
		host, port := rest, strconv.Itoa(DefaultPort)
		if strings.HasPrefix(rest, "[") {
			end := strings.Index(rest, "]")
			if end < 0 {
				return "", "", true, fmt.Errorf("%s: unterminated IPv6 address", target)
			}
			host = rest[1:end]
			if p, has := strings.CutPrefix(rest[end+1:], ":"); has {
				port = p
			}
		} else if h, p, has := strings.Cut(rest, ":"); has {
			host, port = h, p
		}
		if net.ParseIP(host) == nil {
			return "", "", true, fmt.Errorf("%s: %q is not an IP address", target, host)
		}
		if n, perr := strconv.ParseUint(port, 10, 16); perr != nil || n == 0 {
			return "", "", true, fmt.Errorf("%s: bad port %q", target, port)
		}
		return "tcp", net.JoinHostPort(host, port), true, nil
	}
	return "", "", false, nil
}

// Dial connects to target and negotiates a version from the bitmap
// versions (see Bitmap), picking the highest version both sides speak.
func Dial(ctx context.Context, target string, versions uint32) (*Conn, error) {
	network, addr, ok, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: not an OpenFlow connection target (unix:PATH or tcp:IP[:PORT])", target)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: connecting: %w", target, err)
	}
	c, err := Handshake(ctx, nc, versions)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	return c, nil
}

// Handshake exchanges hellos on nc (OpenFlow 1.3 §6.3.1). Our hello has
// the highest offered version in its header and, when more than OpenFlow
// 1.0 is offered, a version bitmap. The peer's bitmap, or else its header
// version and everything below it, gives the common set; the highest
// common version wins. Without one, the switch gets OFPET_HELLO_FAILED.
func Handshake(ctx context.Context, nc net.Conn, versions uint32) (*Conn, error) {
	versions &= Spoken
	if versions == 0 {
		return nil, errors.New("no OpenFlow version offered that tapestry speaks")
	}
	c := &Conn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), rbuf: make([]byte, openflow.MaxMessageLen)}
	stop := c.deadline(ctx)
	defer stop()
	top := highest(versions)
	hello := &openflow.Hello{}
	if versions != Bitmap(openflow.Version10) {
		hello.Versions = versions
	}
	c.xid = 1
	if err := c.write(hello, top, c.xid); err != nil {
		return nil, err
	}
	raw, err := openflow.ReadMessage(c.r, c.rbuf)
	if err != nil {
		return nil, fmt.Errorf("receiving hello: %w", err)
	}
	peer, err := peerVersions(raw)
	if err != nil {
		return nil, err
	}
	common := versions & peer
	if common == 0 {
		theirs := highest(peer)
		// The failure goes out in our highest version, as Open vSwitch
		// does; the text names both sides.
		text := fmt.Sprintf("We support %s, you support %s, no common versions.", versionList(versions), versionList(peer))
		c.write(&openflow.Error{ErrType: uint16(openflow.ErrHelloFailed), Code: 0, Data: []byte(text)}, top, 0)
		return nil, fmt.Errorf("version negotiation failed (we support version %s, peer supports version %s)", hexVersions(versions), fmt.Sprintf("%#02x", theirs))
	}
	c.version = highest(common)
	return c, nil
}

// peerVersions reads the set of versions a hello offers. The header may
// carry a version the codec does not decode (Open vSwitch says 1.5), so
// the elements are read here rather than through openflow.Decode.
func peerVersions(raw []byte) (uint32, error) {
	h, err := openflow.ParseHeader(raw)
	if err != nil {
		return 0, err
	}
	if h.Type != 0 { // OFPT_HELLO is type 0 in every version
		return 0, fmt.Errorf("expected a hello, got message type %d", h.Type)
	}
	if h.Version == 0 {
		return 0, errors.New("hello with version 0")
	}
	// Reuse the codec's element parser with a header it accepts.
	tmp := append([]byte(nil), raw...)
	tmp[0] = openflow.Version13
	m, err := openflow.Decode(tmp)
	if err != nil {
		return 0, fmt.Errorf("peer hello: %w", err)
	}
	if bm := m.(*openflow.Hello).Versions; bm != 0 {
		return bm, nil
	}
	// No bitmap: the peer speaks its header version and, by the 1.0-era
	// rule, nothing else we can rely on but older ones.
	if h.Version >= 31 {
		return 1<<31 - 1, nil
	}
	return 1<<(h.Version+1) - 1, nil
}

func highest(bm uint32) uint8 {
	for v := 31; v > 0; v-- {
		if bm&(1<<v) != 0 {
			return uint8(v)
		}
	}
	return 0
}

func versionList(bm uint32) string {
	var parts []string
	for v := 1; v < 32; v++ {
		if bm&(1<<v) != 0 {
			parts = append(parts, "OpenFlow "+versionName(uint8(v)))
		}
	}
	return strings.Join(parts, ", ")
}

func hexVersions(bm uint32) string {
	var parts []string
	for v := 1; v < 32; v++ {
		if bm&(1<<v) != 0 {
			parts = append(parts, fmt.Sprintf("%#02x", v))
		}
	}
	return strings.Join(parts, ", ")
}

// versionName is "1.0" for 0x01, "1.3" for 0x04 and so on.
func versionName(v uint8) string {
	if v == 0 || v > 9 {
		return fmt.Sprintf("0x%02x", v)
	}
	return fmt.Sprintf("1.%d", v-1)
}

// Version is the negotiated OpenFlow version (openflow.Version10 or
// openflow.Version13).
func (c *Conn) Version() uint8 { return c.version }

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// NextXID returns the transaction id the next request will carry.
func (c *Conn) NextXID() uint32 { return c.xid + 1 }

// SkipXIDs spends n transaction ids without sending anything. ovs-ofctl
// opens extra connections (each costing a hello xid) and negotiates
// Nicira flow formats before some commands; a client that wants its xids,
// which ovs-ofctl prints, to match skips the same number.
func (c *Conn) SkipXIDs(n int) { c.xid += uint32(n) }

// deadline applies ctx's deadline to the socket and, when ctx is
// cancelled, unblocks pending I/O; stop undoes both.
func (c *Conn) deadline(ctx context.Context) (stop func()) {
	if d, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(d)
	}
	release := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	return func() {
		release()
		c.nc.SetDeadline(time.Time{})
	}
}

func (c *Conn) write(m openflow.Message, version uint8, xid uint32) error {
	var err error
	c.wbuf, err = m.Append(c.wbuf[:0], version, xid)
	if err != nil {
		return err
	}
	_, err = c.nc.Write(c.wbuf)
	return err
}

// Send sends m with the next transaction id and returns the id.
func (c *Conn) Send(m openflow.Message) (uint32, error) {
	c.xid++
	return c.xid, c.write(m, c.version, c.xid)
}

// SendRaw sends an already encoded message, rewriting its version and
// transaction id; for messages the codec has no type for (Nicira
// extensions).
func (c *Conn) SendRaw(msg []byte) (uint32, error) {
	if len(msg) < openflow.HeaderLen {
		return 0, errors.New("raw message shorter than a header")
	}
	c.xid++
	msg[0] = c.version
	msg[4], msg[5], msg[6], msg[7] = byte(c.xid>>24), byte(c.xid>>16), byte(c.xid>>8), byte(c.xid)
	_, err := c.nc.Write(msg)
	return c.xid, err
}
