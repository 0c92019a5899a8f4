package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"tapestry/api"
	"tapestry/ofctl"
	"tapestry/ofproto"
	"tapestry/openflow"
	"tapestry/store"
)

// Groups are desired state like flows (store layout):
//
//	bridges/<br>/groups         key: the group id in decimal; value: FormatGroupMod text with port numbers
//
// The bucket always holds a snapshot of the bridge's whole group table,
// written after every change (through the API or over OpenFlow), so it can
// never disagree with the bridge about which groups exist. On start the
// groups are restored before the flows, since flows may name them.

func groupsPath(br string) []string { return []string{"bridges", br, "groups"} }

var groupCommands = map[string]uint16{
	api.GroupCmdAdd:    openflow.GroupAdd,
	api.GroupCmdModify: openflow.GroupModify,
	api.GroupCmdDelete: openflow.GroupDelete,
}

// Groups implements api.Backend.
func (d *Daemon) Groups(_ context.Context, br string, req api.GroupRequest) (api.GroupResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rt, err := d.bridge(br)
	if err != nil {
		return api.GroupResult{}, err
	}
	switch req.Op {
	case api.GroupOpMod:
		return d.groupMods(rt, req)
	case api.GroupOpDump:
		opts := ofctl.FormatOptions{Version: ofctl.OpenFlow13}
		if req.Version == ofctl.OpenFlow10 {
			opts.Version = ofctl.OpenFlow10
		}
		if req.Names {
			opts.Names = rt
		}
		groups := rt.br.Groups()
		lines := make([]string, len(groups))
		for i := range groups {
			lines[i] = string(ofctl.AppendGroup(nil, &groups[i], opts))
		}
		return api.GroupResult{Lines: lines}, nil
	case api.GroupOpStats:
		id, err := ofctl.ParseGroupID(req.Group)
		if err != nil {
			return api.GroupResult{}, api.BadRequest("%s", trimOfctl(err))
		}
		return api.GroupResult{Stats: rt.br.GroupStats(id)}, nil
	case api.GroupOpFeatures:
		gf := rt.br.GroupFeatures()
		return api.GroupResult{Features: &gf}, nil
	}
	return api.GroupResult{}, api.BadRequest("unknown group operation %q", req.Op)
}

func trimOfctl(err error) string {
	s := err.Error()
	if len(s) > 7 && s[:7] == "ofctl: " {
		return s[7:]
	}
	return s
}

// groupMods parses every line (all or nothing), applies the group mods in
// order and stores the result. A group mod the bridge refuses undoes the
// ones before it, so a request changes all of its groups or none.
func (d *Daemon) groupMods(rt *bridgeRT, req api.GroupRequest) (api.GroupResult, error) {
	cmd := groupCommands[req.Command]
	gms := make([]openflow.GroupMod, len(req.Lines))
	for i, l := range req.Lines {
		gm, err := ofctl.ParseGroupMod(l.Text, cmd, rt)
		if err != nil {
			return api.GroupResult{}, api.BadRequest("%s%s", linePrefix(req.Lines, i, req.Source), trimOfctl(err))
		}
		gms[i] = gm
	}
	d.flowMu.Lock()
	defer d.flowMu.Unlock()
	d.drainFlowLog() // OpenFlow changes the bridge applied earlier go first
	var (
		undo    []groupUndo
		removed []openflow.FlowStats
	)
	for i := range gms {
		u := groupUndo{gm: gms[i], old: affectedGroups(rt.br, &gms[i])}
		ch, err := rt.br.GroupMod(gms[i])
		if err != nil {
			d.undoGroupMods(rt, undo)
			return api.GroupResult{}, api.BadRequest("%s", groupModError(err, &gms[i], i, req.Version))
		}
		u.removed = ch.Removed
		undo = append(undo, u)
		removed = append(removed, ch.Removed...)
	}
	if err := d.storeGroups(rt, ofproto.FlowChanges{Removed: removed}); err != nil {
		return api.GroupResult{}, fmt.Errorf("writing store: %w", err)
	}
	return api.GroupResult{RemovedFlows: len(removed)}, nil
}

// groupUndo is what undoes one applied group mod: the groups it replaced
// or deleted and the flows a delete took with it.
type groupUndo struct {
	gm      openflow.GroupMod
	old     []openflow.Group
	removed []openflow.FlowStats
}

// affectedGroups returns the current definitions of the groups gm changes.
func affectedGroups(br *ofproto.Bridge, gm *openflow.GroupMod) []openflow.Group {
	var out []openflow.Group
	for _, g := range br.Groups() {
		if g.ID == gm.ID || gm.Command == openflow.GroupDelete && gm.ID == openflow.GroupAll {
			out = append(out, g)
		}
	}
	return out
}

// undoGroupMods reverts applied group mods, newest first: an add is
// deleted, a modify put back, a delete re-added with its flows.
func (d *Daemon) undoGroupMods(rt *bridgeRT, undo []groupUndo) {
	for i := len(undo) - 1; i >= 0; i-- {
		u := &undo[i]
		var err error
		switch {
		case u.gm.Command == openflow.GroupAdd:
			_, err = rt.br.GroupMod(openflow.GroupMod{Command: openflow.GroupDelete, Group: openflow.Group{ID: u.gm.ID}})
		case u.gm.Command == openflow.GroupModify && len(u.old) == 1:
			_, err = rt.br.GroupMod(openflow.GroupMod{Command: openflow.GroupModify, Group: u.old[0]})
		case u.gm.Command == openflow.GroupDelete:
			err = addGroups(rt.br, u.old)
			if err == nil && len(u.removed) > 0 {
				fms := make([]openflow.FlowMod, len(u.removed))
				for j := range u.removed {
					fms[j] = statsToMod(&u.removed[j])
				}
				_, err = rt.br.FlowMods(fms)
			}
		}
		if err != nil {
			d.log.Error("undoing a group mod", "bridge", rt.name, "group", u.gm.ID, "err", err)
		}
	}
}

// addGroups adds groups in an order the bridge accepts: a group whose
// buckets chain to (or watch) a group not added yet waits for it. A group
// the bridge refuses for another reason, or that names a group that never
// comes, is left out; the errors are returned joined.
func addGroups(br *ofproto.Bridge, groups []openflow.Group) error {
	var errs []error
	pending := groups
	for len(pending) > 0 {
		var later []openflow.Group
		var waitErrs []error
		for _, g := range pending {
			_, err := br.GroupMod(openflow.GroupMod{Command: openflow.GroupAdd, Group: g})
			switch {
			case err == nil:
			case errors.Is(err, ofproto.ErrBadOutGroup) || errors.Is(err, ofproto.ErrBadWatch):
				later, waitErrs = append(later, g), append(waitErrs, err)
			default:
				errs = append(errs, err)
			}
		}
		if len(later) == len(pending) {
			// No progress: these name groups that are missing.
			return errors.Join(append(errs, waitErrs...)...)
		}
		pending = later
	}
	return errors.Join(errs...)
}

// groupErrorNames are the OpenFlow error names of the bridge's group-mod
// errors, as ovs-ofctl prints them.
var groupErrorNames = []struct {
	err  error
	name string
}{
	{ofproto.ErrGroupExists, "OFPGMFC_GROUP_EXISTS"},
	{ofproto.ErrInvalidGroup, "OFPGMFC_INVALID_GROUP"},
	{ofproto.ErrUnknownGroup, "OFPGMFC_UNKNOWN_GROUP"},
	{ofproto.ErrBadGroupType, "OFPGMFC_BAD_TYPE"},
	{ofproto.ErrBadBucket, "OFPGMFC_BAD_BUCKET"},
	{ofproto.ErrBadWatch, "OFPGMFC_BAD_WATCH"},
	{ofproto.ErrGroupLoop, "OFPGMFC_LOOP"},
	{ofproto.ErrBadOutGroup, "OFPGMFC_BAD_BUCKET"},
}

// groupModError words a refused group mod as ovs-ofctl prints the switch's
// error reply and the request it answers: in OpenFlow 1.3, or, for version
// 1 (ovs-ofctl without -O), as Open vSwitch's Nicira group mod with bucket
// ids. The xid is the one ovs-ofctl's first group mod carries (0x6, after
// hello, features, port desc...), counted up by two (group mod, barrier)
// for later lines.
func groupModError(err error, gm *openflow.GroupMod, i int, version uint8) string {
	name := ""
	for _, e := range groupErrorNames {
		if errors.Is(err, e.err) {
			name = e.name
			break
		}
	}
	if name == "" {
		return trimOfproto(err)
	}
	xid := "0x" + strconv.FormatUint(uint64(6+2*i), 16) // a barrier follows each group mod
	verb := [...]string{"ADD", "MOD", "DEL"}[min(int(gm.Command), 2)]
	g := gm.Group
	if gm.Command == openflow.GroupDelete {
		g = openflow.Group{ID: gm.ID} // Open vSwitch decodes a delete as type all, no buckets
	}
	tag, msg := "(OF1.3) ", "OFPT_GROUP_MOD"
	opts := ofctl.FormatOptions{Version: ofctl.OpenFlow13}
	if version == ofctl.OpenFlow10 {
		tag, msg, opts.Version = "", "NXT_GROUP_MOD", ofctl.OpenFlow10
	}
	return fmt.Sprintf("OFPT_ERROR %s(xid=%s): %s\n%s %s(xid=%s):\n %s %s",
		tag, xid, name, msg, tag, xid, verb, ofctl.AppendGroup(nil, &g, opts))
}

func trimOfproto(err error) string {
	s := err.Error()
	if len(s) > 9 && s[:9] == "ofproto: " {
		return s[9:]
	}
	return s
}

// storeGroups writes, in one transaction, the flows ch removed and a
// snapshot of the bridge's groups. The caller holds d.flowMu.
func (d *Daemon) storeGroups(rt *bridgeRT, ch ofproto.FlowChanges) error {
	w := flowRecords(rt.name, ch)
	groups := rt.br.Groups()
	return d.st.Update(func(tx *store.Tx) error {
		if err := w.write(tx); err != nil {
			return err
		}
		return putGroups(tx, rt.name, groups)
	})
}

// putGroups replaces the stored groups of br with groups.
func putGroups(tx *store.Tx, br string, groups []openflow.Group) error {
	path := groupsPath(br)
	if err := tx.DeleteBucket(path); err != nil {
		return err
	}
	for i := range groups {
		gm := openflow.GroupMod{Command: openflow.GroupAdd, Group: groups[i]}
		if err := tx.Put(path, strconv.FormatUint(uint64(groups[i].ID), 10), []byte(ofctl.FormatGroupMod(&gm, nil))); err != nil {
			return err
		}
	}
	return nil
}

// groupsChanged stores bridge rt's groups after an OpenFlow connection
// changed them (the flows a delete removed come through the flow log).
func (d *Daemon) groupsChanged(rt *bridgeRT) {
	d.flowMu.Lock()
	defer d.flowMu.Unlock()
	d.drainFlowLog()
	groups := rt.br.Groups()
	if err := d.st.Update(func(tx *store.Tx) error { return putGroups(tx, rt.name, groups) }); err != nil {
		d.log.Error("storing groups changed over OpenFlow", "bridge", rt.name, "err", err)
	}
}

// restoreGroups gives a new bridge the groups in the store. Called before
// restoreFlows; a stored group that no longer parses or that the bridge
// refuses is logged and skipped.
func (d *Daemon) restoreGroups(rt *bridgeRT) error {
	var groups []openflow.Group
	err := d.st.View(func(tx *store.Tx) error {
		return tx.ForEach(groupsPath(rt.name), func(_ string, v []byte) error {
			gm, err := ofctl.ParseGroupMod(string(v), openflow.GroupAdd, nil)
			if err != nil {
				d.log.Error("stored group no longer parses; skipped", "bridge", rt.name, "group", string(v), "err", err)
				return nil
			}
			groups = append(groups, gm.Group)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("daemon: reading groups of %s: %w", rt.name, err)
	}
	if err := addGroups(rt.br, groups); err != nil {
		d.log.Error("stored groups refused by the bridge", "bridge", rt.name, "err", err)
	}
	return nil
}

// badOutGroupError words a flow mod refused for naming a missing group as
// ovs-ofctl prints the switch's OFPBAC_BAD_OUT_GROUP reply and the flow
// mod it answers ("OFPT_FLOW_MOD (OF1.3) (xid=0x6): ADD in_port=1
// actions=group:42").
func badOutGroupError(err error, lines []api.FlowLine) (string, bool) {
	if !errors.Is(err, ofproto.ErrBadOutGroup) {
		return "", false
	}
	i := 0
	if n, _ := fmt.Sscanf(err.Error(), "ofproto: flow mod %d:", &i); n != 1 || i < 0 || i >= len(lines) {
		i = 0
	}
	if len(lines) == 0 {
		return "", false
	}
	text, cmd := lineCommand(lines[i].Text, openflow.FlowAdd)
	fm, perr := ofctl.ParseFlowMod(text, cmd, nil)
	if perr != nil {
		return "", false
	}
	body := "ADD "
	if cmd != openflow.FlowAdd {
		body = ""
	}
	if m := ofctl.FormatMatch(&fm.Match, fm.Priority, nil); m != "" {
		body += m + " "
	}
	xid := "0x" + strconv.FormatUint(uint64(6+i), 16)
	return fmt.Sprintf("OFPT_ERROR (OF1.3) (xid=%s): OFPBAC_BAD_OUT_GROUP\nOFPT_FLOW_MOD (OF1.3) (xid=%s): %sactions=%s",
		xid, xid, body, ofctl.FormatActions(fm.Actions, nil)), true
}
