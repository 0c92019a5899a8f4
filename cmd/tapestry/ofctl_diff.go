package main

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"tapestry/api"
	"tapestry/flow"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// diffFlow is one flow of a diff-flows source: its identity (table,
// priority, match) and its --no-stats line.
type diffFlow struct {
	table    uint8
	priority uint16
	match    string
	line     string
}

// ofctlDiffFlows compares the flows of two sources (each a bridge or a
// file) as ovs-ofctl diff-flows does: "-" lines for flows only in (or
// different in) the first, "+" for the second, exit status 2 when they
// differ. Flows are printed in table, then descending priority order (OVS
// uses hash order).
func ofctlDiffFlows(c *ofctlCtx) error {
	a, err := c.diffSource(c.arg(0))
	if err != nil {
		return err
	}
	b, err := c.diffSource(c.arg(1))
	if err != nil {
		return err
	}
	keys := make(map[string]diffFlow)
	for _, f := range a {
		keys[f.key()] = f
	}
	for _, f := range b {
		keys[f.key()] = f
	}
	order := make([]diffFlow, 0, len(keys))
	for _, f := range keys {
		order = append(order, f)
	}
	slices.SortFunc(order, func(x, y diffFlow) int {
		return cmp.Or(cmp.Compare(x.table, y.table), cmp.Compare(y.priority, x.priority), strings.Compare(x.match, y.match))
	})
	var out bytes.Buffer
	for _, f := range order {
		la, inA := a[f.key()]
		lb, inB := b[f.key()]
		if inA && inB && la.line == lb.line {
			continue
		}
		if inA {
			fmt.Fprintf(&out, "-%s\n", la.line)
		}
		if inB {
			fmt.Fprintf(&out, "+%s\n", lb.line)
		}
	}
	if out.Len() > 0 {
		c.exit = 2
	}
	_, err = c.stdout.Write(out.Bytes())
	return err
}

func (f diffFlow) key() string { return fmt.Sprintf("%d/%d/%s", f.table, f.priority, f.match) }

// diffSource reads the flows of a bridge (when the daemon knows one by
// that name) or else of a flow file.
func (c *ofctlCtx) diffSource(src string) (map[string]diffFlow, error) {
	var text bytes.Buffer
	name := src
	err := c.client.DumpFlows(c.ctx, src, api.DumpFlowsRequest{Format: api.DumpFlowMod}, &text)
	if err != nil {
		if _, statErr := os.Stat(src); statErr != nil {
			return nil, err // neither a file nor a bridge: the daemon's words
		}
		text.Reset()
		b, rerr := c.readFlowFile(src)
		if rerr != nil {
			return nil, rerr
		}
		text.Write(b)
	} else {
		name = ""
	}
	return parseDiffFlows(&text, name, c.inv.version)
}

// parseDiffFlows parses add-flow lines (a file, or a bridge's flows
// dumped as such) into diff entries keyed by identity.
func parseDiffFlows(r io.Reader, source string, v uint8) (map[string]diffFlow, error) {
	all, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	req, err := api.DecodeFlowModRequest(api.FlowCmdAdd, all)
	if err != nil {
		return nil, err
	}
	out := make(map[string]diffFlow, len(req.Lines))
	for _, l := range req.Lines {
		fm, err := ofctl.ParseFlowMod(l.Text, openflow.FlowAdd, nil)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "ofctl: ")
			if source != "" {
				return nil, fmt.Errorf("%s:%d: %s", source, l.No, msg)
			}
			return nil, fmt.Errorf("%s", msg)
		}
		fs := openflow.FlowStats{Table: fm.Table, Priority: fm.Priority, Match: fm.Match, Cookie: fm.Cookie,
			IdleTimeout: fm.IdleTimeout, HardTimeout: fm.HardTimeout, Flags: fm.Flags, Importance: fm.Importance, Actions: fm.Actions}
		f := diffFlow{
			table:    fm.Table,
			priority: fm.Priority,
			match:    matchText(&fm.Match),
			line:     strings.TrimPrefix(ofctl.FormatFlowStats(&fs, ofctl.FormatOptions{NoStats: true, Version: v}), " "),
		}
		out[f.key()] = f
	}
	return out, nil
}

func matchText(m *flow.Match) string { return ofctl.FormatMatch(m, openflow.DefaultPriority, nil) }
