package daemon

import (
	"os"
	"path/filepath"
	"strings"

	"tapestry/ofchannel"
	"tapestry/ofproto"
	"tapestry/openflow"
)

// Every bridge speaks OpenFlow as Open vSwitch's do: a management socket
// <rundir>/<bridge>.mgmt that ovs-ofctl and tapestry reach by path, the
// controllers of `vsctl set-controller` (active tcp:/unix: targets, passive
// ptcp:/punix: listeners), the versions of its protocols column and its
// fail mode.

// MgmtPath is where a bridge's OpenFlow management socket lives.
func MgmtPath(runDir, bridge string) string {
	return filepath.Join(runDir, bridge+".mgmt")
}

// startAgent gives rt an OpenFlow agent configured from bc.
func (d *Daemon) startAgent(rt *bridgeRT, bc *bridgeConf) {
	name := bc.Name
	rt.agent = ofchannel.New(rt.br, ofchannel.Config{
		Protocols: protocolVersions(bc.Protocols),
		FailMode:  failMode(bc.FailMode),
		Logger:    d.log.With("bridge", name),
		Now:       d.cfg.Now,
		Software:  "tapestry",
		// Flows a controller or ovs-ofctl sets over OpenFlow are desired
		// state like any other and survive a restart. The hook runs on
		// the connection's goroutine and only queues the changes; the
		// flow log formats and group-commits them (see flowlog.go).
		OnFlowChanges:  func(ch ofproto.FlowChanges) { d.flows.add(name, ch) },
		OnGroupChanges: func() { d.groupsChanged(rt) },
		FlowRemoved: func(fs openflow.FlowStats, reason uint8) {
			if reason != ofproto.RemovedDelete {
				d.expired.add(name, fs)
			}
		},
	})
	rt.agentConf = agentKey(bc)
	path := MgmtPath(d.cfg.RunDir, name)
	if err := os.MkdirAll(d.cfg.RunDir, 0o755); err == nil {
		os.Remove(path) // a stale socket of an earlier run
		if err := rt.agent.ListenUnix(path); err != nil {
			d.log.Error("OpenFlow management socket", "bridge", name, "err", err)
		}
	}
	d.setControllers(rt, bc.Controllers)
}

// stopAgent closes rt's agent, its connections and its sockets.
func (d *Daemon) stopAgent(rt *bridgeRT) {
	if rt.agent == nil {
		return
	}
	rt.agent.Close()
	rt.agent = nil
	os.Remove(MgmtPath(d.cfg.RunDir, rt.name))
	for _, p := range rt.passive {
		if strings.HasPrefix(p, "punix:") {
			os.Remove(strings.TrimPrefix(p, "punix:"))
		}
	}
	rt.passive = nil
}

// reconfigureAgent applies a changed bridge configuration: versions and
// fail mode need a new agent (connections renegotiate, as when vswitchd
// reconfigures a bridge); controllers alone are updated in place.
func (d *Daemon) reconfigureAgent(rt *bridgeRT, bc *bridgeConf) {
	if rt.agentConf != agentKey(bc) {
		d.stopAgent(rt)
		d.startAgent(rt, bc)
		return
	}
	d.setControllers(rt, bc.Controllers)
}

// setControllers connects to the active targets and listens on the passive
// ones. Passive listeners are opened once; changing them restarts the agent.
func (d *Daemon) setControllers(rt *bridgeRT, targets []string) {
	var active []string
	for _, t := range targets {
		if strings.HasPrefix(t, "ptcp:") || strings.HasPrefix(t, "punix:") {
			if !contains(rt.passive, t) {
				d.listenPassive(rt, t)
			}
			continue
		}
		active = append(active, t)
	}
	if err := rt.agent.SetControllers(active); err != nil {
		d.log.Error("controllers", "bridge", rt.name, "err", err)
	}
}

// listenPassive opens ptcp:PORT[:IP] (IP defaults to every address, as in
// OVS) or punix:PATH.
func (d *Daemon) listenPassive(rt *bridgeRT, target string) {
	var err error
	if path, ok := strings.CutPrefix(target, "punix:"); ok {
		os.Remove(path)
		err = rt.agent.ListenUnix(path)
	} else {
		spec := strings.TrimPrefix(target, "ptcp:")
		port, ip, _ := strings.Cut(spec, ":")
		if strings.Contains(ip, ":") && !strings.HasPrefix(ip, "[") {
			ip = "[" + ip + "]"
		}
		_, err = rt.agent.ListenTCP(ip + ":" + port)
	}
	if err != nil {
		d.log.Error("passive OpenFlow listener", "bridge", rt.name, "target", target, "err", err)
		return
	}
	rt.passive = append(rt.passive, target)
}

// agentKey is what a running agent was built from and cannot change in
// place: versions, fail mode and passive listeners.
func agentKey(bc *bridgeConf) string {
	var passive []string
	for _, t := range bc.Controllers {
		if strings.HasPrefix(t, "ptcp:") || strings.HasPrefix(t, "punix:") {
			passive = append(passive, t)
		}
	}
	return strings.Join(bc.Protocols, ",") + "|" + bc.FailMode + "|" + strings.Join(passive, ",")
}

// protocolVersions maps the protocols column to wire versions; an empty
// column allows every version tapestry speaks. Versions tapestry does not
// speak (OpenFlow11, 12, 14, 15) are ignored, as vswitchd ignores unknown ones.
func protocolVersions(protocols []string) []uint8 {
	var out []uint8
	for _, p := range protocols {
		switch p {
		case "OpenFlow10":
			out = append(out, openflow.Version10)
		case "OpenFlow13":
			out = append(out, openflow.Version13)
		}
	}
	return out
}

func failMode(s string) ofchannel.FailMode {
	if s == "secure" {
		return ofchannel.FailSecure
	}
	return ofchannel.FailStandalone
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
