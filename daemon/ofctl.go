package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"tapestry/api"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// What a bridge tells ovs-ofctl show (OFPT_FEATURES_REPLY): Open vSwitch's
// values, since the bridge implements what OVS does. 254 tables (0-253,
// table 254 is OVS's hidden internal table).
const (
	featureTables = 254
	// OFPC_FLOW_STATS | TABLE_STATS | PORT_STATS | QUEUE_STATS |
	// ARP_MATCH_IP in OpenFlow 1.0 numbering.
	featureCapabilities = 0x1 | 0x2 | 0x4 | 0x40 | 0x80
	// Every OpenFlow 1.0 action bit from output (0) to enqueue (11).
	featureActions = 0xfff
)

// Features implements api.Backend.
func (d *Daemon) Features(_ context.Context, br string) (api.Features, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rt, err := d.bridge(br)
	if err != nil {
		return api.Features{}, err
	}
	f := api.Features{
		DatapathID:   rt.br.DatapathID(),
		NTables:      featureTables,
		Capabilities: featureCapabilities,
		Actions:      featureActions,
	}
	for _, p := range rt.br.Ports() {
		f.Ports = append(f.Ports, p.Desc)
	}
	return f, nil
}

// resolvePort turns a port argument (number, reserved name or port name)
// into a number, with ovs-ofctl's message when there is no such port.
func resolvePort(rt *bridgeRT, arg string) (uint32, error) {
	if n, err := strconv.ParseUint(arg, 10, 32); err == nil {
		if _, ok := rt.br.PortName(uint32(n)); ok {
			return uint32(n), nil
		}
	} else if strings.EqualFold(arg, "LOCAL") {
		return openflow.PortLocal, nil
	} else if n, ok := rt.br.PortNumber(arg); ok {
		return n, nil
	}
	return 0, api.NotFound("%s: couldn't find port `%s'", rt.name, arg)
}

// PortStats implements api.Backend.
func (d *Daemon) PortStats(_ context.Context, br, port string) ([]openflow.PortStats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rt, err := d.bridge(br)
	if err != nil {
		return nil, err
	}
	want := openflow.PortAny
	if port != "" {
		if want, err = resolvePort(rt, port); err != nil {
			return nil, err
		}
	}
	var out []openflow.PortStats
	for _, p := range rt.br.Ports() {
		if want == openflow.PortAny || p.Desc.No == want {
			st := p.Stats
			st.Duration = st.Duration.Truncate(time.Millisecond)
			out = append(out, st)
		}
	}
	return out, nil
}

// Tables implements api.Backend.
func (d *Daemon) Tables(_ context.Context, br string) ([]openflow.TableStats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rt, err := d.bridge(br)
	if err != nil {
		return nil, err
	}
	return rt.br.TableStats(), nil
}

// modPortActions maps ovs-ofctl mod-port's words to the config bits they
// set (value) within a mask. STP bits (stp, no-stp, receive-stp) have no
// OpenFlow 1.3 equivalent and are not supported.
var modPortActions = map[string]struct{ config, mask openflow.PortConfig }{
	"up":           {0, openflow.PortDown},
	"down":         {openflow.PortDown, openflow.PortDown},
	"receive":      {0, openflow.PortNoRecv},
	"no-receive":   {openflow.PortNoRecv, openflow.PortNoRecv},
	"forward":      {0, openflow.PortNoFwd},
	"no-forward":   {openflow.PortNoFwd, openflow.PortNoFwd},
	"flood":        {0, openflow.PortNoFlood},
	"no-flood":     {openflow.PortNoFlood, openflow.PortNoFlood},
	"packet-in":    {0, openflow.PortNoPacketIn},
	"no-packet-in": {openflow.PortNoPacketIn, openflow.PortNoPacketIn},
}

// ModPort implements api.Backend. Like ovs-ofctl, the change is to the
// running bridge only (ovs-vswitchd does not keep OpenFlow port config
// across restarts either).
func (d *Daemon) ModPort(_ context.Context, br string, req api.ModPortRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	rt, err := d.bridge(br)
	if err != nil {
		return err
	}
	act, ok := modPortActions[strings.ToLower(req.Action)]
	if !ok {
		return api.BadRequest("unknown mod-port command '%s'", req.Action)
	}
	no, err := resolvePort(rt, req.Port)
	if err != nil {
		return err
	}
	if err := rt.br.ModPort(no, act.config, act.mask); err != nil {
		return api.BadRequest("%s", strings.TrimPrefix(err.Error(), "ofproto: "))
	}
	return nil
}

// Trace implements api.Backend.
func (d *Daemon) Trace(_ context.Context, br string, req api.TraceRequest) (api.TraceResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rt, err := d.bridge(br)
	if err != nil {
		return api.TraceResponse{}, err
	}
	key, err := ofctl.ParseFlowKey(req.Flow, rt)
	if err != nil {
		return api.TraceResponse{}, api.BadRequest("%s", strings.TrimPrefix(err.Error(), "ofctl: "))
	}
	tr := rt.br.Trace(key)
	js, err := json.Marshal(tr)
	if err != nil {
		return api.TraceResponse{}, fmt.Errorf("encoding trace: %w", err)
	}
	return api.TraceResponse{Text: tr.String(), JSON: js}, nil
}
