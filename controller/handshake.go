package controller

import (
	"fmt"
	"io"
	"slices"
	"time"

	"tapestry/flow"
	"tapestry/openflow"
)

// Connection setup, from the controller's side (OpenFlow 1.3 §6.3.1):
//
//  1. both ends send OFPT_HELLO; the version is the highest one both
//     bitmaps share, or the smaller header version when a side sends no
//     bitmap (OpenFlow 1.0 switches);
//  2. OFPT_FEATURES_REQUEST gives the datapath id (and in 1.0 the ports);
//  3. in 1.3 an OFPMP_PORT_DESC request lists the ports;
//  4. OFPT_SET_CONFIG asks for whole packets on a miss (miss_send_len
//     0xffff), and in 1.3 a role request makes this controller master.
//
// Until the features reply arrives no app sees the switch.

// ourVersions is the version bitmap we offer: 1.0 and 1.3.
const ourVersions = 1<<openflow.Version10 | 1<<openflow.Version13

// negotiate picks the version from the peer's hello header and bitmap.
func negotiate(header uint8, bitmap uint32) (uint8, error) {
	if bitmap != 0 {
		common := bitmap & ourVersions
		for _, v := range []uint8{openflow.Version13, openflow.Version10} {
			if common&(1<<v) != 0 {
				return v, nil
			}
		}
		return 0, fmt.Errorf("controller: no common OpenFlow version (peer bitmap 0x%x)", bitmap)
	}
	v := min(header, openflow.Version13)
	if v != openflow.Version10 && v != openflow.Version13 {
		return 0, fmt.Errorf("controller: unsupported OpenFlow version 0x%02x", header)
	}
	return v, nil
}

// readMsg reads and decodes one message with a deadline.
func (s *Switch) readMsg(buf []byte, timeout time.Duration) (openflow.Header, openflow.Message, error) {
	if err := s.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return openflow.Header{}, nil, err
	}
	b, err := openflow.ReadMessage(s.r, buf)
	if err != nil {
		return openflow.Header{}, nil, err
	}
	h, err := openflow.ParseHeader(b)
	if err != nil {
		return h, nil, err
	}
	if h.Type == uint8(openflow.TypeHello) && h.Version > openflow.Version13 {
		// A switch offering newer versions (Open vSwitch 3.x says 0x06)
		// starts with a hello in its highest one; OFPT_HELLO has the same
		// layout in every version (1.3 §7.5.1, 1.5 §7.5.1), so it is read
		// as 1.3 and the header version still counts in negotiate.
		b[0] = openflow.Version13
	}
	m, err := openflow.Decode(b)
	return h, m, err
}

// handshake runs steps 1-4 and fills s.Version, s.DPID and the ports.
func (s *Switch) handshake(buf []byte, timeout time.Duration) error {
	hello, err := (&openflow.Hello{Versions: ourVersions}).Append(nil, openflow.Version13, 0)
	if err != nil {
		return err
	}
	if _, err := s.conn.Write(hello); err != nil {
		return err
	}
	h, m, err := s.readMsg(buf, timeout)
	if err != nil {
		return fmt.Errorf("controller: reading hello: %w", err)
	}
	ph, ok := m.(*openflow.Hello)
	if !ok {
		return fmt.Errorf("controller: expected hello, got %v", m.Type())
	}
	if s.Version, err = negotiate(h.Version, ph.Versions); err != nil {
		e := &openflow.Error{ErrType: uint16(openflow.ErrHelloFailed), Code: openflow.HFCIncompatible, Data: []byte(err.Error())}
		if b, encErr := e.Append(nil, min(h.Version, openflow.Version13), h.Xid); encErr == nil {
			_, _ = s.conn.Write(b)
		}
		return err
	}
	fr, err := s.syncRequest(buf, timeout, &openflow.FeaturesRequest{}, openflow.TypeFeaturesReply)
	if err != nil {
		return err
	}
	f := fr[0].(*openflow.FeaturesReply)
	s.DPID, s.Tables = f.DatapathID, f.Tables
	s.setPorts(f.Ports)
	if s.Version == openflow.Version13 {
		parts, err := s.syncRequest(buf, timeout, &openflow.MultipartRequest{MPType: openflow.MPPortDesc}, openflow.TypeMultipartReply)
		if err != nil {
			return err
		}
		for _, p := range parts {
			s.setPorts(p.(*openflow.MultipartReply).PortDescs)
		}
	}
	s.portMu.Lock()
	delete(s.ports, openflow.PortLocal)
	s.portMu.Unlock()
	return s.conn.SetReadDeadline(time.Time{})
}

// syncRequest writes m directly and reads until the reply of type want
// with the same xid, answering echo requests on the way. It is only used
// before the read loop starts.
func (s *Switch) syncRequest(buf []byte, timeout time.Duration, m openflow.Message, want openflow.Type) ([]openflow.Message, error) {
	xid := s.xid.Add(1)
	b, err := m.Append(nil, s.Version, xid)
	if err != nil {
		return nil, err
	}
	if _, err := s.conn.Write(b); err != nil {
		return nil, err
	}
	var parts []openflow.Message
	for {
		h, r, err := s.readMsg(buf, timeout)
		if err != nil {
			return nil, fmt.Errorf("controller: waiting for %v: %w", want, err)
		}
		switch r := r.(type) {
		case *openflow.EchoRequest:
			if b, err := (&openflow.EchoReply{Data: r.Data}).Append(nil, s.Version, h.Xid); err == nil {
				_, _ = s.conn.Write(b)
			}
			continue
		case *openflow.Error:
			if h.Xid == xid {
				return nil, fmt.Errorf("controller: switch refused %v: %v", m.Type(), r)
			}
		}
		if h.Xid != xid || r.Type() != want {
			continue // e.g. an early port status; the port list covers it
		}
		parts = append(parts, r)
		if mp, ok := r.(*openflow.MultipartReply); ok && mp.Flags&openflow.MultipartMore != 0 {
			continue
		}
		return parts, nil
	}
}

// readLoop reads messages until the connection fails, dispatching each.
func (s *Switch) readLoop(buf []byte) error {
	for {
		b, err := openflow.ReadMessage(s.r, buf)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		s.lastRecv.Store(time.Now().UnixNano())
		h, _ := openflow.ParseHeader(b)
		m, err := openflow.Decode(b)
		if err != nil {
			s.log.Warn("undecodable message", "xid", h.Xid, "err", err)
			continue
		}
		s.handle(h, m)
	}
}

func (s *Switch) handle(h openflow.Header, m openflow.Message) {
	switch m := m.(type) {
	case *openflow.EchoRequest:
		_ = s.sendXID(&openflow.EchoReply{Data: m.Data}, h.Xid)
	case *openflow.EchoReply:
		// lastRecv already refreshed: that is all a keepalive needs.
	case *openflow.PacketIn:
		pi := &PacketIn{PacketIn: *m}
		flow.Extract(m.Data, m.InPort, &pi.Key)
		s.c.packetIns.Add(1)
		s.c.dispatch(Event{Kind: EventPacketIn, Switch: s, PacketIn: pi})
	case *openflow.PortStatus:
		s.portStatus(m)
		s.c.dispatch(Event{Kind: EventPortStatus, Switch: s, PortStatus: m})
	case *openflow.FlowRemoved:
		s.c.dispatch(Event{Kind: EventFlowRemoved, Switch: s, FlowRemoved: m})
	case *openflow.Error:
		if !s.deliver(h.Xid, m) {
			s.log.Warn("switch error", "xid", h.Xid, "error", m.String())
		}
	default:
		if !s.deliver(h.Xid, m) {
			s.log.Debug("unsolicited message", "type", m.Type(), "xid", h.Xid)
		}
	}
}

// keepalive sends an echo request every interval and drops the switch
// when nothing arrived for three intervals (as OVS's inactivity probe).
func (s *Switch) keepalive(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, s.lastRecv.Load())) > 3*interval {
			s.log.Warn("switch silent, disconnecting", "after", 3*interval)
			s.Close()
			return
		}
		_, _ = s.Send(&openflow.EchoRequest{})
	}
}

func sortPorts(ps []openflow.PortDesc) {
	slices.SortFunc(ps, func(a, b openflow.PortDesc) int { return int(int64(a.No) - int64(b.No)) })
}
