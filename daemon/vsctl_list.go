package daemon

import (
	"fmt"
	"strings"

	"tapestry/api"
)

// listColumns are the columns ovs-vsctl list prints for each table, in its
// (alphabetical) order. tapestry keeps only these; OVS's many other
// columns (bfd, cfm, lacp, qos...) have no meaning here.
var listColumns = [...][]string{
	tableBridge:    {"datapath_id", "external_ids", "fail_mode", "name", "other_config", "protocols"},
	tablePort:      {"external_ids", "name", "other_config", "tag", "trunks"},
	tableInterface: {"error", "external_ids", "name", "ofport", "ofport_request", "other_config", "type"},
}

// list prints records as ovs-vsctl list does: one "column : value" line
// per column (names padded to 20), records separated by blank lines. With
// no record names it lists every record of the table.
func (t *vsctlTx) list(c api.Command) (api.CommandResult, error) {
	tbl, err := lookupTable(c.Args[0])
	if err != nil {
		return api.CommandResult{}, err
	}
	names := c.Args[1:]
	if len(names) == 0 {
		names = t.recordNames(tbl)
	}
	var records []string
	for _, name := range names {
		rec, err := t.listRecord(tbl, name)
		if err != nil {
			if c.IfExists && api.StatusOf(err) == 404 {
				continue
			}
			return api.CommandResult{}, err
		}
		records = append(records, rec)
	}
	return api.CommandResult{Output: strings.Join(records, "\n")}, nil
}

// recordNames returns every record of a table by name, sorted.
func (t *vsctlTx) recordNames(tbl dbTable) []string {
	if tbl == tableBridge {
		return sortedKeys(t.conf.Bridges)
	}
	all := make(map[string]bool)
	for _, b := range t.conf.Bridges {
		all[b.Name] = true
		for p := range b.Ports {
			all[p] = true
		}
	}
	return sortedKeys(all)
}

func (t *vsctlTx) listRecord(tbl dbTable, name string) (string, error) {
	_, b, p, err := t.record(api.Command{Args: []string{tableNames[tbl], name}})
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, col := range listColumns[tbl] {
		v, err := t.getColumn(tbl, b, p, name, api.Setting{Column: col})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "%-20s: %s\n", col, v)
	}
	return sb.String(), nil
}
