package openflow

import "fmt"

// ofp_port sizes: OpenFlow 1.0 §5.2.1 (48 bytes, 16-bit port, no speeds)
// and OpenFlow 1.3 §7.2.1 (64 bytes).
const (
	port10Len   = 48
	port13Len   = 64
	portNameLen = 16
)

func portLen(version uint8) int {
	if version == Version10 {
		return port10Len
	}
	return port13Len
}

func decodePortDesc(version uint8, b []byte) PortDesc {
	var p PortDesc
	if version == Version10 {
		p.No = port10To32(be16(b))
		copy(p.HWAddr[:], b[2:8])
		p.Name = cstring(b[8:24])
		b = b[24:]
	} else {
		p.No = be32(b)
		copy(p.HWAddr[:], b[8:14])
		p.Name = cstring(b[16:32])
		b = b[32:]
	}
	p.Config, p.State = PortConfig(be32(b)), PortState(be32(b[4:]))
	p.Curr, p.Advertised, p.Supported, p.Peer = be32(b[8:]), be32(b[12:]), be32(b[16:]), be32(b[20:])
	if version != Version10 {
		p.CurrSpeed, p.MaxSpeed = be32(b[24:]), be32(b[28:])
	}
	return p
}

func appendPortDesc(dst []byte, version uint8, p *PortDesc) ([]byte, error) {
	if version == Version10 {
		no, ok := port32To10(p.No)
		if !ok {
			return dst, fmt.Errorf("openflow: port %d has no OpenFlow 1.0 number", p.No)
		}
		dst = append(put16(dst, no), p.HWAddr[:]...)
	} else {
		dst = pad(append(pad(put32(dst, p.No), 4), p.HWAddr[:]...), 2)
	}
	dst = putString(dst, p.Name, portNameLen)
	dst = put32(put32(dst, uint32(p.Config)), uint32(p.State))
	dst = put32(put32(put32(put32(dst, p.Curr), p.Advertised), p.Supported), p.Peer)
	if version != Version10 {
		dst = put32(put32(dst, p.CurrSpeed), p.MaxSpeed)
	}
	return dst, nil
}

func decodePortList(version uint8, b []byte) ([]PortDesc, error) {
	n := portLen(version)
	if len(b)%n != 0 {
		return nil, errorf(ErrBadRequest, BRCBadLen, "port list of %d bytes is not a multiple of %d", len(b), n)
	}
	out := make([]PortDesc, 0, len(b)/n)
	for ; len(b) > 0; b = b[n:] {
		out = append(out, decodePortDesc(version, b))
	}
	return out, nil
}

// FeaturesReply is OFPT_FEATURES_REPLY. Ports and Actions exist only in
// OpenFlow 1.0 (1.3 moved ports to the port-desc multipart); AuxiliaryID
// only in 1.3.
type FeaturesReply struct {
	DatapathID   uint64
	Buffers      uint32
	Tables       uint8
	AuxiliaryID  uint8
	Capabilities uint32
	Actions      uint32
	Ports        []PortDesc
}

// Type implements Message.
func (*FeaturesReply) Type() Type { return TypeFeaturesReply }

func decodeFeaturesReply(version uint8, b []byte) (Message, error) {
	if err := minBody(TypeFeaturesReply, b, 24); err != nil {
		return nil, err
	}
	f := &FeaturesReply{DatapathID: be64(b), Buffers: be32(b[8:]), Tables: b[12], Capabilities: be32(b[16:])}
	if version == Version10 {
		f.Actions = be32(b[20:])
		var err error
		if f.Ports, err = decodePortList(version, b[24:]); err != nil {
			return nil, err
		}
		return f, nil
	}
	if err := fixedBody(TypeFeaturesReply, b, 24); err != nil {
		return nil, err
	}
	f.AuxiliaryID = b[13]
	return f, nil
}

// Append implements Message.
func (f *FeaturesReply) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypeFeaturesReply, xid)
	if err != nil {
		return dst, err
	}
	dst = append(put32(put64(dst, f.DatapathID), f.Buffers), f.Tables)
	if version == Version10 {
		dst = put32(put32(pad(dst, 3), f.Capabilities), f.Actions)
		for i := range f.Ports {
			if dst, err = appendPortDesc(dst, version, &f.Ports[i]); err != nil {
				return dst[:start], err
			}
		}
		return finish(dst, start)
	}
	dst = put32(put32(pad(append(dst, f.AuxiliaryID), 2), f.Capabilities), 0)
	return finish(dst, start)
}

// Port-status reasons (OFPPR_*).
const (
	PortAdd    = 0
	PortDelete = 1
	PortModify = 2
)

// PortStatus is OFPT_PORT_STATUS.
type PortStatus struct {
	Reason uint8
	Port   PortDesc
}

// Type implements Message.
func (*PortStatus) Type() Type { return TypePortStatus }

func decodePortStatus(version uint8, b []byte) (Message, error) {
	if err := fixedBody(TypePortStatus, b, 8+portLen(version)); err != nil {
		return nil, err
	}
	return &PortStatus{Reason: b[0], Port: decodePortDesc(version, b[8:])}, nil
}

// Append implements Message.
func (s *PortStatus) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypePortStatus, xid)
	if err != nil {
		return dst, err
	}
	if dst, err = appendPortDesc(pad(append(dst, s.Reason), 7), version, &s.Port); err != nil {
		return dst[:start], err
	}
	return finish(dst, start)
}

// PortMod is OFPT_PORT_MOD: set the Config bits selected by Mask.
type PortMod struct {
	Port      uint32
	HWAddr    [6]byte
	Config    PortConfig
	Mask      PortConfig
	Advertise uint32
}

// Type implements Message.
func (*PortMod) Type() Type { return TypePortMod }

func decodePortMod(version uint8, b []byte) (Message, error) {
	m := &PortMod{}
	if version == Version10 {
		if err := fixedBody(TypePortMod, b, 24); err != nil {
			return nil, err
		}
		m.Port = port10To32(be16(b))
		copy(m.HWAddr[:], b[2:8])
		b = b[8:]
	} else {
		if err := fixedBody(TypePortMod, b, 32); err != nil {
			return nil, err
		}
		m.Port = be32(b)
		copy(m.HWAddr[:], b[8:14])
		b = b[16:]
	}
	m.Config, m.Mask, m.Advertise = PortConfig(be32(b)), PortConfig(be32(b[4:])), be32(b[8:])
	return m, nil
}

// Append implements Message.
func (m *PortMod) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypePortMod, xid)
	if err != nil {
		return dst, err
	}
	if version == Version10 {
		no, ok := port32To10(m.Port)
		if !ok {
			return dst[:start], fmt.Errorf("openflow: port %d has no OpenFlow 1.0 number", m.Port)
		}
		dst = append(put16(dst, no), m.HWAddr[:]...)
	} else {
		dst = pad(append(pad(put32(dst, m.Port), 4), m.HWAddr[:]...), 2)
	}
	dst = pad(put32(put32(put32(dst, uint32(m.Config)), uint32(m.Mask)), m.Advertise), 4)
	return finish(dst, start)
}
