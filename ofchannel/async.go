package ofchannel

import (
	"sync"
	"time"

	"tapestry/ofproto"
	"tapestry/openflow"
)

// Asynchronous messages (OpenFlow 1.3 §6.1.1, §7.4): packet-in, flow-removed
// and port-status, sent to each connection whose role and async
// configuration (OFPT_SET_ASYNC) ask for them. They go through trySend: a
// full queue drops them (counted) instead of blocking the bridge.

// wants reports whether c receives an async message of kind (0 packet-in,
// 1 port-status, 2 flow-removed) with the given reason.
func (c *conn) wants(kind int, reason uint8) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.asyncOn || reason >= 32 {
		return false
	}
	i := 0
	if c.role == openflow.RoleSlave {
		i = 1
	}
	var mask uint32
	switch kind {
	case 0:
		mask = c.async.PacketIn[i]
		if c.missSendLen == 0 && reason == openflow.ReasonNoMatch && c.version == openflow.Version10 {
			// miss_send_len 0 turns table-miss packet-ins off in 1.0.
			return false
		}
	case 1:
		mask = c.async.PortStatus[i]
	default:
		mask = c.async.FlowRemoved[i]
	}
	return mask&(1<<reason) != 0
}

// packetIn is the bridge's packet-in hook; it runs on forwarding
// goroutines and never blocks.
func (a *Agent) packetIn(p ofproto.PacketIn) {
	conns := a.snapshot()
	if len(conns) == 0 {
		return
	}
	if !a.limiter.allow() {
		a.pinRateDrops.Add(1)
		return
	}
	msg := openflow.PacketIn{BufferID: openflow.NoBuffer, TotalLen: uint16(min(len(p.Data), 0xffff)),
		InPort: p.InPort, Reason: p.Reason, Table: p.Table, Cookie: p.Cookie, Data: p.Data}
	var enc [2][]byte // per version: 1.0, 1.3
	sent := false
	for _, c := range conns {
		if c.version == 0 || !c.wants(0, p.Reason) {
			continue
		}
		// Controller ids (controller(id=N)) select connections with that
		// id; every connection has id 0 until NXT_SET_CONTROLLER_ID.
		if p.ID != 0 {
			continue
		}
		i := 0
		if c.version == openflow.Version13 {
			i = 1
		}
		if enc[i] == nil {
			b, err := msg.Append(nil, c.version, 0)
			if err != nil {
				continue
			}
			enc[i] = b
		}
		if c.trySend(enc[i]) {
			sent = true
		} else {
			a.pinQueueDrops.Add(1)
		}
	}
	if sent {
		a.pinQueued.Add(1)
	}
}

// flowRemoved is the bridge's flow-removed hook. Only flows added with
// send_flow_rem are reported (OpenFlow 1.3 §6.4).
func (a *Agent) flowRemoved(fs openflow.FlowStats, reason uint8) {
	if a.cfg.FlowRemoved != nil {
		a.cfg.FlowRemoved(fs, reason)
	}
	if fs.Flags&openflow.FlagSendFlowRem == 0 {
		return
	}
	msg := &openflow.FlowRemoved{Cookie: fs.Cookie, Priority: fs.Priority, Reason: reason, Table: fs.Table,
		Duration: fs.Duration, IdleTimeout: fs.IdleTimeout, HardTimeout: fs.HardTimeout,
		Packets: fs.Packets, Bytes: fs.Bytes, Match: fs.Match}
	a.broadcast(2, reason, msg)
}

// broadcast sends an async message to every connection that wants it.
func (a *Agent) broadcast(kind int, reason uint8, msg openflow.Message) {
	var enc [2][]byte
	for _, c := range a.snapshot() {
		if c.version == 0 || !c.wants(kind, reason) {
			continue
		}
		i := 0
		if c.version == openflow.Version13 {
			i = 1
		}
		if enc[i] == nil {
			b, err := msg.Append(nil, c.version, 0)
			if err != nil {
				continue
			}
			enc[i] = b
		}
		if !c.trySend(enc[i]) {
			a.asyncDrops.Add(1)
		}
	}
}

func portMap(ps []ofproto.PortInfo) map[uint32]openflow.PortDesc {
	m := make(map[uint32]openflow.PortDesc, len(ps))
	for _, p := range ps {
		m[p.OFPort] = p.Desc
	}
	return m
}

// PortsChanged compares the bridge's ports with those last announced and
// sends port-status messages for ports added, deleted or modified. The
// agent checks once a second by itself; the daemon calls it right after
// adding or deleting a port so that controllers hear at once.
func (a *Agent) PortsChanged() {
	now := portMap(a.sw.Ports())
	a.mu.Lock()
	old := a.ports
	a.ports = now
	a.mu.Unlock()
	for no, d := range old {
		if _, ok := now[no]; !ok {
			a.broadcast(1, openflow.PortDelete, &openflow.PortStatus{Reason: openflow.PortDelete, Port: d})
		}
	}
	for no, d := range now {
		o, ok := old[no]
		switch {
		case !ok:
			a.broadcast(1, openflow.PortAdd, &openflow.PortStatus{Reason: openflow.PortAdd, Port: d})
		case o != d:
			a.broadcast(1, openflow.PortModify, &openflow.PortStatus{Reason: openflow.PortModify, Port: d})
		}
	}
}

// tokenBucket limits packet-ins to rate per second with bursts of burst,
// as ovs-vswitchd's pinsched does. A negative rate disables it.
type tokenBucket struct {
	now   func() time.Time
	rate  int
	burst int64 // in millitokens

	mu     sync.Mutex
	tokens int64 // millitokens
	last   time.Time
}

func (t *tokenBucket) init(rate, burst int, now func() time.Time) {
	t.now, t.rate, t.burst = now, rate, int64(burst)*1000
	t.tokens = t.burst
	t.last = now()
}

func (t *tokenBucket) allow() bool {
	if t.rate < 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if d := now.Sub(t.last); d > 0 {
		add := d.Milliseconds() * int64(t.rate)
		if d >= time.Hour {
			add = t.burst
		}
		if add > 0 {
			t.tokens = min(t.tokens+add, t.burst)
			t.last = t.last.Add(time.Duration(add/int64(t.rate)) * time.Millisecond)
			if t.tokens == t.burst {
				t.last = now
			}
		}
	}
	if t.tokens < 1000 {
		return false
	}
	t.tokens -= 1000
	return true
}
