// Package api is the interface between the tapestry daemon and its clients:
// HTTP with JSON bodies over a unix socket (<rundir>/tapestry.sock).
//
// The request and response types in this file are shared by the server
// (package daemon implements Backend) and the Client the CLI uses. Flows
// cross the API as ovs-ofctl text lines, never as encoded flow keys: a
// 100,000-line add-flows body is a few megabytes of text that the daemon
// parses in one batch, and a dump-flows reply is the formatted lines
// themselves.
//
// Routes (under /v1, and the cloud's Neutron API under /v2.0 and /v2.1):
//
//	GET  /v1/switch                          Switch (ovs-vsctl's view)
//	POST /v1/vsctl                           VsctlRequest -> VsctlResponse
//	POST /v1/bridges/{br}/flows?command=C    text/plain flow lines -> FlowModResult
//	GET  /v1/bridges/{br}/flows?...          DumpFlowsRequest as query -> text/plain lines
//	GET  /v1/bridges/{br}/aggregate?filter=F openflow.AggregateStats
//	GET  /v1/bridges/{br}/features           Features (ovs-ofctl show)
//	GET  /v1/bridges/{br}/port-stats?port=P  []openflow.PortStats
//	GET  /v1/bridges/{br}/tables             []openflow.TableStats
//	POST /v1/bridges/{br}/mod-port           ModPortRequest
//	POST /v1/bridges/{br}/trace              TraceRequest -> TraceResponse
//	POST /v1/ip                              IPRequest -> CommandResult
//	POST /v1/netns/{ns}/sysctl               ExecRequest -> CommandResult
//	POST /v1/netns/{ns}/ping                 ExecRequest -> PingLine stream
//	POST /v1/netns/{ns}/netfilter            ToolRequest -> ToolResult
//	*    /v2.0/..., /v2.1/servers...         Neutron's API (package cloud)
//
// Errors are JSON {"error": "..."} with a 4xx status for bad requests and a
// 5xx status for failures of the daemon itself; the client turns them into
// *Error values whose Error() is the daemon's message, verbatim.
package api

import (
	"encoding/json"

	"tapestry/openflow"
)

// SocketName is the name of the daemon's unix socket inside the run dir.
const SocketName = "tapestry.sock"

// Switch is the configuration and status of every bridge, the data behind
// ovs-vsctl show.
type Switch struct {
	UUID    string   `json:"uuid"`
	Version string   `json:"version,omitempty"`
	Bridges []Bridge `json:"bridges"`
}

// Bridge is one bridge's configuration and status.
type Bridge struct {
	Name string `json:"name"`
	// DatapathID is the datapath id in effect (16 hex digits).
	DatapathID  string            `json:"datapath_id"`
	Protocols   []string          `json:"protocols,omitempty"`
	FailMode    string            `json:"fail_mode,omitempty"`
	Controllers []string          `json:"controllers,omitempty"`
	OtherConfig map[string]string `json:"other_config,omitempty"`
	ExternalIDs map[string]string `json:"external_ids,omitempty"`
	// Ports are sorted by name, the bridge's own internal port included.
	Ports []Port `json:"ports"`
}

// Port is one port and its single interface (tapestry, like most OVS
// deployments, has no bonds).
type Port struct {
	Name string `json:"name"`
	// Type is the interface type as configured: "" (system, or a TAP
	// detected by name), "tap", "system" or "internal".
	Type          string            `json:"type,omitempty"`
	Tag           uint16            `json:"tag,omitempty"` // 0 = none
	Trunks        []uint16          `json:"trunks,omitempty"`
	OFPortRequest uint32            `json:"ofport_request,omitempty"`
	OFPort        int64             `json:"ofport"` // -1 when the device could not be opened
	Error         string            `json:"error,omitempty"`
	MAC           string            `json:"mac,omitempty"`
	OtherConfig   map[string]string `json:"other_config,omitempty"`
	ExternalIDs   map[string]string `json:"external_ids,omitempty"`
}

// Setting is one column assignment of ovs-vsctl: COLUMN[:KEY]=VALUE, or,
// for get, COLUMN[:KEY] with an empty Value.
type Setting struct {
	Column string `json:"column"`
	Key    string `json:"key,omitempty"`
	Value  string `json:"value,omitempty"`
}

// Command is one ovs-vsctl command. The CLI checks its syntax (name,
// argument count, settings); the daemon gives it meaning.
type Command struct {
	Name     string    `json:"name"`
	Args     []string  `json:"args,omitempty"`
	Settings []Setting `json:"settings,omitempty"`
	MayExist bool      `json:"may_exist,omitempty"`
	IfExists bool      `json:"if_exists,omitempty"`
}

// VsctlRequest is one ovs-vsctl invocation: every command, in order,
// applied in one transaction. Either all changes are committed or none.
type VsctlRequest struct {
	Commands []Command `json:"commands"`
}

// CommandResult is the outcome of one command: what ovs-vsctl prints for
// it and, for commands such as br-exists that answer with an exit status,
// that status.
type CommandResult struct {
	Output   string `json:"output,omitempty"`
	ExitCode int    `json:"exit_code,omitempty"`
}

// VsctlResponse holds one result per command.
type VsctlResponse struct {
	Results []CommandResult `json:"results"`
	// Warnings are printed on stderr after a successful commit, e.g. a
	// port whose device could not be opened (it exists, with an error).
	Warnings []string `json:"warnings,omitempty"`
}

// Flow-mod commands of POST /v1/bridges/{br}/flows.
const (
	// FlowCmdAdd adds flows; as in ovs-ofctl add-flows, a line may instead
	// start with the command it is (add, modify, modify_strict, delete,
	// delete_strict).
	FlowCmdAdd          = "add"
	FlowCmdModify       = "modify"
	FlowCmdModifyStrict = "modify-strict"
	FlowCmdDelete       = "delete"
	FlowCmdDeleteStrict = "delete-strict"
	// FlowCmdReplace makes the bridge's flows exactly the given set,
	// touching only what differs (ovs-ofctl replace-flows).
	FlowCmdReplace = "replace"
)

// FlowModRequest is the decoded form of POST /v1/bridges/{br}/flows.
type FlowModRequest struct {
	Command string
	// Lines are the flow texts with their 1-based line numbers in the
	// request body; blank lines and '#' comments are already dropped.
	Lines []FlowLine
}

// FlowLine is one flow text and where it came from.
type FlowLine struct {
	No   int
	Text string
}

// FlowModResult says how many flows the request added (or changed) and
// removed.
type FlowModResult struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
}

// Dump formats of GET /v1/bridges/{br}/flows.
const (
	// DumpText is ovs-ofctl dump-flows' output.
	DumpText = "text"
	// DumpFlowMod is one add-flow line per flow, with port numbers, that
	// add-flows reads back (for diff-flows).
	DumpFlowMod = "flowmod"
)

// DumpFlowsRequest is the query of GET /v1/bridges/{br}/flows.
type DumpFlowsRequest struct {
	Filter  string // flow text selecting flows (match, table=, cookie=V/M, out_port=)
	NoStats bool
	Names   bool   // print ports by name (--names)
	Sort    string // field to sort by ascending; "priority" for plain --sort
	RSort   string // field to sort by descending
	Format  string // DumpText (default) or DumpFlowMod
	// Version is the OpenFlow version the lines are printed as (0x01 or
	// 0x04, as ovs-ofctl -O selects); 0 means OpenFlow 1.0.
	Version uint8
	// Reply prints flows as ovs-ofctl prints a whole flow-stats reply
	// (OpenFlow 1.0 lines then carry idle_age and hard_age); false prints
	// them as its flow-by-flow path does (--names, --no-stats, --sort).
	Reply bool
}

// Features is what ovs-ofctl show prints.
type Features struct {
	DatapathID   uint64              `json:"datapath_id"`
	NTables      int                 `json:"n_tables"`
	NBuffers     int                 `json:"n_buffers"`
	Capabilities uint32              `json:"capabilities"`
	Actions      uint32              `json:"actions"`
	Ports        []openflow.PortDesc `json:"ports"`
}

// ModPortRequest is ovs-ofctl mod-port: Port is a name or number, Action
// one of up, down, stp, no-stp, receive, no-receive, receive-stp,
// no-receive-stp, forward, no-forward, flood, no-flood, packet-in,
// no-packet-in.
type ModPortRequest struct {
	Port   string `json:"port"`
	Action string `json:"action"`
}

// TraceRequest asks the bridge how it would handle a packet described in
// flow text (ofproto/trace's flow argument).
type TraceRequest struct {
	Flow string `json:"flow"`
}

// TraceResponse carries the trace as ofproto/trace text and as the
// bridge's JSON form.
type TraceResponse struct {
	Text string          `json:"text"`
	JSON json.RawMessage `json:"json,omitempty"`
}
