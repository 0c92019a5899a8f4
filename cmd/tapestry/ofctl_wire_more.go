package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"tapestry/ofconn"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// OFPC_* capability names by bit, OpenFlow 1.3 numbering (1.3 §7.3.1).
var capabilityNames13 = []string{"FLOW_STATS", "TABLE_STATS", "PORT_STATS", "GROUP_STATS", "", "IP_REASM", "QUEUE_STATS", "", "PORT_BLOCKED"}

// fragNames are OFPC_FRAG_* as ovs-ofctl prints them.
var fragNames = []string{"normal", "drop", "reassemble", "nx-match"}

// wireShow is ovs-ofctl show: features (1.0 with ports; 1.3 followed by a
// port description), then the switch configuration. ovs-ofctl asks for the
// configuration on a second connection, whose hello costs one xid.
func wireShow(w *ofctlWire) error {
	m, xid, err := w.conn.Request(w.c.ctx, &openflow.FeaturesRequest{})
	if err != nil {
		return w.explain(err, nil)
	}
	f, ok := m.(*openflow.FeaturesReply)
	if !ok {
		return fmt.Errorf("features request answered with %v", m.Type())
	}
	v, tag := w.v(), ofconn.VersionTag(w.v())
	var sb strings.Builder
	fmt.Fprintf(&sb, "OFPT_FEATURES_REPLY%s (xid=%#x): dpid:%016x\n", tag, xid, f.DatapathID)
	fmt.Fprintf(&sb, "n_tables:%d, n_buffers:%d\n", f.Tables, f.Buffers)
	ports := f.Ports
	if v == openflow.Version10 {
		ports = ports10(ports)
		fmt.Fprintf(&sb, "capabilities: %s\n", bitNames(f.Capabilities, capabilityNames10))
		var acts []string
		for _, a := range actionBitNames {
			if f.Actions&(1<<a.bit) != 0 {
				acts = append(acts, a.name)
			}
		}
		fmt.Fprintf(&sb, "actions: %s\n", strings.Join(acts, " "))
	} else {
		fmt.Fprintf(&sb, "capabilities: %s\n", bitNames(f.Capabilities, capabilityNames13))
		parts, pxid, err := w.conn.Multipart(w.c.ctx, &openflow.MultipartRequest{MPType: openflow.MPPortDesc})
		if err != nil {
			return w.explain(err, nil)
		}
		fmt.Fprintf(&sb, "OFPST_PORT_DESC reply%s (xid=%#x):\n", tag, pxid)
		ports = nil
		for _, p := range parts {
			ports = append(ports, p.PortDescs...)
		}
	}
	for _, p := range sortedPorts(ports) {
		formatPortDesc(&sb, &p, v)
	}
	w.conn.SkipXIDs(1)
	m, xid, err = w.conn.Request(w.c.ctx, &openflow.GetConfigRequest{})
	if err != nil {
		return w.explain(err, nil)
	}
	cfg, ok := m.(*openflow.SwitchConfig)
	if !ok {
		return fmt.Errorf("get-config request answered with %v", m.Type())
	}
	frag := fmt.Sprint(cfg.Flags & 3)
	if int(cfg.Flags&3) < len(fragNames) {
		frag = fragNames[cfg.Flags&3]
	}
	fmt.Fprintf(&sb, "OFPT_GET_CONFIG_REPLY%s (xid=%#x): frags=%s miss_send_len=%d\n", tag, xid, frag, cfg.MissSendLen)
	_, err = io.WriteString(w.c.stdout, sb.String())
	return err
}

// portModBits maps mod-port actions to the config bit they change and
// whether they set it (ovs-ofctl(8)).
var portModBits = map[string]struct {
	bit openflow.PortConfig
	set bool
}{
	"up": {openflow.PortDown, false}, "down": {openflow.PortDown, true},
	"stp": {1 << 1, false}, "no-stp": {1 << 1, true},
	"receive": {openflow.PortNoRecv, false}, "no-receive": {openflow.PortNoRecv, true},
	"receive-stp": {1 << 3, false}, "no-receive-stp": {1 << 3, true},
	"forward": {openflow.PortNoFwd, false}, "no-forward": {openflow.PortNoFwd, true},
	"flood": {openflow.PortNoFlood, false}, "no-flood": {openflow.PortNoFlood, true},
	"packet-in": {openflow.PortNoPacketIn, false}, "no-packet-in": {openflow.PortNoPacketIn, true},
}

func wireModPort(w *ofctlWire) error {
	act, ok := portModBits[strings.ToLower(w.c.arg(2))]
	if !ok {
		return fmt.Errorf("unknown mod-port command '%s'", w.c.arg(2))
	}
	if err := w.fetchPorts(); err != nil {
		return err
	}
	w.conn.SkipXIDs(1)
	var desc *openflow.PortDesc
	for i := range w.ports {
		p := &w.ports[i]
		if p.Name == w.c.arg(1) || strconv.FormatUint(uint64(p.No), 10) == w.c.arg(1) ||
			strings.EqualFold(w.c.arg(1), portLabel(p.No)) {
			desc = p
		}
	}
	if desc == nil {
		return fmt.Errorf("%s: couldn't find port `%s'", w.c.arg(0), w.c.arg(1))
	}
	pm := &openflow.PortMod{Port: desc.No, HWAddr: desc.HWAddr, Mask: act.bit}
	if act.set {
		pm.Config = act.bit
	}
	_, err := w.conn.Transact(w.c.ctx, pm)
	return w.explain(err, nil)
}

// wirePacketOut is ovs-ofctl packet-out SWITCH "in_port=P packet=HEX
// actions=A": the packet goes through the actions (actions=table: the
// pipeline) as if received on in_port.
func wirePacketOut(w *ofctlWire) error {
	if err := w.prepareMods(); err != nil {
		return err
	}
	po, err := parsePacketOut(w.c.arg(1), w.ports)
	if err != nil {
		return err
	}
	raw, err := po.Append(nil, w.v(), 0)
	if err != nil {
		return err
	}
	_, err = w.conn.TransactRaw(w.c.ctx, raw)
	return w.explain(err, raw)
}

// parsePacketOut reads packet-out's argument: key=value words separated by
// spaces or commas, actions= taking the rest of the line.
func parsePacketOut(s string, names ofctl.PortNamer) (*openflow.PacketOut, error) {
	po := &openflow.PacketOut{BufferID: openflow.NoBuffer, InPort: openflow.PortController}
	if i := strings.Index(s, "actions="); i >= 0 {
		acts, err := ofctl.ParseActions(s[i+len("actions="):], names)
		if err != nil {
			return nil, err
		}
		po.Actions, s = acts, s[:i]
	}
	for _, word := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		k, v, _ := strings.Cut(word, "=")
		switch k {
		case "in_port":
			if no, ok := reservedOrNumber(v); ok {
				po.InPort = no
			} else if no, ok := names.PortNumber(v); ok {
				po.InPort = no
			} else {
				return nil, fmt.Errorf("%s: unknown port", v)
			}
		case "packet":
			b, err := hex.DecodeString(strings.ReplaceAll(v, ":", ""))
			if err != nil {
				return nil, fmt.Errorf("packet=%s: %w", v, err)
			}
			po.Data = b
		default:
			return nil, fmt.Errorf("unknown keyword %s", k)
		}
	}
	if len(po.Data) == 0 {
		return nil, fmt.Errorf("must specify packet")
	}
	return po, nil
}
