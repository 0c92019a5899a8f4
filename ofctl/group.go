package ofctl

import (
	"strconv"
	"strings"

	"tapestry/openflow"
)

// Group text (ovs-ofctl(8) "Group Syntax"), as add-group, mod-group,
// del-groups and dump-group-stats take it:
//
//	group_id=ID,type=TYPE,bucket=BUCKET,bucket=BUCKET...
//
// The group's own keywords come first; each "bucket=" starts a bucket that
// runs to the next "bucket=". Inside a bucket the keywords weight,
// watch_port, watch_group and bucket_id may come anywhere (even after
// "actions=", as in Open vSwitch); every other word is an action, so
// "bucket=output:1" and "bucket=actions=output:1" are the same bucket.
// Pairs are separated by commas or white space, as in flow text.

// groupTypeWords are the type= names, indexed by OFPGT_* value; "ff" is the
// name dump-groups prints for fast_failover and is accepted too.
var groupTypeWords = [...]string{"all", "select", "indirect", "fast_failover"}

// groupTypePrint is how dump-groups prints each type.
var groupTypePrint = [...]string{"all", "select", "indirect", "ff"}

// ParseGroupMod parses group text for the group-mod command cmd
// (openflow.GroupAdd, GroupModify or GroupDelete) with ovs-ofctl 3.1's
// rules and error texts:
//
//   - add and modify need group_id= (a number up to 0xffffff00, or "all")
//     and type=; buckets may be omitted (an empty group);
//   - delete takes only group_id= ("all", also the default for empty text);
//     type= or a bucket is "not needed";
//   - a bucket needs actions ("bucket=actions=" is an empty list); weight=
//     is for select groups only (default 1 there, 0 elsewhere); a
//     fast-failover bucket needs watch_port or watch_group (default ANY);
//     an indirect group has at most one bucket;
//   - selection_method=, selection_method_param= and fields= (OpenFlow 1.5
//     select-group properties) and bucket_id= (an OpenFlow 1.5 bucket
//     property) are checked and ignored: OpenFlow 1.3 cannot carry them,
//     and Open vSwitch drops them too when it speaks 1.3.
func ParseGroupMod(text string, cmd uint16, names PortNamer) (openflow.GroupMod, error) {
	gm := openflow.GroupMod{Command: cmd, Group: openflow.Group{ID: openflow.GroupAny}}
	head, buckets := splitBuckets(text)
	hasType, hasID := false, false
	p := pairs{s: head}
	for {
		key, value, _, ok := p.next()
		if !ok {
			break
		}
		var err error
		switch key {
		case "group_id":
			gm.ID, err = parseGroupID(value)
			hasID = true
		case "type":
			gm.GroupType, err = parseGroupType(value)
			hasType = true
		case "selection_method", "selection_method_param", "fields":
			// OpenFlow 1.5 properties; see the doc comment.
		default:
			err = errorf("unknown keyword %s", key)
		}
		if err != nil {
			return gm, err
		}
	}
	if cmd == openflow.GroupDelete {
		return gm, checkGroupDelete(&gm, hasID, hasType, len(buckets) > 0)
	}
	switch {
	case !hasID:
		return gm, errorf("must specify a group_id")
	case !hasType:
		return gm, errorf("must specify a type")
	}
	for _, bt := range buckets {
		bk, err := parseBucket(bt, gm.GroupType, names)
		if err != nil {
			return gm, err
		}
		gm.Buckets = append(gm.Buckets, bk)
	}
	if gm.GroupType == openflow.GroupTypeIndirect && len(gm.Buckets) > 1 {
		return gm, errorf("Indirect groups can have at most one bucket.")
	}
	return gm, nil
}

// checkGroupDelete applies del-groups' rules: only group_id, and no
// group_id means every group.
func checkGroupDelete(gm *openflow.GroupMod, hasID, hasType, hasBuckets bool) error {
	switch {
	case hasType:
		return errorf("type is not needed")
	case hasBuckets:
		return errorf("bucket is not needed")
	case !hasID:
		gm.ID = openflow.GroupAll
	}
	return nil
}

// splitBuckets cuts group text at every "bucket=" word: the text before the
// first, then each bucket's text. A "bucket=" counts only at the start of a
// word (after a separator), so an action argument containing the letters
// cannot split a bucket.
func splitBuckets(s string) (head string, buckets []string) {
	const kw = "bucket="
	start := -1
	for i := 0; i+len(kw) <= len(s); i++ {
		if s[i:i+len(kw)] != kw || i > 0 && !isSep(s[i-1]) {
			continue
		}
		if start < 0 {
			head = s[:i]
		} else {
			buckets = append(buckets, s[start:i])
		}
		start = i + len(kw)
		i += len(kw) - 1
	}
	if start < 0 {
		return s, nil
	}
	return head, append(buckets, s[start:])
}

// parseGroupID reads group_id's value: a 32-bit number no higher than
// OFPG_MAX (0xffffff00), or "all" (OFPG_ALL). Open vSwitch 3.1 rejects "any"
// as a number.
func parseGroupID(s string) (uint32, error) {
	if strings.EqualFold(s, "all") {
		return openflow.GroupAll, nil
	}
	v, ok := parseUint(s)
	if !ok || v > 0xffffffff {
		return 0, errorf("invalid numeric format %s", s)
	}
	if v > uint64(groupMax) {
		return 0, errorf("invalid group id %s", s)
	}
	return uint32(v), nil
}

// groupMax is OFPG_MAX, the highest ordinary group id (OpenFlow 1.3
// §7.3.4.2); ids above it are reserved.
const groupMax uint32 = 0xffffff00

func parseGroupType(s string) (uint8, error) {
	for i, w := range groupTypeWords {
		if s == w {
			return uint8(i), nil
		}
	}
	if s == "ff" {
		return openflow.GroupTypeFastFailover, nil
	}
	return 0, errorf("invalid group type %s", s)
}

// parseBucket parses one bucket's text (what follows "bucket=").
func parseBucket(s string, groupType uint8, names PortNamer) (openflow.Bucket, error) {
	bk := openflow.Bucket{WatchPort: openflow.PortAny, WatchGroup: openflow.GroupAny}
	if groupType == openflow.GroupTypeSelect {
		bk.Weight = 1
	}
	var acts []string
	hasActions := false
	p := pairs{s: s}
	for {
		before := p.s
		key, value, _, ok := p.next()
		if !ok {
			break
		}
		raw := strings.TrimLeft(before[:len(before)-len(p.s)], ", \t\r\n")
		var err error
		switch key {
		case "weight":
			v, ok := parseUint(value)
			if !ok || v > 0xffff {
				return bk, errorf("invalid weight \"%s\"", value)
			}
			bk.Weight = uint16(v)
		case "watch_port":
			wp, ok := parsePort(value, names)
			if !ok {
				return bk, errorf("%s: invalid watch_port", value)
			}
			bk.WatchPort = wp
		case "watch_group":
			bk.WatchGroup, err = parseNumeric32(value)
		case "bucket_id":
			_, err = parseNumeric32(value)
		case "action", "actions":
			hasActions = true
			if value != "" {
				acts = append(acts, value)
			}
		default:
			hasActions = true
			acts = append(acts, raw)
		}
		if err != nil {
			return bk, err
		}
	}
	if !hasActions {
		return bk, errorf("bucket must specify actions")
	}
	if groupType != openflow.GroupTypeSelect && bk.Weight != 0 {
		return bk, errorf("Only select groups can have bucket weights.")
	}
	if groupType == openflow.GroupTypeFastFailover && bk.WatchPort == openflow.PortAny && bk.WatchGroup == openflow.GroupAny {
		return bk, errorf("fast failover bucket requires watch_port or watch_group")
	}
	list, err := parseActionList(strings.Join(acts, ","), names, false)
	if err != nil {
		return bk, err
	}
	bk.Actions = list
	return bk, nil
}

// parseNumeric32 reads a 32-bit number as Open vSwitch's str_to_u32 does.
func parseNumeric32(s string) (uint32, error) {
	v, ok := parseUint(s)
	if !ok || v > 0xffffffff {
		return 0, errorf("invalid numeric format %s", s)
	}
	return uint32(v), nil
}

// ParseGroupID reads a group id as dump-group-stats and del-groups take it
// on their own ("group_id=ID" or empty for every group), returning GroupAll
// for "all" or nothing.
func ParseGroupID(text string) (uint32, error) {
	gm, err := ParseGroupMod(text, openflow.GroupDelete, nil)
	return gm.ID, err
}

// FormatGroup prints a group as ovs-ofctl -O OpenFlow13 dump-groups prints
// it, without the leading space: "group_id=1,type=select,bucket=weight:5,
// actions=output:1". A select bucket shows its weight unless it is 1;
// watch_port and watch_group show unless ANY; actions are printed as
// OpenFlow 1.3 carries them.
func FormatGroup(g openflow.Group, names PortNamer) string {
	return string(AppendGroup(nil, &g, FormatOptions{Names: names, Version: OpenFlow13}))
}

// AppendGroup appends a dump-groups line (without the leading space).
// With opts.Version OpenFlow10 it prints as Open vSwitch's Nicira group
// dump (NXST_GROUP_DESC, what ovs-ofctl prints without -O), which numbers
// the buckets: "bucket=bucket_id:0,actions=...".
func AppendGroup(b []byte, g *openflow.Group, opts FormatOptions) []byte {
	return appendGroup(b, g, opts.Names, modeOF13, opts.Version == OpenFlow10)
}

// FormatGroupMod prints a group mod in the form ParseGroupMod reads back
// to the same group mod ("group_id=1,type=all,bucket=actions=output:1"):
// the group text of add-group, with actions in their native spelling. A
// delete prints only its group_id.
func FormatGroupMod(gm *openflow.GroupMod, names PortNamer) string {
	if gm.Command == openflow.GroupDelete {
		return string(appendGroupID(nil, gm.ID))
	}
	return string(appendGroup(nil, &gm.Group, names, modeNative, false))
}

func appendGroupID(b []byte, id uint32) []byte {
	b = append(b, "group_id="...)
	if id == openflow.GroupAll {
		return append(b, "all"...)
	}
	return strconv.AppendUint(b, uint64(id), 10)
}

func appendGroup(b []byte, g *openflow.Group, names PortNamer, mode fmtMode, bucketIDs bool) []byte {
	b = append(appendGroupID(b, g.ID), ",type="...)
	if int(g.GroupType) < len(groupTypePrint) {
		b = append(b, groupTypePrint[g.GroupType]...)
	} else {
		b = strconv.AppendUint(b, uint64(g.GroupType), 10)
	}
	for i := range g.Buckets {
		bk := &g.Buckets[i]
		b = append(b, ",bucket="...)
		if bucketIDs {
			b = append(appendNum(b, "bucket_id:", uint64(i)), ',')
		}
		if g.GroupType == openflow.GroupTypeSelect && bk.Weight != 1 || g.GroupType != openflow.GroupTypeSelect && bk.Weight != 0 {
			b = append(appendNum(b, "weight:", uint64(bk.Weight)), ',')
		}
		if bk.WatchPort != openflow.PortAny {
			b = append(appendPort(append(b, "watch_port:"...), bk.WatchPort, names), ',')
		}
		if bk.WatchGroup != openflow.GroupAny {
			b = append(appendNum(b, "watch_group:", uint64(bk.WatchGroup)), ',')
		}
		b = appendActions(append(b, "actions="...), bk.Actions, names, mode, nil)
	}
	return b
}
