package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"tapestry/openflow"
)

// Groups (OpenFlow 1.3 §5.6) of a bridge:
//
//	POST /v1/bridges/{br}/groups?command=C[&source=S][&version=V]  text/plain group lines -> GroupResult
//	GET  /v1/bridges/{br}/groups[?names=true&version=1] GroupResult (Lines: dump-groups lines)
//	GET  /v1/bridges/{br}/group-stats[?group=TEXT]      GroupResult (Stats)
//	GET  /v1/bridges/{br}/group-features                GroupResult (Features)
//
// A POST's lines are applied all or nothing, as one batch.

// Group commands of POST /v1/bridges/{br}/groups.
const (
	GroupCmdAdd    = "add"
	GroupCmdModify = "modify"
	GroupCmdDelete = "delete"
)

// Group operations (GroupRequest.Op).
const (
	GroupOpMod      = "mod"
	GroupOpDump     = "dump"
	GroupOpStats    = "stats"
	GroupOpFeatures = "features"
)

// GroupRequest is one group operation on a bridge.
type GroupRequest struct {
	Op string
	// Command, Source and Lines are a mod's: the group-mod command
	// (GroupCmdAdd...), where the lines came from ("" for one group on the
	// command line, a file name, "-" for stdin) and the group texts
	// (ovs-ofctl(8) "Group Syntax"), blank lines and comments dropped.
	Command string
	Source  string
	Lines   []FlowLine
	// Group selects the groups of stats: del-groups syntax ("group_id=N"),
	// empty for every group.
	Group string
	// Names prints ports by name in a dump; Version is the OpenFlow
	// version a dump or a mod's error is printed as (1 prints as
	// ovs-ofctl's Nicira messages, with bucket ids; 0 or 4 as OpenFlow 1.3).
	Names   bool
	Version uint8
}

// GroupResult answers a GroupRequest.
type GroupResult struct {
	// Lines are dump-groups lines without the leading space.
	Lines    []string                `json:"lines,omitempty"`
	Stats    []openflow.GroupStats   `json:"stats,omitempty"`
	Features *openflow.GroupFeatures `json:"features,omitempty"`
	// RemovedFlows counts the flows a delete removed with their groups.
	RemovedFlows int `json:"removed_flows,omitempty"`
}

func (s *server) postGroups(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody))
	if err != nil {
		s.fail(w, r, BadRequest("reading request: %v", err))
		return
	}
	q := r.URL.Query()
	req, err := DecodeGroupModRequest(q.Get("command"), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req.Source = q.Get("source")
	if req.Version, err = parseGroupVersion(q.Get("version")); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.b.Groups(r.Context(), r.PathValue("br"), req)
	s.reply(w, r, res, err)
}

func (s *server) getGroups(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := GroupRequest{Op: GroupOpDump}
	var err error
	if req.Names, err = parseBool("names", q.Get("names")); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Version, err = parseGroupVersion(q.Get("version")); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.b.Groups(r.Context(), r.PathValue("br"), req)
	s.reply(w, r, res, err)
}

func parseGroupVersion(v string) (uint8, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 8)
	if err != nil {
		return 0, BadRequest("version: invalid value %q", v)
	}
	return uint8(n), nil
}

func (s *server) getGroupStats(w http.ResponseWriter, r *http.Request) {
	req := GroupRequest{Op: GroupOpStats, Group: r.URL.Query().Get("group")}
	res, err := s.b.Groups(r.Context(), r.PathValue("br"), req)
	s.reply(w, r, res, err)
}

func (s *server) getGroupFeatures(w http.ResponseWriter, r *http.Request) {
	res, err := s.b.Groups(r.Context(), r.PathValue("br"), GroupRequest{Op: GroupOpFeatures})
	s.reply(w, r, res, err)
}

// DecodeGroupModRequest splits the body of POST /v1/bridges/{br}/groups into
// group lines as ovs-ofctl add-groups reads a file (one group per line,
// blank lines and '#' comments ignored). An empty delete is one line
// selecting every group, as "del-groups BR" means.
func DecodeGroupModRequest(command string, body []byte) (GroupRequest, error) {
	switch command {
	case GroupCmdAdd, GroupCmdModify, GroupCmdDelete:
	case "":
		return GroupRequest{}, BadRequest("missing group command")
	default:
		return GroupRequest{}, BadRequest("unknown group command %q", command)
	}
	// The flow decoder's line rules are the group file's too.
	fr, err := DecodeFlowModRequest(FlowCmdAdd, body)
	if err != nil {
		return GroupRequest{}, err
	}
	req := GroupRequest{Op: GroupOpMod, Command: command, Lines: fr.Lines}
	if len(req.Lines) == 0 && command == GroupCmdDelete && len(bytes.TrimSpace(body)) == 0 {
		req.Lines = []FlowLine{{No: 1}}
	}
	return req, nil
}

// GroupMods sends group lines (an add-groups file: one group per line) to
// bridge br with command (GroupCmdAdd...). source names the input in error
// messages; empty for one group given on the command line. version (1 or
// 4, 0 for 4) is the OpenFlow version a refused group mod is worded in.
func (c *Client) GroupMods(ctx context.Context, br, command, source string, version uint8, lines []byte) (GroupResult, error) {
	q := url.Values{"command": {command}}
	if source != "" {
		q.Set("source", source)
	}
	if version != 0 {
		q.Set("version", strconv.Itoa(int(version)))
	}
	var res GroupResult
	resp, err := c.do(ctx, http.MethodPost, bridgePath(br, "groups"), q, bytes.NewReader(lines), "text/plain")
	if err != nil {
		return res, err
	}
	err = readJSON(resp, &res)
	return res, err
}

// DumpGroups returns the bridge's groups as dump-groups lines (without the
// leading space), ports by name when names is set, printed for OpenFlow
// version (1 or 4).
func (c *Client) DumpGroups(ctx context.Context, br string, names bool, version uint8) ([]string, error) {
	q := url.Values{}
	if names {
		q.Set("names", "true")
	}
	if version != 0 {
		q.Set("version", strconv.Itoa(int(version)))
	}
	var res GroupResult
	err := c.getJSON(ctx, bridgePath(br, "groups"), q, &res)
	return res.Lines, err
}

// GroupStats returns the counters of the groups group selects (del-groups
// syntax, "" for all).
func (c *Client) GroupStats(ctx context.Context, br, group string) ([]openflow.GroupStats, error) {
	var q url.Values
	if group != "" {
		q = url.Values{"group": {group}}
	}
	var res GroupResult
	err := c.getJSON(ctx, bridgePath(br, "group-stats"), q, &res)
	return res.Stats, err
}

// GroupFeatures returns what the bridge's group table supports.
func (c *Client) GroupFeatures(ctx context.Context, br string) (openflow.GroupFeatures, error) {
	var res GroupResult
	if err := c.getJSON(ctx, bridgePath(br, "group-features"), nil, &res); err != nil {
		return openflow.GroupFeatures{}, err
	}
	if res.Features == nil {
		return openflow.GroupFeatures{}, Errorf(http.StatusBadGateway, "daemon sent no group features")
	}
	return *res.Features, nil
}
