package controller

import (
	"sync"
	"sync/atomic"
	"time"
)

// Notice is one entry of the REST event stream (GET /events).
type Notice struct {
	Kind      string `json:"kind"`
	DPID      string `json:"dpid,omitempty"`
	Port      uint32 `json:"port,omitempty"`
	PortName  string `json:"port_name,omitempty"`
	Reason    string `json:"reason,omitempty"`
	App       string `json:"app,omitempty"`
	PacketIns uint64 `json:"packet_ins,omitempty"`
	Time      string `json:"time"`
}

var portReasons = [...]string{"add", "delete", "modify"}

func noticeOf(ev Event) Notice {
	n := Notice{Kind: ev.Kind.String(), Time: time.Now().UTC().Format(time.RFC3339Nano)}
	if ev.Switch != nil {
		n.DPID = ev.Switch.String()
	}
	if ps := ev.PortStatus; ps != nil {
		n.Port, n.PortName = ps.Port.No, ps.Port.Name
		if int(ps.Reason) < len(portReasons) {
			n.Reason = portReasons[ps.Reason]
		}
	}
	return n
}

// hub fans notices out to REST subscribers. Packet-ins are too many to
// stream one by one: they are counted and summarised once a second.
type hub struct {
	// mu guards subs.
	mu   sync.Mutex
	subs map[chan Notice]struct{}

	packetIns atomic.Uint64
}

func (h *hub) subscribe() chan Notice {
	ch := make(chan Notice, 64)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *hub) unsubscribe(ch chan Notice) {
	h.mu.Lock()
	delete(h.subs, ch)
	h.mu.Unlock()
}

// publish never blocks: a subscriber that does not keep up loses notices.
func (h *hub) publish(n Notice) {
	if n.Time == "" {
		n.Time = time.Now().UTC().Format(time.RFC3339Nano)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- n:
		default:
		}
	}
}

func (h *hub) packetIn() { h.packetIns.Add(1) }
