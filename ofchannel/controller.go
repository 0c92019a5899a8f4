package ofchannel

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"tapestry/flow"
	"tapestry/openflow"
)

// DefaultPort is the IANA OpenFlow port, used when a target names none.
const DefaultPort = "6653"

// ControllerStatus describes one configured controller, for
// ovs-vsctl get-controller and show ("is_connected: true").
type ControllerStatus struct {
	Target    string
	Connected bool
	Role      string // "other" (equal), "master" or "slave", as ovs-vsctl prints
	Version   uint8  // negotiated version while connected
	LastError string
}

// controller is one active connection target with its reconnect loop.
type controller struct {
	a       *Agent
	target  string
	network string
	addr    string
	quit    chan struct{}

	mu      sync.Mutex
	cur     *conn
	lastErr string
}

// parseTarget splits "tcp:IP[:PORT]" or "unix:PATH" (ovs-vsctl
// set-controller syntax).
func parseTarget(t string) (network, addr string, err error) {
	kind, rest, ok := strings.Cut(t, ":")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("ofchannel: controller target %q: want tcp:IP[:PORT] or unix:PATH", t)
	}
	switch kind {
	case "tcp":
		host, port := rest, DefaultPort
		if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.HasSuffix(rest, "]") {
			host, port = rest[:i], rest[i+1:]
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if net.ParseIP(host) == nil {
			return "", "", fmt.Errorf("ofchannel: controller target %q: %q is not an IP address", t, host)
		}
		return "tcp", net.JoinHostPort(host, port), nil
	case "unix":
		return "unix", rest, nil
	}
	return "", "", fmt.Errorf("ofchannel: controller target %q: unsupported method %q", t, kind)
}

// SetControllers replaces the set of controllers the agent connects to
// (ovs-vsctl set-controller). Connections to targets still listed are kept.
func (a *Agent) SetControllers(targets []string) error {
	parsed := make(map[string][2]string, len(targets))
	for _, t := range targets {
		n, addr, err := parseTarget(t)
		if err != nil {
			return err
		}
		parsed[t] = [2]string{n, addr}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("ofchannel: agent closed")
	}
	for t, ct := range a.ctrls {
		if _, keep := parsed[t]; !keep {
			ct.stop()
			delete(a.ctrls, t)
		}
	}
	for t, p := range parsed {
		if a.ctrls[t] != nil {
			continue
		}
		ct := &controller{a: a, target: t, network: p[0], addr: p[1], quit: make(chan struct{})}
		a.ctrls[t] = ct
		a.wg.Add(1)
		go ct.run()
	}
	if len(a.ctrls) == 0 {
		a.fail = failState{}
	}
	return nil
}

// Controllers reports every configured controller, sorted by target.
func (a *Agent) Controllers() []ControllerStatus {
	a.mu.Lock()
	cts := make([]*controller, 0, len(a.ctrls))
	for _, ct := range a.ctrls {
		cts = append(cts, ct)
	}
	a.mu.Unlock()
	out := make([]ControllerStatus, 0, len(cts))
	for _, ct := range cts {
		ct.mu.Lock()
		s := ControllerStatus{Target: ct.target, LastError: ct.lastErr}
		if c := ct.cur; c != nil {
			s.Connected, s.Version = true, c.version
			c.mu.Lock()
			s.Role = roleName(c.role)
			c.mu.Unlock()
		}
		ct.mu.Unlock()
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y ControllerStatus) int { return strings.Compare(x.Target, y.Target) })
	return out
}

func roleName(r uint32) string {
	switch r {
	case openflow.RoleMaster:
		return "master"
	case openflow.RoleSlave:
		return "slave"
	}
	return "other"
}

func (ct *controller) stop() {
	close(ct.quit)
	ct.mu.Lock()
	if ct.cur != nil {
		ct.cur.close()
	}
	ct.mu.Unlock()
}

func (ct *controller) connected(c *conn) {
	ct.mu.Lock()
	ct.cur, ct.lastErr = c, ""
	ct.mu.Unlock()
	ct.a.log.Info("ofchannel: connected to controller", "target", ct.target, "version", c.version)
}

func (ct *controller) disconnected(c *conn) {
	ct.mu.Lock()
	if ct.cur == c {
		ct.cur = nil
	}
	ct.mu.Unlock()
}

// run connects, serves and reconnects with exponential backoff from 1 s up
// to MaxBackoff, starting over at 1 s after a connection that got through
// the hello exchange (Open vSwitch rconn behaviour).
func (ct *controller) run() {
	defer ct.a.wg.Done()
	backoff := time.Second
	for {
		select {
		case <-ct.quit:
			return
		default:
		}
		d := net.Dialer{Timeout: ct.a.cfg.MaxBackoff}
		nc, err := d.Dial(ct.network, ct.addr)
		if err == nil {
			ct.a.runConn(nc, ct)
			ct.mu.Lock()
			wasUp := ct.lastErr == ""
			ct.lastErr = "connection closed"
			ct.mu.Unlock()
			if wasUp {
				backoff = time.Second
			}
		} else {
			ct.mu.Lock()
			ct.lastErr = err.Error()
			ct.mu.Unlock()
		}
		select {
		case <-ct.quit:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, ct.a.cfg.MaxBackoff)
	}
}

// failOpenCookie marks the flow the agent installs in fail-open mode.
const failOpenCookie = 0xf0f0f0f0f0f0f0f0

// failState tracks standalone fail-open (ovs-vswitchd.conf.db(5) Bridge
// fail_mode): Open vSwitch enters it after three inactivity probe intervals
// without a controller and then forwards with NORMAL until one connects.
type failState struct {
	since time.Time // when the last controller connection went away
	open  bool
}

// FailOpen reports whether the bridge is currently failing open.
func (a *Agent) FailOpen() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fail.open
}

// checkFailOpen enters or leaves fail-open. Open vSwitch adds a hidden
// priority-0xf0f0f0 NORMAL flow that controllers never see; the bridge has
// no hidden flows, so tapestry adds "priority=0 actions=NORMAL" with cookie
// failOpenCookie to table 0 and deletes exactly that flow when a controller
// connects (replacing a controller's own priority-0 match-all flow there, a
// visible difference).
func (a *Agent) checkFailOpen() {
	a.mu.Lock()
	if a.cfg.FailMode != FailStandalone || len(a.ctrls) == 0 || a.closed {
		a.mu.Unlock()
		return
	}
	up := false
	for _, ct := range a.ctrls {
		ct.mu.Lock()
		up = up || ct.cur != nil
		ct.mu.Unlock()
	}
	now := time.Now()
	var change, open bool
	switch {
	case up:
		a.fail.since = time.Time{}
		change, open = a.fail.open, false
	case a.fail.since.IsZero():
		a.fail.since = now
	case !a.fail.open && now.Sub(a.fail.since) >= 3*a.cfg.InactivityProbe:
		change, open = true, true
	}
	if change {
		a.fail.open = open
	}
	a.mu.Unlock()
	if !change {
		return
	}
	fm := openflow.FlowMod{Command: openflow.FlowAdd, Priority: 0, Match: flow.Match{}, Cookie: failOpenCookie,
		OutPort: openflow.PortAny, OutGroup: openflow.GroupAny, BufferID: openflow.NoBuffer,
		Actions: []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortNormal}}}
	if !open {
		fm.Command, fm.CookieMask, fm.Actions = openflow.FlowDeleteStrict, ^uint64(0), nil
	}
	if _, err := a.sw.FlowMods([]openflow.FlowMod{fm}); err != nil {
		a.log.Warn("ofchannel: fail-open flow", "open", open, "err", err)
	}
	a.log.Info("ofchannel: fail-open", "open", open)
}
