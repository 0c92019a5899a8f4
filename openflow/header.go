package openflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// OpenFlow versions this codec speaks (the ofp_header version byte).
const (
	Version10 uint8 = 0x01
	Version13 uint8 = 0x04
)

// HeaderLen is the size of ofp_header (OpenFlow 1.3 §7.1).
const HeaderLen = 8

// MaxMessageLen is the largest message a 16-bit length field can describe.
const MaxMessageLen = 0xffff

// Offsets within ofp_header.
const (
	hdrVersion = 0
	hdrType    = 1
	hdrLength  = 2
	hdrXid     = 4
)

// Type is a message type in OpenFlow 1.3 numbering (enum ofp_type). OpenFlow
// 1.0 messages are mapped onto it (its OFPT_STATS_REQUEST is
// TypeMultipartRequest, its OFPT_VENDOR is TypeExperimenter), so the rest of
// the code never cares which version a message came in.
type Type uint8

// Message types, OpenFlow 1.3 values.
const (
	TypeHello                 Type = 0
	TypeError                 Type = 1
	TypeEchoRequest           Type = 2
	TypeEchoReply             Type = 3
	TypeExperimenter          Type = 4
	TypeFeaturesRequest       Type = 5
	TypeFeaturesReply         Type = 6
	TypeGetConfigRequest      Type = 7
	TypeGetConfigReply        Type = 8
	TypeSetConfig             Type = 9
	TypePacketIn              Type = 10
	TypeFlowRemoved           Type = 11
	TypePortStatus            Type = 12
	TypePacketOut             Type = 13
	TypeFlowMod               Type = 14
	TypeGroupMod              Type = 15
	TypePortMod               Type = 16
	TypeTableMod              Type = 17
	TypeMultipartRequest      Type = 18
	TypeMultipartReply        Type = 19
	TypeBarrierRequest        Type = 20
	TypeBarrierReply          Type = 21
	TypeQueueGetConfigRequest Type = 22
	TypeQueueGetConfigReply   Type = 23
	TypeRoleRequest           Type = 24
	TypeRoleReply             Type = 25
	TypeGetAsyncRequest       Type = 26
	TypeGetAsyncReply         Type = 27
	TypeSetAsync              Type = 28
	TypeMeterMod              Type = 29
	typeInvalid               Type = 0xff
)

var typeNames = [...]string{
	"OFPT_HELLO", "OFPT_ERROR", "OFPT_ECHO_REQUEST", "OFPT_ECHO_REPLY", "OFPT_EXPERIMENTER",
	"OFPT_FEATURES_REQUEST", "OFPT_FEATURES_REPLY", "OFPT_GET_CONFIG_REQUEST",
	"OFPT_GET_CONFIG_REPLY", "OFPT_SET_CONFIG", "OFPT_PACKET_IN", "OFPT_FLOW_REMOVED",
	"OFPT_PORT_STATUS", "OFPT_PACKET_OUT", "OFPT_FLOW_MOD", "OFPT_GROUP_MOD", "OFPT_PORT_MOD",
	"OFPT_TABLE_MOD", "OFPT_MULTIPART_REQUEST", "OFPT_MULTIPART_REPLY", "OFPT_BARRIER_REQUEST",
	"OFPT_BARRIER_REPLY", "OFPT_QUEUE_GET_CONFIG_REQUEST", "OFPT_QUEUE_GET_CONFIG_REPLY",
	"OFPT_ROLE_REQUEST", "OFPT_ROLE_REPLY", "OFPT_GET_ASYNC_REQUEST", "OFPT_GET_ASYNC_REPLY",
	"OFPT_SET_ASYNC", "OFPT_METER_MOD",
}

// String returns the spec's OFPT_ name.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("OFPT_%d", uint8(t))
}

// of10Types maps OpenFlow 1.0 wire types (OpenFlow 1.0 §5.1) to Type.
var of10Types = [...]Type{
	TypeHello, TypeError, TypeEchoRequest, TypeEchoReply, TypeExperimenter,
	TypeFeaturesRequest, TypeFeaturesReply, TypeGetConfigRequest, TypeGetConfigReply,
	TypeSetConfig, TypePacketIn, TypeFlowRemoved, TypePortStatus, TypePacketOut,
	TypeFlowMod, TypePortMod, TypeMultipartRequest, TypeMultipartReply,
	TypeBarrierRequest, TypeBarrierReply, TypeQueueGetConfigRequest, TypeQueueGetConfigReply,
}

// TypeOf maps a wire type of the given version to Type; ok is false for a
// type the version does not define.
func TypeOf(version, wire uint8) (t Type, ok bool) {
	switch version {
	case Version10:
		if int(wire) < len(of10Types) {
			return of10Types[wire], true
		}
	case Version13:
		if wire <= uint8(TypeMeterMod) {
			return Type(wire), true
		}
	}
	return typeInvalid, false
}

// WireType is the inverse of TypeOf.
func WireType(version uint8, t Type) (uint8, bool) {
	if version == Version13 {
		return uint8(t), t <= TypeMeterMod
	}
	for w, x := range of10Types {
		if x == t {
			return uint8(w), true
		}
	}
	return 0, false
}

// Header is ofp_header.
type Header struct {
	Version uint8
	Type    uint8 // wire value; see TypeOf
	Length  uint16
	Xid     uint32
}

// ParseHeader reads the header at the start of b. It checks only that eight
// bytes are present.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, errorf(ErrBadRequest, BRCBadLen, "message of %d bytes is shorter than a header", len(b))
	}
	return Header{
		Version: b[hdrVersion],
		Type:    b[hdrType],
		Length:  binary.BigEndian.Uint16(b[hdrLength:]),
		Xid:     binary.BigEndian.Uint32(b[hdrXid:]),
	}, nil
}

// ErrShortBuffer is returned by ReadMessage when buf cannot hold a message.
var ErrShortBuffer = errors.New("openflow: buffer too small for message")

// ReadMessage reads exactly one message from r into buf and returns it. It
// reads the 8-byte header first and then exactly the rest of the message, so
// it never consumes bytes of the next one. A length below 8 cannot be framed
// and is an error the connection cannot survive (OpenFlow 1.3 §7.1 gives the
// length as including the header). buf should hold MaxMessageLen bytes;
// smaller buffers fail with ErrShortBuffer for longer messages.
func ReadMessage(r io.Reader, buf []byte) ([]byte, error) {
	if len(buf) < HeaderLen {
		return nil, ErrShortBuffer
	}
	if _, err := io.ReadFull(r, buf[:HeaderLen]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(buf[hdrLength:]))
	if n < HeaderLen {
		return nil, errorf(ErrBadRequest, BRCBadLen, "message length %d is below the header size", n)
	}
	if n > len(buf) {
		return nil, fmt.Errorf("%w: message of %d bytes, buffer of %d", ErrShortBuffer, n, len(buf))
	}
	if _, err := io.ReadFull(r, buf[HeaderLen:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf[:n], nil
}

// appendHeader starts a message of type t; finish fills in its length.
func appendHeader(dst []byte, version uint8, t Type, xid uint32) ([]byte, int, error) {
	w, ok := WireType(version, t)
	if !ok || (version != Version10 && version != Version13) {
		return dst, 0, fmt.Errorf("openflow: %v does not exist in version 0x%02x", t, version)
	}
	start := len(dst)
	dst = append(dst, version, w, 0, 0, byte(xid>>24), byte(xid>>16), byte(xid>>8), byte(xid))
	return dst, start, nil
}

// finish writes the length of the message that starts at start.
func finish(dst []byte, start int) ([]byte, error) {
	n := len(dst) - start
	if n > MaxMessageLen {
		return dst[:start], fmt.Errorf("openflow: message of %d bytes exceeds %d", n, MaxMessageLen)
	}
	binary.BigEndian.PutUint16(dst[start+hdrLength:], uint16(n))
	return dst, nil
}

// Wire helpers: big-endian appends. They keep encoders one line per field.
func put16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }
func put32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
func put64(dst []byte, v uint64) []byte { return put32(put32(dst, uint32(v>>32)), uint32(v)) }
func pad(dst []byte, n int) []byte {
	for ; n > 0; n-- {
		dst = append(dst, 0)
	}
	return dst
}

// padTo8 pads the object that starts at start to a multiple of 8 bytes.
func padTo8(dst []byte, start int) []byte { return pad(dst, (8-(len(dst)-start)%8)%8) }

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// cstring returns the NUL-terminated string in a fixed-size field. A field
// whose last byte is not NUL breaks the spec's char arrays; like putString,
// and like Open vSwitch's ovs_strlcpy, keep at most len(b)-1 bytes so that
// what is decoded encodes back to the same bytes' meaning.
func cstring(b []byte) string {
	if len(b) > 0 {
		b = b[:len(b)-1]
	}
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// putString appends s in a NUL-padded field of n bytes, truncating so that a
// NUL always terminates it, as the spec's char arrays require.
func putString(dst []byte, s string, n int) []byte {
	if len(s) > n-1 {
		s = s[:n-1]
	}
	dst = append(dst, s...)
	return pad(dst, n-len(s))
}
