package ofctl

import (
	"bytes"
	"sort"

	"tapestry/flow"
	"tapestry/openflow"
)

// SortFlows orders flows as ovs-ofctl dump-flows --sort[=field] (ascending)
// or --rsort[=field] (descending) does. An empty field or "priority" sorts
// by priority. For a match field, flows that do not match on it (or whose
// match does not meet its prerequisites) go last in either direction, and
// the rest are ordered by the field's value. Ties keep their order.
func SortFlows(flows []openflow.FlowStats, field string, descending bool) error {
	sign := 1
	if descending {
		sign = -1
	}
	if field == "" || field == "priority" {
		sort.SliceStable(flows, func(i, j int) bool {
			a, b := int(flows[i].Priority), int(flows[j].Priority)
			return sign*(a-b) < 0
		})
		return nil
	}
	f, ok := flow.Lookup(field)
	if !ok {
		return errorf("unknown sort field %q%s", field, suggest(field, flow.Names()))
	}
	has := func(m *flow.Match) bool {
		dl, dlOK := exact16(m.Key.DlType, m.Mask.DlType)
		ok, _ := prereqOK(f, dl, dlOK, m.Key.NwProto, m.Mask.NwProto == 0xff)
		return ok && m.Has(f)
	}
	n := f.Bytes()
	sort.SliceStable(flows, func(i, j int) bool {
		a, b := &flows[i].Match, &flows[j].Match
		ina, inb := has(a), has(b)
		if ina != inb {
			return ina
		}
		if !ina {
			return false
		}
		av, bv := f.Get(&a.Key), f.Get(&b.Key)
		return sign*bytes.Compare(av.Tail(n), bv.Tail(n)) < 0
	})
	return nil
}
