package ofconn

import (
	"context"
	"encoding/binary"
	"fmt"

	"tapestry/openflow"
)

// ErrorReply is an OFPT_ERROR the switch sent in answer to a request.
type ErrorReply struct {
	Version uint8
	XID     uint32
	Err     *openflow.Error
}

// Error prints the first line ovs-ofctl prints for an error reply, e.g.
// "OFPT_ERROR (OF1.3) (xid=0x6): OFPGMFC_OUT_OF_GROUPS".
func (e *ErrorReply) Error() string {
	return fmt.Sprintf("OFPT_ERROR%s (xid=%#x): %s", VersionTag(e.Version), e.XID, ErrorName(e.Version, e.Err))
}

// Request returns the part of the offending request the switch echoed
// back (at least its first 64 bytes, OpenFlow 1.3 §7.4.4), without a
// Nicira vendor error's own header.
func (e *ErrorReply) Request() []byte {
	d := e.Err.Data
	if e.Version == openflow.Version10 && e.Err.ErrType == openflow.Err10NiciraVendor && len(d) >= 8 {
		return d[8:]
	}
	return d
}

// VersionTag is the " (OF1.3)" Open vSwitch prints after a message name
// for versions other than 1.0.
func VersionTag(v uint8) string {
	if v == openflow.Version10 {
		return ""
	}
	return " (OF" + versionName(v) + ")"
}

// recv reads the next message, answering echo requests on the way (the
// switch probes idle connections, OpenFlow 1.3 §6.3.2).
func (c *Conn) recv() (openflow.Message, openflow.Header, error) {
	for {
		raw, err := openflow.ReadMessage(c.r, c.rbuf)
		if err != nil {
			return nil, openflow.Header{}, err
		}
		h, _ := openflow.ParseHeader(raw)
		m, err := openflow.Decode(raw)
		if err != nil {
			return nil, h, fmt.Errorf("decoding reply (xid=%#x): %w", h.Xid, err)
		}
		if e, ok := m.(*openflow.EchoRequest); ok {
			if err := c.write(&openflow.EchoReply{Data: e.Data}, c.version, h.Xid); err != nil {
				return nil, h, err
			}
			continue
		}
		return m, h, nil
	}
}

// Receive waits for the next message that is not an echo request, for
// clients that read asynchronous messages (packet-ins) themselves.
func (c *Conn) Receive(ctx context.Context) (openflow.Message, uint32, error) {
	if len(c.Async) > 0 {
		m := c.Async[0]
		c.Async = c.Async[1:]
		return m, 0, nil
	}
	stop := c.deadline(ctx)
	defer stop()
	m, h, err := c.recv()
	return m, h.Xid, err
}

// awaitXID reads until a message with xid arrives; others are kept in
// Async when asynchronous and dropped otherwise (late replies to earlier
// requests).
func (c *Conn) awaitXID(xid uint32) (openflow.Message, error) {
	for {
		m, h, err := c.recv()
		if err != nil {
			return nil, err
		}
		if h.Xid != xid {
			switch m.Type() {
			case openflow.TypePacketIn, openflow.TypePortStatus, openflow.TypeFlowRemoved:
				c.Async = append(c.Async, m)
			}
			continue
		}
		if e, ok := m.(*openflow.Error); ok {
			return nil, &ErrorReply{Version: c.version, XID: xid, Err: e}
		}
		return m, nil
	}
}

// Request sends m and returns the switch's reply, or an *ErrorReply.
func (c *Conn) Request(ctx context.Context, m openflow.Message) (openflow.Message, uint32, error) {
	stop := c.deadline(ctx)
	defer stop()
	xid, err := c.Send(m)
	if err != nil {
		return nil, xid, err
	}
	reply, err := c.awaitXID(xid)
	return reply, xid, err
}

// Multipart sends a multipart (1.0: stats) request and gathers every part
// of the reply (OFPMPF_REPLY_MORE, OpenFlow 1.3 §7.3.5).
func (c *Conn) Multipart(ctx context.Context, req *openflow.MultipartRequest) ([]*openflow.MultipartReply, uint32, error) {
	stop := c.deadline(ctx)
	defer stop()
	xid, err := c.Send(req)
	if err != nil {
		return nil, xid, err
	}
	var parts []*openflow.MultipartReply
	for {
		m, err := c.awaitXID(xid)
		if err != nil {
			return parts, xid, err
		}
		r, ok := m.(*openflow.MultipartReply)
		if !ok {
			return parts, xid, fmt.Errorf("reply to a multipart request (xid=%#x) is %v", xid, m.Type())
		}
		if r.MPType != req.MPType {
			return parts, xid, fmt.Errorf("multipart reply of type %d to a request of type %d", r.MPType, req.MPType)
		}
		parts = append(parts, r)
		if r.Flags&openflow.MultipartMore == 0 {
			return parts, xid, nil
		}
	}
}

// Transact sends m followed by a barrier and waits for the barrier reply
// (OpenFlow 1.3 §6.2: the switch finishes m first). An error the switch
// sent about m is returned as *ErrorReply; xid is m's.
func (c *Conn) Transact(ctx context.Context, m openflow.Message) (uint32, error) {
	var buf []byte
	var err error
	if buf, err = m.Append(nil, c.version, 0); err != nil {
		return 0, err
	}
	return c.TransactRaw(ctx, buf)
}

// TransactRaw is Transact for an encoded message (version and xid are
// rewritten), for Nicira extensions the codec has no type for.
func (c *Conn) TransactRaw(ctx context.Context, msg []byte) (uint32, error) {
	stop := c.deadline(ctx)
	defer stop()
	xid, err := c.SendRaw(msg)
	if err != nil {
		return xid, err
	}
	bxid, err := c.Send(&openflow.BarrierRequest{})
	if err != nil {
		return xid, err
	}
	var first error
	for {
		m, h, err := c.recv()
		if err != nil {
			return xid, err
		}
		switch {
		case h.Xid == xid:
			if e, ok := m.(*openflow.Error); ok && first == nil {
				first = &ErrorReply{Version: c.version, XID: xid, Err: e}
			}
		case h.Xid == bxid:
			if e, ok := m.(*openflow.Error); ok && first == nil {
				first = &ErrorReply{Version: c.version, XID: bxid, Err: e}
			}
			return xid, first
		default:
			switch m.Type() {
			case openflow.TypePacketIn, openflow.TypePortStatus, openflow.TypeFlowRemoved:
				c.Async = append(c.Async, m)
			}
		}
	}
}

// ErrorName names an error as Open vSwitch's ofp-errors does: by the
// OpenFlow 1.3 name for 1.3, and for 1.0 by translating the 1.0 wire type
// and code (and Nicira vendor errors, NXET_VENDOR) back.
func ErrorName(version uint8, e *openflow.Error) string {
	t, code := e.ErrType, e.Code
	if version == openflow.Version10 {
		if n, ok := openflow.ErrorName10(e); ok {
			return n
		}
		if t == openflow.Err10NiciraVendor && len(e.Data) >= 8 {
			// struct nx_vendor_error: vendor(4) type(2) code(2).
			t, code = binary.BigEndian.Uint16(e.Data[4:]), binary.BigEndian.Uint16(e.Data[6:])
		}
		return fmt.Sprintf("OFPET10_%d(%d)", t, code)
	}
	if t == uint16(openflow.ErrBadRequest) && code >= 2 && code <= 4 {
		return of10BadRequest[code-2]
	}
	return openflow.ErrorName(openflow.ErrorType(t), code)
}

// Open vSwitch keeps the OpenFlow 1.0 names of these bad-request codes in
// every version.
var of10BadRequest = [3]string{"OFPBRC_BAD_STAT", "OFPBRC_BAD_VENDOR", "OFPBRC_BAD_SUBTYPE"}
