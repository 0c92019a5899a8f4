package daemon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"tapestry/api"
	"tapestry/flow"
	"tapestry/ofctl"
	"tapestry/ofproto"
	"tapestry/openflow"
	"tapestry/store"
)

// parallelMin is the batch size from which parsing and formatting are
// spread over every CPU: a 100,000-line add-flows is dominated by them.
const parallelMin = 4096

var flowCommands = map[string]openflow.FlowModCommand{
	api.FlowCmdAdd:          openflow.FlowAdd,
	api.FlowCmdModify:       openflow.FlowModify,
	api.FlowCmdModifyStrict: openflow.FlowModifyStrict,
	api.FlowCmdDelete:       openflow.FlowDelete,
	api.FlowCmdDeleteStrict: openflow.FlowDeleteStrict,
	api.FlowCmdReplace:      openflow.FlowAdd,
}

func (d *Daemon) bridge(name string) (*bridgeRT, error) {
	if d.closed {
		return nil, api.Errorf(503, "daemon is shutting down")
	}
	rt := d.bridges[name]
	if rt == nil {
		// ovs-ofctl's words for a name that is neither.
		return nil, api.NotFound("%s is not a bridge or a socket", name)
	}
	return rt, nil
}

// FlowMods implements api.Backend: parse every line (all or nothing),
// apply the batch to the bridge atomically, commit the changes to the
// store in one transaction, answer.
func (d *Daemon) FlowMods(_ context.Context, br, source string, req api.FlowModRequest) (api.FlowModResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rt, err := d.bridge(br)
	if err != nil {
		return api.FlowModResult{}, err
	}
	if err := d.flushExpired(); err != nil {
		return api.FlowModResult{}, err
	}
	var ch ofproto.FlowChanges
	if req.Command == api.FlowCmdAdd && addOnly(req.Lines) {
		d.flowMu.Lock()
		defer d.flowMu.Unlock()
		d.drainFlowLog() // OpenFlow changes the bridge applied earlier go first
		ch, err = d.addLines(rt, req.Lines, source)
		var ae *api.Error
		if errors.As(err, &ae) {
			return api.FlowModResult{}, err // a line that does not parse
		}
	} else {
		var fms []openflow.FlowMod
		if fms, err = parseFlowMods(req.Lines, flowCommands[req.Command], req.Command == api.FlowCmdAdd, rt, source); err != nil {
			return api.FlowModResult{}, err
		}
		if req.Command == api.FlowCmdReplace {
			fms = replaceMods(rt, fms)
		}
		d.flowMu.Lock()
		defer d.flowMu.Unlock()
		d.drainFlowLog() // OpenFlow changes the bridge applied earlier go first
		ch, err = rt.br.RecordFlowMods(fms)
		switch {
		case err != nil:
			err = &bridgeErr{err}
		case ch.NAdded == 0 && ch.NRemoved > 0 && rt.br.FlowCount() == 0:
			// The batch emptied the bridge (del-flows): drop the bucket
			// rather than format and delete 100,000 keys one by one. A flow
			// an OpenFlow connection adds meanwhile is queued in the flow
			// log and written after this.
			err = d.st.Update(func(tx *store.Tx) error { return tx.DeleteBucket(flowsPath(br)) })
		default:
			err = d.persistFlows(br, ch)
		}
	}
	var be *bridgeErr
	if errors.As(err, &be) {
		return api.FlowModResult{}, api.BadRequest("%s", bridgeError(be.err, req.Lines, source))
	}
	if err != nil {
		// Put the bridge back in line with the store, which still holds
		// the state before this request.
		d.log.Error("store write failed; reloading flows", "bridge", br, "err", err)
		if rerr := d.restoreFlows(rt); rerr != nil {
			d.log.Error("reloading flows", "bridge", br, "err", rerr)
		}
		return api.FlowModResult{}, fmt.Errorf("writing store: %w", err)
	}
	return api.FlowModResult{Added: ch.NAdded, Removed: ch.NRemoved}, nil
}

// bridgeErr marks an error from the bridge (a bad batch, nothing changed)
// as opposed to one from the store.
type bridgeErr struct{ err error }

func (e *bridgeErr) Error() string { return e.err.Error() }

// parseFlowMods parses lines in parallel chunks; the error reported is the
// one of the first bad line, named as ovs-ofctl names it ("FILE:LINE: ").
// With keywords set (add-flow, add-flows), a line may start with the
// command it is: add, modify, modify_strict, delete or delete_strict, as
// ovs-ofctl(8) allows; other lines are cmd.
func parseFlowMods(lines []api.FlowLine, cmd openflow.FlowModCommand, keywords bool, names ofctl.PortNamer, source string) ([]openflow.FlowMod, error) {
	fms := make([]openflow.FlowMod, len(lines))
	errs := make([]error, len(lines))
	parallel(len(lines), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			text, c := lines[i].Text, cmd
			if keywords {
				text, c = lineCommand(text, cmd)
			}
			fm, err := ofctl.ParseFlowMod(text, c, names)
			if err != nil {
				errs[i] = err
				return // later lines of this chunk cannot come first
			}
			fms[i] = fm
		}
	})
	for i, err := range errs {
		if err != nil {
			return nil, api.BadRequest("%s%s", linePrefix(lines, i, source), strings.TrimPrefix(err.Error(), "ofctl: "))
		}
	}
	return fms, nil
}

// lineKeywords are the flow-mod commands a flow line may start with.
var lineKeywords = map[string]openflow.FlowModCommand{
	"add":           openflow.FlowAdd,
	"modify":        openflow.FlowModify,
	"modify_strict": openflow.FlowModifyStrict,
	"delete":        openflow.FlowDelete,
	"delete_strict": openflow.FlowDeleteStrict,
}

// lineCommand splits a leading command keyword off a flow line.
func lineCommand(text string, def openflow.FlowModCommand) (string, openflow.FlowModCommand) {
	i := strings.IndexAny(text, " \t")
	if i < 0 {
		if c, ok := lineKeywords[text]; ok { // "delete" alone: every flow
			return "", c
		}
		return text, def
	}
	if c, ok := lineKeywords[text[:i]]; ok {
		return strings.TrimLeft(text[i:], " \t"), c
	}
	return text, def
}

// linePrefix names line i as ovs-ofctl does: "FILE:N: " for a file, and
// nothing for a single flow given on the command line.
func linePrefix(lines []api.FlowLine, i int, source string) string {
	switch {
	case source != "":
		return fmt.Sprintf("%s:%d: ", source, lines[i].No)
	case len(lines) > 1:
		return fmt.Sprintf("line %d: ", lines[i].No)
	}
	return ""
}

// bridgeError words a rejected batch, naming the line when the bridge says
// which flow mod failed ("ofproto: flow mod N: ...").
func bridgeError(err error, lines []api.FlowLine, source string) string {
	if msg, ok := badOutGroupError(err, lines); ok {
		return msg
	}
	msg := err.Error()
	var i int
	var rest string
	if n, _ := fmt.Sscanf(msg, "ofproto: flow mod %d:", &i); n == 1 && i >= 0 && i < len(lines) {
		if j := strings.Index(msg, ": "); j >= 0 {
			rest = msg[j+2:]
			if k := strings.Index(rest, ": "); k >= 0 {
				rest = rest[k+2:]
			}
		}
		return linePrefix(lines, i, source) + rest
	}
	return strings.TrimPrefix(msg, "ofproto: ")
}

// parallel calls fn on contiguous chunks of [0, n), one per CPU when n is
// large, and waits.
func parallel(n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < parallelMin || workers == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// replaceMods turns the desired flows of replace-flows into the flow mods
// that change the bridge's table into exactly them: strict deletes for
// flows not wanted, adds for flows missing or different (ovs-ofctl compares
// table, priority and match, then cookie and actions).
func replaceMods(rt *bridgeRT, want []openflow.FlowMod) []openflow.FlowMod {
	return diffFlows(rt.br.DumpFlows(matchAll(openflow.FlowDelete)), want, func(*openflow.FlowStats) bool { return true })
}

// diffFlows returns the flow mods that turn flows have into want: a
// strict delete for each flow of have that want lacks and that mayDelete
// allows, and an add for each flow of want not already there exactly.
func diffFlows(have []openflow.FlowStats, want []openflow.FlowMod, mayDelete func(*openflow.FlowStats) bool) []openflow.FlowMod {
	wantText := make(map[string]string, len(want))
	for i := range want {
		wantText[flowKey(want[i].Table, want[i].Priority, &want[i].Match)] = flowText(&want[i])
	}
	var out []openflow.FlowMod
	haveText := make(map[string]string, len(have))
	for i := range have {
		fs := &have[i]
		k := flowKey(fs.Table, fs.Priority, &fs.Match)
		fm := statsToMod(fs)
		haveText[k] = flowText(&fm)
		if _, ok := wantText[k]; !ok && mayDelete(fs) {
			del := matchAll(openflow.FlowDeleteStrict)
			del.Table, del.Priority, del.Match = fs.Table, fs.Priority, fs.Match
			out = append(out, del)
		}
	}
	for i := range want {
		k := flowKey(want[i].Table, want[i].Priority, &want[i].Match)
		if haveText[k] != wantText[k] {
			out = append(out, want[i])
		}
	}
	return out
}

// matchAll returns a flow mod selecting every flow in every table.
func matchAll(cmd openflow.FlowModCommand) openflow.FlowMod {
	return openflow.FlowMod{Command: cmd, Table: openflow.TableAll, OutPort: openflow.PortAny,
		OutGroup: openflow.GroupAny, BufferID: openflow.NoBuffer}
}

// statsToMod returns the add that recreates the flow fs describes.
func statsToMod(fs *openflow.FlowStats) openflow.FlowMod {
	return openflow.FlowMod{
		Command:     openflow.FlowAdd,
		Table:       fs.Table,
		Priority:    fs.Priority,
		Match:       fs.Match,
		Cookie:      fs.Cookie,
		IdleTimeout: fs.IdleTimeout,
		HardTimeout: fs.HardTimeout,
		Flags:       fs.Flags,
		Importance:  fs.Importance,
		OutPort:     openflow.PortAny,
		OutGroup:    openflow.GroupAny,
		BufferID:    openflow.NoBuffer,
		Actions:     fs.Actions,
	}
}

// flowKey is a flow's identity in the store: table, priority and match,
// which OpenFlow says identify a flow (§6.4). The match is printed with
// port numbers; the hex prefix keeps keys sorted by table and priority.
func flowKey(table uint8, priority uint16, m *flow.Match) string {
	return string(appendFlowKey(make([]byte, 0, 64), table, priority, m))
}

// flowText is a flow as stored: add-flow text with port numbers.
func flowText(fm *openflow.FlowMod) string { return ofctl.FormatFlowMod(fm, nil) }

// The flow every new bridge starts with ("priority=0 actions=NORMAL").
var defaultFlowKey, defaultFlowText = func() (string, string) {
	fm := matchAll(openflow.FlowAdd)
	fm.Table = 0
	fm.Actions = []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortNormal}}
	return flowKey(0, 0, &fm.Match), flowText(&fm)
}()

// persistFlows commits a batch's changes to the store in one transaction:
// removals first (a flow removed and re-added in one batch appears in both).
func (d *Daemon) persistFlows(br string, ch ofproto.FlowChanges) error {
	w := flowRecords(br, ch)
	if w.empty() {
		return nil
	}
	return d.st.Update(func(tx *store.Tx) error { return w.write(tx) })
}

// restoreFlows makes the bridge's flows exactly those in the store.
func (d *Daemon) restoreFlows(rt *bridgeRT) error {
	var texts []string
	err := d.st.View(func(tx *store.Tx) error {
		return tx.ForEach(flowsPath(rt.name), func(_ string, v []byte) error {
			texts = append(texts, string(v))
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("daemon: reading flows of %s: %w", rt.name, err)
	}
	parsed := make([]openflow.FlowMod, len(texts))
	ok := make([]bool, len(texts))
	parallel(len(texts), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			fm, err := ofctl.ParseFlowMod(texts[i], openflow.FlowAdd, nil)
			if err != nil {
				d.log.Error("stored flow no longer parses; skipped", "bridge", rt.name, "flow", texts[i], "err", err)
				continue
			}
			parsed[i], ok[i] = fm, true
		}
	})
	fms := make([]openflow.FlowMod, 1, len(texts)+1)
	fms[0] = matchAll(openflow.FlowDelete)
	for i := range parsed {
		if ok[i] {
			fms = append(fms, parsed[i])
		}
	}
	if _, err := rt.br.FlowMods(fms); err != nil {
		return fmt.Errorf("daemon: restoring flows of %s: %w", rt.name, err)
	}
	return nil
}

// expiredFlows collects flows the bridges removed on their own (timeouts)
// until the daemon deletes them from the store.
type expiredFlows struct {
	mu sync.Mutex
	m  map[string][]openflow.FlowStats // by bridge
}

func (e *expiredFlows) add(br string, fs openflow.FlowStats) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[string][]openflow.FlowStats)
	}
	e.m[br] = append(e.m[br], fs)
}

func (e *expiredFlows) take() map[string][]openflow.FlowStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.m
	e.m = nil
	return m
}

// flushExpired deletes timed-out flows from the store. Called with d.mu
// held, before any flow request, so that a flow added again after it
// expired is never deleted by a late flush.
func (d *Daemon) flushExpired() error {
	m := d.expired.take()
	if len(m) == 0 {
		return nil
	}
	return d.st.Update(func(tx *store.Tx) error {
		for br, fss := range m {
			if d.bridges[br] == nil {
				continue
			}
			for i := range fss {
				if err := tx.Delete(flowsPath(br), flowKey(fss[i].Table, fss[i].Priority, &fss[i].Match)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// dumpFilter parses a dump-flows or dump-aggregate filter: match fields
// plus table=, cookie=V/M and out_port=, as ovs-ofctl accepts them.
func dumpFilter(text string, names ofctl.PortNamer) (openflow.FlowMod, error) {
	if strings.TrimSpace(text) == "" {
		return matchAll(openflow.FlowDelete), nil
	}
	fm, err := ofctl.ParseFlowMod(text, openflow.FlowDelete, names)
	if err != nil {
		return fm, api.BadRequest("%s", strings.TrimPrefix(err.Error(), "ofctl: "))
	}
	return fm, nil
}

// dumpChunk is how many flows dump-flows reads and formats at a time.
const dumpChunk = 1024

// DumpFlows implements api.Backend. Without --sort the flows are read and
// formatted a chunk at a time (ofproto.FlowDump), so 100,000 flows never
// exist as 100,000 FlowStats at once; sorting needs them all.
func (d *Daemon) DumpFlows(_ context.Context, br string, req api.DumpFlowsRequest, w io.Writer) error {
	sorted := req.Sort != "" || req.RSort != ""
	names, dump, err := d.startDump(br, req.Filter)
	if err != nil {
		return err
	}
	f := newFlowFormatter(w, names, req)
	if !sorted {
		for fs := dump.Next(dumpChunk); fs != nil; fs = dump.Next(dumpChunk) {
			if err := f.write(fs); err != nil {
				return err
			}
		}
		return f.flush()
	}
	flows := make([]openflow.FlowStats, 0, dump.Len())
	for fs := dump.Next(dumpChunk); fs != nil; fs = dump.Next(dumpChunk) {
		flows = append(flows, fs...)
	}
	for i := range flows {
		flows[i].Duration = flows[i].Duration.Truncate(time.Millisecond) // sorted as printed
	}
	if err := sortFlows(flows, req); err != nil {
		return err
	}
	if err := f.write(flows); err != nil {
		return err
	}
	return f.flush()
}

// flowFormatter writes dump-flows lines.
type flowFormatter struct {
	bw   *bufio.Writer
	req  api.DumpFlowsRequest
	opts ofctl.FormatOptions
	ages bool
	line []byte
}

func newFlowFormatter(w io.Writer, names ofctl.PortNamer, req api.DumpFlowsRequest) *flowFormatter {
	f := &flowFormatter{bw: bufio.NewWriterSize(w, 64<<10), req: req,
		opts: ofctl.FormatOptions{NoStats: req.NoStats, Version: req.Version},
		ages: req.Reply || req.Version == ofctl.OpenFlow13}
	if req.Names {
		f.opts.Names = names
	}
	return f
}

// write formats flows, one line each.
func (f *flowFormatter) write(flows []openflow.FlowStats) error {
	for i := range flows {
		fs := &flows[i]
		// Open vSwitch keeps time in milliseconds, so its durations
		// print with three decimals.
		fs.Duration = fs.Duration.Truncate(time.Millisecond)
		line := f.line[:0]
		if f.req.Format == api.DumpFlowMod {
			fm := statsToMod(fs)
			line = ofctl.AppendFlowMod(line, &fm, nil)
		} else {
			line = ofctl.AppendFlowStats(line, fs, f.opts)
			if !f.ages && !f.req.NoStats {
				line = stripAges(line)
			}
		}
		line = append(line, '\n')
		f.line = line
		if _, err := f.bw.Write(line); err != nil {
			return err
		}
	}
	return nil
}

func (f *flowFormatter) flush() error { return f.bw.Flush() }

// startDump selects the flows filter selects, with a snapshot of the
// bridge's port names; their statistics are read and formatted after,
// outside the lock.
func (d *Daemon) startDump(br, filter string) (ofctl.PortNamer, *ofproto.FlowDump, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rt, err := d.bridge(br)
	if err != nil {
		return nil, nil, err
	}
	fm, err := dumpFilter(filter, rt)
	if err != nil {
		return nil, nil, err
	}
	return rt.names(), rt.br.StartDump(fm), nil
}

// portNames is a snapshot of a bridge's port names, for formatting
// outside the daemon's lock.
type portNames struct {
	byName map[string]uint32
	byNo   map[uint32]string
}

func (p *portNames) PortNumber(name string) (uint32, bool) { n, ok := p.byName[name]; return n, ok }
func (p *portNames) PortName(no uint32) (string, bool)     { n, ok := p.byNo[no]; return n, ok }

// names snapshots rt's port names. Called with d.mu held.
func (rt *bridgeRT) names() *portNames {
	p := &portNames{byName: make(map[string]uint32), byNo: make(map[uint32]string)}
	for name, pr := range rt.ports {
		if pr.conf.OFPort != 0 {
			p.byName[name], p.byNo[pr.conf.OFPort] = pr.conf.OFPort, name
		}
	}
	for _, pi := range rt.br.Ports() {
		p.byName[pi.Desc.Name], p.byNo[pi.Desc.No] = pi.Desc.No, pi.Desc.Name
	}
	return p
}

// stripAges removes "idle_age=N, " and "hard_age=N, " from an OpenFlow 1.0
// dump-flows line: ovs-ofctl prints them only when it prints a whole stats
// reply, not on its flow-by-flow path (--names, --sort).
func stripAges(line []byte) []byte {
	for _, key := range [...]string{"idle_age=", "hard_age="} {
		i := bytes.Index(line, []byte(key))
		if i < 0 {
			continue
		}
		j := bytes.Index(line[i:], []byte(", "))
		if j < 0 {
			continue
		}
		line = append(line[:i], line[i+j+2:]...)
	}
	return line
}

func sortFlows(flows []openflow.FlowStats, req api.DumpFlowsRequest) error {
	field, reverse := req.Sort, false
	if req.RSort != "" {
		field, reverse = req.RSort, true
	}
	if field == "" {
		return nil
	}
	if err := ofctl.SortFlows(flows, field, reverse); err != nil {
		return api.BadRequest("%s", strings.TrimPrefix(err.Error(), "ofctl: "))
	}
	return nil
}

// Aggregate implements api.Backend.
func (d *Daemon) Aggregate(_ context.Context, br, filter string) (openflow.AggregateStats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rt, err := d.bridge(br)
	if err != nil {
		return openflow.AggregateStats{}, err
	}
	fm, err := dumpFilter(filter, rt)
	if err != nil {
		return openflow.AggregateStats{}, err
	}
	return rt.br.Aggregate(fm), nil
}
