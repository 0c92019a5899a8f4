package main

import (
	"fmt"
	"io"
	"strings"

	"tapestry/api"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// tapestry ofctl's group commands by bridge name, through the daemon's
// API: add-group, add-groups, mod-group, del-groups, dump-groups,
// dump-group-stats and dump-group-features, printing what ovs-ofctl 3.1
// prints. With -O OpenFlow13 the replies are OFPST_GROUP_*; without -O
// (ovs-ofctl's OpenFlow 1.0) Open vSwitch answers with its Nicira
// extensions (NXST_GROUP_*), whose group dump numbers the buckets.
//
// One difference: Open vSwitch lists groups in hash order, tapestry by id.

func ofctlAddGroup(c *ofctlCtx) error { return c.groupMods(api.GroupCmdAdd, "", []byte(c.arg(1))) }
func ofctlModGroup(c *ofctlCtx) error { return c.groupMods(api.GroupCmdModify, "", []byte(c.arg(1))) }

func ofctlAddGroups(c *ofctlCtx) error {
	body, err := c.readFlowFile(c.arg(1))
	if err != nil {
		return err
	}
	return c.groupMods(api.GroupCmdAdd, c.arg(1), body)
}

// ofctlDelGroups deletes GROUP ("group_id=N") or, without it, every group.
func ofctlDelGroups(c *ofctlCtx) error {
	return c.groupMods(api.GroupCmdDelete, "", []byte(c.arg(1)))
}

func (c *ofctlCtx) groupMods(command, source string, body []byte) error {
	_, err := c.client.GroupMods(c.ctx, c.arg(0), command, source, c.inv.version, body)
	return switchError(err)
}

// switchError passes an OpenFlow error reply the daemon words as
// ovs-ofctl prints it ("OFPT_ERROR ...", then the request) through as it
// is, without the "ovs-ofctl: " prefix.
func switchError(err error) error {
	if err != nil && strings.HasPrefix(err.Error(), "OFPT_ERROR ") {
		return &rawError{text: err.Error()}
	}
	return err
}

// groupReplyHeader is the first line of a group reply as ovs-ofctl prints
// it: kind "GROUP_DESC", "GROUP" or "GROUP_FEATURES", with the transaction
// id ovs-ofctl's request carries (group stats come after a port-description
// exchange in OpenFlow 1.3).
func groupReplyHeader(kind string, v uint8) string {
	xid := 2
	if kind == "GROUP" {
		xid = 6
	}
	if v == ofctl.OpenFlow13 {
		return fmt.Sprintf("OFPST_%s reply (OF1.3) (xid=%#x):\n", kind, xid)
	}
	return fmt.Sprintf("NXST_%s reply (xid=%#x):\n", kind, xid)
}

// ofctlDumpGroups prints every group. The GROUP argument is accepted and,
// as by ovs-ofctl with OpenFlow 1.3 (whose group-description request has
// no group id), ignored.
func ofctlDumpGroups(c *ofctlCtx) error {
	lines, err := c.client.DumpGroups(c.ctx, c.arg(0), c.inv.names == 1, c.inv.version)
	if err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString(groupReplyHeader("GROUP_DESC", c.inv.version))
	for _, l := range lines {
		sb.WriteString(" " + l + "\n")
	}
	_, err = io.WriteString(c.stdout, sb.String())
	return err
}

// ofctlDumpGroupStats prints the counters of GROUP ("group_id=N") or of
// every group.
func ofctlDumpGroupStats(c *ofctlCtx) error {
	stats, err := c.client.GroupStats(c.ctx, c.arg(0), c.arg(1))
	if err != nil {
		return err
	}
	_, err = io.WriteString(c.stdout, formatGroupStatsReply(groupReplyHeader("GROUP", c.inv.version), stats))
	return err
}

func formatGroupStatsReply(header string, stats []openflow.GroupStats) string {
	b := []byte(header)
	for i := range stats {
		b = append(ofctl.AppendGroupStats(append(b, ' '), &stats[i]), '\n')
	}
	return string(b)
}

func ofctlDumpGroupFeatures(c *ofctlCtx) error {
	gf, err := c.client.GroupFeatures(c.ctx, c.arg(0))
	if err != nil {
		return err
	}
	_, err = io.WriteString(c.stdout, groupReplyHeader("GROUP_FEATURES", c.inv.version)+ofctl.FormatGroupFeatures(&gf))
	return err
}
