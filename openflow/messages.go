package openflow

// Message is one decoded OpenFlow message. Append encodes it for version
// (Version10 or Version13) with transaction id xid after dst; it fails
// when the message cannot be expressed in that version.
type Message interface {
	Type() Type
	Append(dst []byte, version uint8, xid uint32) ([]byte, error)
}

// Encode returns m encoded as a new message.
func Encode(m Message, version uint8, xid uint32) ([]byte, error) {
	return m.Append(nil, version, xid)
}

// Decode parses one complete message (as ReadMessage returns it). A
// *CodecError tells the switch which OFPT_ERROR to answer with; the header
// (ParseHeader) gives the xid to answer to.
func Decode(b []byte) (Message, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if int(h.Length) != len(b) {
		return nil, errorf(ErrBadRequest, BRCBadLen, "header length %d but %d bytes", h.Length, len(b))
	}
	if h.Type == 0 && h.Version != 0 {
		// HELLO has one layout in every version (OpenFlow 1.5 §7.5.1), and
		// a peer offering 1.4 or 1.5 (Open vSwitch 3 does) must still be
		// heard so that the versions can be negotiated down.
		return decodeHello(h.Version, b[HeaderLen:])
	}
	if h.Version != Version10 && h.Version != Version13 {
		return nil, errorf(ErrBadRequest, BRCBadVersion, "version 0x%02x", h.Version)
	}
	t, ok := TypeOf(h.Version, h.Type)
	if !ok {
		return nil, errorf(ErrBadRequest, BRCBadType, "message type %d", h.Type)
	}
	dec := decoders[t]
	if dec == nil {
		return nil, errorf(ErrBadRequest, BRCBadType, "message type %v", t)
	}
	return dec(h.Version, b[HeaderLen:])
}

type decoder func(version uint8, body []byte) (Message, error)

var decoders [TypeMeterMod + 1]decoder

func init() {
	decoders = [TypeMeterMod + 1]decoder{
		TypeHello:                 decodeHello,
		TypeError:                 decodeError,
		TypeEchoRequest:           func(_ uint8, b []byte) (Message, error) { return &EchoRequest{Data: clone(b)}, nil },
		TypeEchoReply:             func(_ uint8, b []byte) (Message, error) { return &EchoReply{Data: clone(b)}, nil },
		TypeExperimenter:          decodeExperimenter,
		TypeFeaturesRequest:       emptyBody(func() Message { return &FeaturesRequest{} }),
		TypeFeaturesReply:         decodeFeaturesReply,
		TypeGetConfigRequest:      emptyBody(func() Message { return &GetConfigRequest{} }),
		TypeGetConfigReply:        decodeConfig(TypeGetConfigReply),
		TypeSetConfig:             decodeConfig(TypeSetConfig),
		TypePacketIn:              decodePacketIn,
		TypeFlowRemoved:           decodeFlowRemoved,
		TypePortStatus:            decodePortStatus,
		TypePacketOut:             decodePacketOut,
		TypeFlowMod:               decodeFlowModMsg,
		TypeGroupMod:              decodeGroupMod,
		TypePortMod:               decodePortMod,
		TypeTableMod:              decodeTableMod,
		TypeMultipartRequest:      decodeMultipartRequest,
		TypeMultipartReply:        decodeMultipartReply,
		TypeBarrierRequest:        emptyBody(func() Message { return &BarrierRequest{} }),
		TypeBarrierReply:          emptyBody(func() Message { return &BarrierReply{} }),
		TypeQueueGetConfigRequest: decodeQueueGetConfigRequest,
		TypeQueueGetConfigReply:   decodeQueueGetConfigReply,
		TypeRoleRequest:           decodeRole(TypeRoleRequest),
		TypeRoleReply:             decodeRole(TypeRoleReply),
		TypeGetAsyncRequest:       emptyBody(func() Message { return &GetAsyncRequest{} }),
		TypeGetAsyncReply:         decodeAsync(TypeGetAsyncReply),
		TypeSetAsync:              decodeAsync(TypeSetAsync),
		TypeMeterMod:              decodeMeterMod,
	}
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func emptyBody(mk func() Message) decoder {
	return func(_ uint8, b []byte) (Message, error) {
		if len(b) != 0 {
			m := mk()
			return nil, errorf(ErrBadRequest, BRCBadLen, "%v with a %d-byte body", m.Type(), len(b))
		}
		return mk(), nil
	}
}

// fixedBody checks a body of exactly n bytes.
func fixedBody(t Type, b []byte, n int) error {
	if len(b) != n {
		return errorf(ErrBadRequest, BRCBadLen, "%v body of %d bytes, want %d", t, len(b), n)
	}
	return nil
}

// minBody checks a body of at least n bytes.
func minBody(t Type, b []byte, n int) error {
	if len(b) < n {
		return errorf(ErrBadRequest, BRCBadLen, "%v body of %d bytes, want at least %d", t, len(b), n)
	}
	return nil
}

// simple appends a message whose body is body.
func simple(dst []byte, version uint8, t Type, xid uint32, body []byte) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, t, xid)
	if err != nil {
		return dst, err
	}
	return finish(append(dst, body...), start)
}

// Hello is OFPT_HELLO. Versions is the version bitmap (bit n set = version
// n supported, OpenFlow 1.3 §7.5.1); zero means no bitmap element, as in
// OpenFlow 1.0 and in hellos that only state their header version.
type Hello struct {
	Versions uint32
}

// Type implements Message.
func (*Hello) Type() Type { return TypeHello }

const helloElemVersionBitmap = 1

func decodeHello(_ uint8, b []byte) (Message, error) {
	h := &Hello{}
	// Elements: type(2) length(2) body, padded to 8. Unknown ones are
	// skipped, as the spec requires.
	for len(b) >= 4 {
		t, n := be16(b), int(be16(b[2:]))
		if n < 4 || n > len(b) {
			return nil, errorf(ErrBadRequest, BRCBadLen, "hello element length %d", n)
		}
		if t == helloElemVersionBitmap && n >= 8 {
			h.Versions = be32(b[4:])
		}
		adv := (n + 7) &^ 7
		if adv > len(b) {
			adv = len(b)
		}
		b = b[adv:]
	}
	return h, nil
}

// Append implements Message.
func (h *Hello) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypeHello, xid)
	if err != nil {
		return dst, err
	}
	if h.Versions != 0 {
		dst = put32(append(dst, 0, helloElemVersionBitmap, 0, 8), h.Versions)
	}
	return finish(dst, start)
}

// Error is OFPT_ERROR. For experimenter errors (ErrType 0xffff) Code is the
// exp_type and Experimenter the experimenter id.
type Error struct {
	ErrType      uint16 // wire type in the message's version
	Code         uint16
	Experimenter uint32
	Data         []byte
}

// Type implements Message.
func (*Error) Type() Type { return TypeError }

func (e *Error) String() string {
	return ErrorName(ErrorType(e.ErrType), e.Code)
}

func decodeError(version uint8, b []byte) (Message, error) {
	if err := minBody(TypeError, b, 4); err != nil {
		return nil, err
	}
	e := &Error{ErrType: be16(b), Code: be16(b[2:])}
	b = b[4:]
	if e.ErrType == 0xffff && version != Version10 {
		if err := minBody(TypeError, b, 4); err != nil {
			return nil, err
		}
		e.Experimenter = be32(b)
		b = b[4:]
	}
	e.Data = clone(b)
	return e, nil
}

// Append implements Message.
func (e *Error) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypeError, xid)
	if err != nil {
		return dst, err
	}
	dst = put16(put16(dst, e.ErrType), e.Code)
	if e.ErrType == 0xffff && version != Version10 {
		dst = put32(dst, e.Experimenter)
	}
	return finish(append(dst, e.Data...), start)
}

// EchoRequest is OFPT_ECHO_REQUEST.
type EchoRequest struct{ Data []byte }

// EchoReply is OFPT_ECHO_REPLY.
type EchoReply struct{ Data []byte }

// Type implements Message.
func (*EchoRequest) Type() Type { return TypeEchoRequest }

// Type implements Message.
func (*EchoReply) Type() Type { return TypeEchoReply }

// Append implements Message.
func (m *EchoRequest) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	return simple(dst, version, TypeEchoRequest, xid, m.Data)
}

// Append implements Message.
func (m *EchoReply) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	return simple(dst, version, TypeEchoReply, xid, m.Data)
}

// Experimenter is OFPT_EXPERIMENTER (OFPT_VENDOR in 1.0). The codec knows no
// experimenter messages: a switch answers every one with
// OFPBRC_BAD_EXPERIMENTER (OFPBRC_BAD_VENDOR in 1.0), as Open vSwitch does
// for vendors it does not know; UnknownExperimenter builds that error.
type Experimenter struct {
	Experimenter uint32
	ExpType      uint32 // absent in OpenFlow 1.0
	Data         []byte
}

// Type implements Message.
func (*Experimenter) Type() Type { return TypeExperimenter }

func decodeExperimenter(version uint8, b []byte) (Message, error) {
	n := 8
	if version == Version10 {
		n = 4
	}
	if err := minBody(TypeExperimenter, b, n); err != nil {
		return nil, err
	}
	m := &Experimenter{Experimenter: be32(b)}
	if version != Version10 {
		m.ExpType = be32(b[4:])
	}
	m.Data = clone(b[n:])
	return m, nil
}

// Append implements Message.
func (m *Experimenter) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypeExperimenter, xid)
	if err != nil {
		return dst, err
	}
	dst = put32(dst, m.Experimenter)
	if version != Version10 {
		dst = put32(dst, m.ExpType)
	}
	return finish(append(dst, m.Data...), start)
}

// UnknownExperimenter is the error for an experimenter message or
// multipart request the switch does not implement.
func UnknownExperimenter(id uint32) error {
	return errorf(ErrBadRequest, BRCBadExperimenter, "unknown experimenter 0x%08x", id)
}

// FeaturesRequest is OFPT_FEATURES_REQUEST.
type FeaturesRequest struct{}

// Type implements Message.
func (*FeaturesRequest) Type() Type { return TypeFeaturesRequest }

// Append implements Message.
func (*FeaturesRequest) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	return simple(dst, version, TypeFeaturesRequest, xid, nil)
}

// GetConfigRequest is OFPT_GET_CONFIG_REQUEST.
type GetConfigRequest struct{}

// Type implements Message.
func (*GetConfigRequest) Type() Type { return TypeGetConfigRequest }

// Append implements Message.
func (*GetConfigRequest) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	return simple(dst, version, TypeGetConfigRequest, xid, nil)
}

// BarrierRequest is OFPT_BARRIER_REQUEST.
type BarrierRequest struct{}

// Type implements Message.
func (*BarrierRequest) Type() Type { return TypeBarrierRequest }

// Append implements Message.
func (*BarrierRequest) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	return simple(dst, version, TypeBarrierRequest, xid, nil)
}

// BarrierReply is OFPT_BARRIER_REPLY.
type BarrierReply struct{}

// Type implements Message.
func (*BarrierReply) Type() Type { return TypeBarrierReply }

// Append implements Message.
func (*BarrierReply) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	return simple(dst, version, TypeBarrierReply, xid, nil)
}

// GetAsyncRequest is OFPT_GET_ASYNC_REQUEST (1.3).
type GetAsyncRequest struct{}

// Type implements Message.
func (*GetAsyncRequest) Type() Type { return TypeGetAsyncRequest }

// Append implements Message.
func (*GetAsyncRequest) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	return simple(dst, version, TypeGetAsyncRequest, xid, nil)
}

// Config flags (OFPC_FRAG_*).
const (
	ConfigFragNormal = 0
	ConfigFragDrop   = 1
	ConfigFragReasm  = 2
)

// SwitchConfig is OFPT_GET_CONFIG_REPLY or OFPT_SET_CONFIG (IsSet).
type SwitchConfig struct {
	IsSet       bool
	Flags       uint16
	MissSendLen uint16
}

// Type implements Message.
func (c *SwitchConfig) Type() Type {
	if c.IsSet {
		return TypeSetConfig
	}
	return TypeGetConfigReply
}

func decodeConfig(t Type) decoder {
	return func(_ uint8, b []byte) (Message, error) {
		if err := fixedBody(t, b, 4); err != nil {
			return nil, err
		}
		return &SwitchConfig{IsSet: t == TypeSetConfig, Flags: be16(b), MissSendLen: be16(b[2:])}, nil
	}
}

// Append implements Message.
func (c *SwitchConfig) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	var body [4]byte
	return simple(dst, version, c.Type(), xid, put16(put16(body[:0], c.Flags), c.MissSendLen))
}

// Controller roles (OFPCR_ROLE_*).
const (
	RoleNoChange = 0
	RoleEqual    = 1
	RoleMaster   = 2
	RoleSlave    = 3
)

// Role is OFPT_ROLE_REQUEST or OFPT_ROLE_REPLY (IsReply).
type Role struct {
	IsReply      bool
	Role         uint32
	GenerationID uint64
}

// Type implements Message.
func (r *Role) Type() Type {
	if r.IsReply {
		return TypeRoleReply
	}
	return TypeRoleRequest
}

func decodeRole(t Type) decoder {
	return func(_ uint8, b []byte) (Message, error) {
		if err := fixedBody(t, b, 16); err != nil {
			return nil, err
		}
		return &Role{IsReply: t == TypeRoleReply, Role: be32(b), GenerationID: be64(b[8:])}, nil
	}
}

// Append implements Message.
func (r *Role) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	var body [16]byte
	return simple(dst, version, r.Type(), xid, put64(pad(put32(body[:0], r.Role), 4), r.GenerationID))
}

// AsyncConfig is OFPT_GET_ASYNC_REPLY or OFPT_SET_ASYNC (IsSet): per
// reason bitmasks, index 0 for the master/equal role, 1 for slave.
type AsyncConfig struct {
	IsSet       bool
	PacketIn    [2]uint32
	PortStatus  [2]uint32
	FlowRemoved [2]uint32
}

// Type implements Message.
func (a *AsyncConfig) Type() Type {
	if a.IsSet {
		return TypeSetAsync
	}
	return TypeGetAsyncReply
}

func decodeAsync(t Type) decoder {
	return func(_ uint8, b []byte) (Message, error) {
		if err := fixedBody(t, b, 24); err != nil {
			return nil, err
		}
		a := &AsyncConfig{IsSet: t == TypeSetAsync}
		for i := range 2 {
			a.PacketIn[i] = be32(b[4*i:])
			a.PortStatus[i] = be32(b[8+4*i:])
			a.FlowRemoved[i] = be32(b[16+4*i:])
		}
		return a, nil
	}
}

// Append implements Message.
func (a *AsyncConfig) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	var body [24]byte
	out := body[:0]
	for _, v := range [...]uint32{a.PacketIn[0], a.PacketIn[1], a.PortStatus[0], a.PortStatus[1], a.FlowRemoved[0], a.FlowRemoved[1]} {
		out = put32(out, v)
	}
	return simple(dst, version, a.Type(), xid, out)
}

// TableMod is OFPT_TABLE_MOD (1.3).
type TableMod struct {
	Table  uint8
	Config uint32
}

// Type implements Message.
func (*TableMod) Type() Type { return TypeTableMod }

func decodeTableMod(_ uint8, b []byte) (Message, error) {
	if err := fixedBody(TypeTableMod, b, 8); err != nil {
		return nil, err
	}
	return &TableMod{Table: b[0], Config: be32(b[4:])}, nil
}

// Append implements Message.
func (m *TableMod) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	var body [8]byte
	return simple(dst, version, TypeTableMod, xid, put32(append(body[:0], m.Table, 0, 0, 0), m.Config))
}

// QueueGetConfigRequest is OFPT_QUEUE_GET_CONFIG_REQUEST.
type QueueGetConfigRequest struct{ Port uint32 }

// Type implements Message.
func (*QueueGetConfigRequest) Type() Type { return TypeQueueGetConfigRequest }

func decodeQueueGetConfigRequest(version uint8, b []byte) (Message, error) {
	if version == Version10 {
		if err := fixedBody(TypeQueueGetConfigRequest, b, 4); err != nil {
			return nil, err
		}
		return &QueueGetConfigRequest{Port: port10To32(be16(b))}, nil
	}
	if err := fixedBody(TypeQueueGetConfigRequest, b, 8); err != nil {
		return nil, err
	}
	return &QueueGetConfigRequest{Port: be32(b)}, nil
}

// Append implements Message.
func (m *QueueGetConfigRequest) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	var body [8]byte
	if version == Version10 {
		p, _ := port32To10(m.Port)
		return simple(dst, version, TypeQueueGetConfigRequest, xid, pad(put16(body[:0], p), 2))
	}
	return simple(dst, version, TypeQueueGetConfigRequest, xid, pad(put32(body[:0], m.Port), 4))
}

// QueueGetConfigReply is OFPT_QUEUE_GET_CONFIG_REPLY; the queue list is
// kept raw (tapestry has no queues to describe).
type QueueGetConfigReply struct {
	Port   uint32
	Queues []byte
}

// Type implements Message.
func (*QueueGetConfigReply) Type() Type { return TypeQueueGetConfigReply }

func decodeQueueGetConfigReply(version uint8, b []byte) (Message, error) {
	if err := minBody(TypeQueueGetConfigReply, b, 8); err != nil {
		return nil, err
	}
	if version == Version10 {
		return &QueueGetConfigReply{Port: port10To32(be16(b)), Queues: clone(b[8:])}, nil
	}
	return &QueueGetConfigReply{Port: be32(b), Queues: clone(b[8:])}, nil
}

// Append implements Message.
func (m *QueueGetConfigReply) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypeQueueGetConfigReply, xid)
	if err != nil {
		return dst, err
	}
	if version == Version10 {
		p, _ := port32To10(m.Port)
		dst = pad(put16(dst, p), 6)
	} else {
		dst = pad(put32(dst, m.Port), 4)
	}
	return finish(append(dst, m.Queues...), start)
}
