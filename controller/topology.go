package controller

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"tapestry/openflow"
)

// LLDP (IEEE 802.1AB) as link discovery uses it: the controller sends a
// frame out of every switch port carrying the switch's datapath id
// (chassis ID TLV) and the port number (port ID TLV); the switch at the
// other end of the wire sends it back in a packet-in, which names both
// ends of the link.
const (
	ethTypeLLDP     = 0x88cc
	lldpChassisTLV  = 1
	lldpPortTLV     = 2
	lldpTTLTLV      = 3
	lldpSubtypeLocl = 7 // "locally assigned" for both chassis and port ID
)

// lldpDst is the nearest-bridge group address, which bridges never forward.
var lldpDst = [6]byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}

// Link is one direction of a discovered link.
type Link struct {
	SrcDPID string    `json:"src_dpid"`
	SrcPort uint32    `json:"src_port"`
	DstDPID string    `json:"dst_dpid"`
	DstPort uint32    `json:"dst_port"`
	Seen    time.Time `json:"last_seen"`
}

type linkKey struct {
	srcDPID, dstDPID uint64
	srcPort, dstPort uint32
}

// Topology discovers the links between switches with LLDP.
type Topology struct {
	period time.Duration
	quit   chan struct{}
	c      *Controller

	// mu guards links.
	mu    sync.Mutex
	links map[linkKey]time.Time
}

// NewTopology returns the app probing every period (0: 5 seconds). Links
// not seen for three periods are forgotten.
func NewTopology(period time.Duration) *Topology {
	if period <= 0 {
		period = 5 * time.Second
	}
	return &Topology{period: period, links: make(map[linkKey]time.Time)}
}

// Name implements App.
func (*Topology) Name() string { return "topology" }

// Start implements Starter.
func (t *Topology) Start(c *Controller) error {
	t.c, t.quit = c, make(chan struct{})
	go t.probeLoop()
	return nil
}

// Stop implements Starter.
func (t *Topology) Stop() { close(t.quit) }

func (t *Topology) probeLoop() {
	tk := time.NewTicker(t.period)
	defer tk.Stop()
	for {
		select {
		case <-t.quit:
			return
		case <-tk.C:
		}
		for _, s := range t.c.Switches() {
			t.probe(s)
		}
		t.expire()
	}
}

// probe sends one LLDP frame out of every port of s.
func (t *Topology) probe(s *Switch) {
	for _, p := range s.Ports() {
		if p.No > openflow.PortMax {
			continue
		}
		_ = s.Output(openflow.PortController, p.No, LLDPFrame(s.DPID, p.No, p.HWAddr))
	}
}

func (t *Topology) expire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, seen := range t.links {
		if time.Since(seen) > 3*t.period {
			delete(t.links, k)
		}
	}
}

// HandleEvent implements App.
func (t *Topology) HandleEvent(_ *Controller, ev Event) error {
	switch ev.Kind {
	case EventSwitchUp:
		fm, err := lldpToController()
		if err != nil {
			return err
		}
		if err := ev.Switch.FlowMod(&fm); err != nil {
			return nil
		}
		t.probe(ev.Switch)
	case EventSwitchDown:
		t.mu.Lock()
		for k := range t.links {
			if k.srcDPID == ev.Switch.DPID || k.dstDPID == ev.Switch.DPID {
				delete(t.links, k)
			}
		}
		t.mu.Unlock()
	case EventPacketIn:
		if ev.PacketIn.Key.DlType != ethTypeLLDP {
			return nil
		}
		dpid, port, ok := ParseLLDP(ev.PacketIn.Data)
		if !ok {
			return nil
		}
		t.mu.Lock()
		t.links[linkKey{srcDPID: dpid, srcPort: port, dstDPID: ev.Switch.DPID, dstPort: ev.PacketIn.InPort}] = time.Now()
		t.mu.Unlock()
	}
	return nil
}

func lldpToController() (openflow.FlowMod, error) {
	return parseFlow("priority=65000,dl_type=0x88cc,dl_dst=01:80:c2:00:00:0e,actions=CONTROLLER:65535")
}

// Links returns the discovered links, sorted.
func (t *Topology) Links() []Link {
	t.mu.Lock()
	out := make([]Link, 0, len(t.links))
	for k, seen := range t.links {
		out = append(out, Link{SrcDPID: FormatDPID(k.srcDPID), SrcPort: k.srcPort, DstDPID: FormatDPID(k.dstDPID), DstPort: k.dstPort, Seen: seen})
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Link) int {
		if c := strings.Compare(a.SrcDPID, b.SrcDPID); c != 0 {
			return c
		}
		return int(int64(a.SrcPort) - int64(b.SrcPort))
	})
	return out
}

// LLDPFrame builds the probe for port of switch dpid: chassis ID
// "dpid:<16 hex>", port ID the decimal port number, TTL 120, end.
func LLDPFrame(dpid uint64, port uint32, src [6]byte) []byte {
	b := make([]byte, 0, 64)
	b = append(b, lldpDst[:]...)
	b = append(b, src[:]...)
	b = binary.BigEndian.AppendUint16(b, ethTypeLLDP)
	b = appendTLV(b, lldpChassisTLV, append([]byte{lldpSubtypeLocl}, "dpid:"+FormatDPID(dpid)...))
	b = appendTLV(b, lldpPortTLV, append([]byte{lldpSubtypeLocl}, strconv.FormatUint(uint64(port), 10)...))
	b = appendTLV(b, lldpTTLTLV, []byte{0, 120})
	return appendTLV(b, 0, nil)
}

// appendTLV adds an LLDP TLV: 7 bits of type, 9 bits of length.
func appendTLV(b []byte, typ uint16, val []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, typ<<9|uint16(len(val)))
	return append(b, val...)
}

// ParseLLDP reads the datapath id and port of a probe made by LLDPFrame;
// ok is false for any other frame.
func ParseLLDP(frame []byte) (dpid uint64, port uint32, ok bool) {
	if len(frame) < 14 || binary.BigEndian.Uint16(frame[12:]) != ethTypeLLDP {
		return 0, 0, false
	}
	var gotChassis, gotPort bool
	for b := frame[14:]; len(b) >= 2; {
		h := binary.BigEndian.Uint16(b)
		typ, n := h>>9, int(h&0x1ff)
		if typ == 0 || len(b) < 2+n {
			break
		}
		val := b[2 : 2+n]
		b = b[2+n:]
		if n < 2 || val[0] != lldpSubtypeLocl {
			continue
		}
		switch typ {
		case lldpChassisTLV:
			hexID, found := strings.CutPrefix(string(val[1:]), "dpid:")
			v, err := strconv.ParseUint(hexID, 16, 64)
			dpid, gotChassis = v, found && err == nil
		case lldpPortTLV:
			v, err := strconv.ParseUint(string(val[1:]), 10, 32)
			port, gotPort = uint32(v), err == nil
		}
	}
	return dpid, port, gotChassis && gotPort
}

func parseFlow(text string) (openflow.FlowMod, error) {
	fm, err := ofctlParse(text)
	if err != nil {
		return fm, fmt.Errorf("controller: %w", err)
	}
	return fm, nil
}
