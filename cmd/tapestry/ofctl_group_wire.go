package main

import (
	"fmt"
	"io"
	"strings"

	"tapestry/ofctl"
	"tapestry/openflow"
)

// Group commands over an OpenFlow connection (unix:, tcp: targets and
// management socket paths): OFPT_GROUP_MOD and the group multipart
// requests of OpenFlow 1.3 (§7.3.4.2, §7.3.5.9-11), sent as ovs-ofctl
// sends them, so that they work against Open vSwitch too.

// needGroups refuses OpenFlow 1.0, which has no groups; Open vSwitch's
// Nicira group extensions are not spoken.
func (w *ofctlWire) needGroups() error {
	if w.v() == openflow.Version10 {
		return fmt.Errorf("%s: group commands need OpenFlow 1.1 or later (use -O OpenFlow13)", w.c.arg(0))
	}
	return nil
}

// groupMods parses and sends group mods one by one, stopping at the first
// error, as ovs-ofctl does. source names a file for error messages.
func (w *ofctlWire) groupMods(cmd uint16, source string, lines []string) error {
	if err := w.prepareMods(); err != nil {
		return err
	}
	if err := w.needGroups(); err != nil {
		return err
	}
	gms := make([]openflow.GroupMod, len(lines))
	for i, l := range lines {
		gm, err := ofctl.ParseGroupMod(l, cmd, w.ports)
		if err != nil {
			if source != "" {
				return fmt.Errorf("%s:%d: %s", source, i+1, strings.TrimPrefix(err.Error(), "ofctl: "))
			}
			return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "ofctl: "))
		}
		gms[i] = gm
	}
	for i := range gms {
		raw, err := gms[i].Append(nil, w.v(), 0)
		if err != nil {
			return err
		}
		if _, err := w.conn.TransactRaw(w.c.ctx, raw); err != nil {
			return w.explain(err, raw)
		}
	}
	return nil
}

func wireAddGroup(w *ofctlWire) error {
	return w.groupMods(openflow.GroupAdd, "", []string{w.c.arg(1)})
}

func wireModGroup(w *ofctlWire) error {
	return w.groupMods(openflow.GroupModify, "", []string{w.c.arg(1)})
}

func wireAddGroups(w *ofctlWire) error {
	body, err := w.c.readFlowFile(w.c.arg(1))
	if err != nil {
		return err
	}
	return w.groupMods(openflow.GroupAdd, w.c.arg(1), flowLines(body))
}

func wireDelGroups(w *ofctlWire) error {
	return w.groupMods(openflow.GroupDelete, "", []string{w.c.arg(1)})
}

func wireDumpGroups(w *ofctlWire) error {
	if err := w.needGroups(); err != nil {
		return err
	}
	parts, xid, err := w.conn.Multipart(w.c.ctx, &openflow.MultipartRequest{MPType: openflow.MPGroupDesc, Group: openflow.GroupAll})
	if err != nil {
		return w.explain(err, nil)
	}
	var names ofctl.PortNamer
	if w.c.inv.names == 1 {
		if err := w.fetchPorts(); err != nil {
			return err
		}
		names = w.ports
	}
	var b []byte
	for _, p := range parts {
		b = append(b, statsHeader("OFPST", "GROUP_DESC", w.v(), xid, p.Flags)+"\n"...)
		for i := range p.GroupDescs {
			b = append(ofctl.AppendGroup(append(b, ' '), &p.GroupDescs[i], ofctl.FormatOptions{Names: names, Version: ofctl.OpenFlow13}), '\n')
		}
	}
	_, err = w.c.stdout.Write(b)
	return err
}

func wireDumpGroupStats(w *ofctlWire) error {
	if err := w.prepareMods(); err != nil {
		return err
	}
	if err := w.needGroups(); err != nil {
		return err
	}
	id, err := ofctl.ParseGroupID(w.c.arg(1))
	if err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "ofctl: "))
	}
	parts, xid, err := w.conn.Multipart(w.c.ctx, &openflow.MultipartRequest{MPType: openflow.MPGroup, Group: id})
	if err != nil {
		return w.explain(err, nil)
	}
	var sb strings.Builder
	for _, p := range parts {
		stats := p.Groups
		if len(stats) == 0 && len(p.Body) > 0 {
			if stats, err = decodeGroupStats(p.Body); err != nil {
				return fmt.Errorf("%s: bad group stats reply: %w", w.c.arg(0), err)
			}
		}
		sb.WriteString(formatGroupStatsReply(statsHeader("OFPST", "GROUP", w.v(), xid, p.Flags)+"\n", stats))
	}
	_, err = io.WriteString(w.c.stdout, sb.String())
	return err
}

func wireDumpGroupFeatures(w *ofctlWire) error {
	if err := w.needGroups(); err != nil {
		return err
	}
	parts, xid, err := w.conn.Multipart(w.c.ctx, &openflow.MultipartRequest{MPType: openflow.MPGroupFeatures})
	if err != nil {
		return w.explain(err, nil)
	}
	if len(parts) == 0 {
		return fmt.Errorf("%s: no group features reply", w.c.arg(0))
	}
	p := parts[len(parts)-1]
	_, err = io.WriteString(w.c.stdout, statsHeader("OFPST", "GROUP_FEATURES", w.v(), xid, 0)+"\n"+ofctl.FormatGroupFeatures(&p.GroupFeatures))
	return err
}

// formatGroupMod prints a group mod as ofp-print does after the message
// name ("ADD group_id=1,type=all,bucket=actions=output:1"); a delete prints
// as Open vSwitch decodes it, with type all.
func formatGroupMod(m *openflow.GroupMod) string {
	cmd := [...]string{"ADD", "MOD", "DEL"}
	name := fmt.Sprint(m.Command)
	if int(m.Command) < len(cmd) {
		name = cmd[m.Command]
	}
	return name + " " + ofctl.FormatGroup(m.Group, nil)
}

// parseGroup reads add-group text into a group (ofctl.ParseGroupMod).
func parseGroup(s string, names ofctl.PortNamer) (openflow.Group, error) {
	gm, err := ofctl.ParseGroupMod(s, openflow.GroupAdd, names)
	return gm.Group, err
}

// formatGroup prints a group as ovs-ofctl -O OpenFlow13 dump-groups does.
func formatGroup(g *openflow.Group) string { return ofctl.FormatGroup(*g, nil) }
