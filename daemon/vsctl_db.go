package daemon

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"tapestry/api"
)

// The database commands (set, get, clear) address three of OVS's tables by
// record name. Column names accept '-' for '_' as ovs-vsctl does
// ("other-config:datapath-id").
type dbTable int

const (
	tableBridge dbTable = iota
	tablePort
	tableInterface
)

var tableNames = [...]string{"Bridge", "Port", "Interface"}

func lookupTable(name string) (dbTable, error) {
	for i, n := range tableNames {
		if strings.EqualFold(n, name) {
			return dbTable(i), nil
		}
	}
	return 0, api.BadRequest("unknown table \"%s\"", name)
}

// record resolves a table and record name to the bridge and (for Port and
// Interface) the port it names.
func (t *vsctlTx) record(c api.Command) (dbTable, *bridgeConf, *portConf, error) {
	tbl, err := lookupTable(c.Args[0])
	if err != nil {
		return 0, nil, nil, err
	}
	name := c.Args[1]
	if tbl == tableBridge {
		b := t.conf.Bridges[name]
		if b == nil {
			return 0, nil, nil, api.NotFound("no row \"%s\" in table %s", name, tableNames[tbl])
		}
		return tbl, b, nil, nil
	}
	b := t.conf.portOwner(name)
	if b == nil {
		if lb := t.conf.Bridges[name]; lb != nil {
			// The bridge's own internal port: readable, not configurable here.
			return tbl, lb, nil, nil
		}
		return 0, nil, nil, api.NotFound("no row \"%s\" in table %s", name, tableNames[tbl])
	}
	return tbl, b, b.Ports[name], nil
}

// ifExists swallows a missing-record error for commands given
// --if-exists, as ovs-vsctl does.
func ifExists(c api.Command, err error) (api.CommandResult, error) {
	if c.IfExists && api.StatusOf(err) == http.StatusNotFound {
		return api.CommandResult{}, nil
	}
	return api.CommandResult{}, err
}

func normColumn(s string) string { return strings.ReplaceAll(s, "-", "_") }

func (t *vsctlTx) set(c api.Command) (api.CommandResult, error) {
	tbl, b, p, err := t.record(c)
	if err != nil {
		return ifExists(c, err)
	}
	if len(c.Settings) == 0 {
		return api.CommandResult{}, api.BadRequest("'set' command requires at least 3 arguments")
	}
	if tbl != tableBridge && p == nil {
		return api.CommandResult{}, api.BadRequest("%s %s is a bridge's local port and cannot be changed", tableNames[tbl], c.Args[1])
	}
	for _, s := range c.Settings {
		if err := t.setColumn(tbl, b, p, s); err != nil {
			return api.CommandResult{}, err
		}
	}
	t.changed = true
	return api.CommandResult{}, nil
}

func noColumn(tbl dbTable, col string) error {
	return api.BadRequest("%s does not contain a column whose name matches \"%s\"", tableNames[tbl], col)
}

func readOnly(tbl dbTable, col string) error {
	return api.BadRequest("cannot modify read-only column %s in table %s", col, tableNames[tbl])
}

// setColumn applies one COLUMN[:KEY]=VALUE to a record.
func (t *vsctlTx) setColumn(tbl dbTable, b *bridgeConf, p *portConf, s api.Setting) error {
	col := normColumn(s.Column)
	if s.Key != "" {
		m, err := mapColumn(tbl, b, p, col)
		if err != nil {
			return err
		}
		if *m == nil {
			*m = make(map[string]string)
		}
		(*m)[s.Key] = unquote(s.Value)
		return nil
	}
	switch {
	case tbl == tableBridge && col == "protocols":
		return setProtocols(b, s.Value)
	case tbl == tableBridge && col == "fail_mode":
		v := unquote(s.Value)
		if v != "standalone" && v != "secure" {
			return api.BadRequest("constraint violation: %s is not one of the allowed values ([secure, standalone])", v)
		}
		b.FailMode = v
	case tbl == tablePort && col == "tag":
		v, err := parseInt(s.Value, 0, 4095)
		if err != nil {
			return err
		}
		p.Tag = uint16(v)
	case tbl == tablePort && col == "trunks":
		return setTrunks(p, s.Value)
	case tbl == tableInterface && col == "type":
		p.Type = unquote(s.Value)
	case tbl == tableInterface && col == "ofport_request":
		return setOFPortRequest(b, p, s.Value)
	case tbl == tableInterface && col == "mac":
		v := unquote(s.Value)
		if v == "" {
			p.MAC = ""
			return nil
		}
		hw, err := net.ParseMAC(v)
		if err != nil || len(hw) != 6 {
			return api.BadRequest("%s: invalid Ethernet address in mac column", v)
		}
		if hw[0]&1 != 0 {
			return api.BadRequest("%s: mac column must be a unicast address", v)
		}
		p.MAC = hw.String()
	case col == "other_config" || col == "external_ids":
		m, err := mapColumn(tbl, b, p, col)
		if err != nil {
			return err
		}
		kv, err := parseMap(s.Value)
		if err != nil {
			return err
		}
		*m = kv
	case readOnlyColumns[tbl][col]:
		return readOnly(tbl, col)
	default:
		return noColumn(tbl, s.Column)
	}
	return nil
}

var readOnlyColumns = [...]map[string]bool{
	tableBridge:    {"name": true, "datapath_id": true, "ports": true},
	tablePort:      {"name": true, "interfaces": true},
	tableInterface: {"name": true, "ofport": true, "error": true, "mac_in_use": true},
}

func mapColumn(tbl dbTable, b *bridgeConf, p *portConf, col string) (*map[string]string, error) {
	switch {
	case col == "other_config" && tbl == tableBridge:
		return &b.OtherConfig, nil
	case col == "external_ids" && tbl == tableBridge:
		return &b.ExternalIDs, nil
	case col == "other_config" && p != nil:
		return &p.OtherConfig, nil
	case col == "external_ids" && p != nil:
		return &p.ExternalIDs, nil
	}
	return nil, noColumn(tbl, col)
}

// OpenFlow versions a bridge's protocols column accepts (vswitch.ovsschema).
var allowedProtocols = []string{"OpenFlow10", "OpenFlow11", "OpenFlow12", "OpenFlow13", "OpenFlow14", "OpenFlow15"}

func setProtocols(b *bridgeConf, v string) error {
	vals := parseSet(v)
	for _, p := range vals {
		if !slices.Contains(allowedProtocols, p) {
			return api.BadRequest("constraint violation: %s is not one of the allowed values ([%s])", p, strings.Join(allowedProtocols, ", "))
		}
	}
	slices.Sort(vals)
	b.Protocols = slices.Compact(vals)
	return nil
}

func setTrunks(p *portConf, v string) error {
	var trunks []uint16
	for _, s := range parseSet(v) {
		n, err := parseInt(s, 0, 4095)
		if err != nil {
			return err
		}
		trunks = append(trunks, uint16(n))
	}
	slices.Sort(trunks)
	p.Trunks = slices.Compact(trunks)
	return nil
}

// setOFPortRequest sets the requested OpenFlow port number (1 to 65279,
// OFPP_MAX in OpenFlow 1.0) and renumbers the port to it.
func setOFPortRequest(b *bridgeConf, p *portConf, v string) error {
	n, err := parseInt(v, 1, 65279)
	if err != nil {
		return err
	}
	for _, o := range b.Ports {
		if o != p && o.OFPort == uint32(n) {
			return api.Conflict("ofport_request %d of interface %s is already in use by interface %s", n, p.Name, o.Name)
		}
	}
	p.OFPortRequest, p.OFPort = uint32(n), uint32(n)
	return nil
}

// parseInt parses an integer column value within [lo, hi], with
// ovsdb's messages.
func parseInt(s string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(unquote(s), 10, 64)
	if err != nil {
		return 0, api.BadRequest("\"%s\" is not a valid integer or range", s)
	}
	if n < lo || n > hi {
		return 0, api.BadRequest("constraint violation: %d is not in the valid range %d to %d (inclusive)", n, lo, hi)
	}
	return n, nil
}

// parseSet splits "a,b", "[a, b]" or "[]" into its elements.
func parseSet(v string) []string {
	v = strings.TrimSpace(v)
	v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = unquote(strings.TrimSpace(e)); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// parseMap parses "{k=v, k2=v2}" (or the same without braces).
func parseMap(v string) (map[string]string, error) {
	v = strings.TrimSpace(v)
	v = strings.TrimSuffix(strings.TrimPrefix(v, "{"), "}")
	m := make(map[string]string)
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		k, val, ok := strings.Cut(e, "=")
		if !ok {
			return nil, api.BadRequest("%s: missing '=' in map entry", e)
		}
		m[unquote(strings.TrimSpace(k))] = unquote(strings.TrimSpace(val))
	}
	return m, nil
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
		return s[1 : len(s)-1]
	}
	return s
}

func (t *vsctlTx) get(c api.Command) (api.CommandResult, error) {
	tbl, b, p, err := t.record(c)
	if err != nil {
		return ifExists(c, err)
	}
	if len(c.Settings) == 0 {
		return api.CommandResult{}, api.BadRequest("'get' command requires at least 3 arguments")
	}
	var lines []string
	for _, s := range c.Settings {
		v, err := t.getColumn(tbl, b, p, c.Args[1], s)
		if err != nil {
			return api.CommandResult{}, err
		}
		lines = append(lines, v)
	}
	return out(lines...), nil
}

// getColumn prints one column (or map key) as ovs-vsctl get does.
func (t *vsctlTx) getColumn(tbl dbTable, b *bridgeConf, p *portConf, name string, s api.Setting) (string, error) {
	col := normColumn(s.Column)
	var pv api.Port
	if tbl != tableBridge {
		if p == nil { // the bridge's local port
			pv = api.Port{Name: name, Type: "internal", OFPort: 65534}
		} else {
			pv = t.d.portView(t.d.bridges[b.Name], p)
		}
	}
	if s.Key != "" {
		m, err := t.mapView(tbl, b, &pv, col)
		if err != nil {
			return "", err
		}
		v, ok := m[s.Key]
		if !ok {
			return "", api.NotFound("no key \"%s\" in %s record \"%s\" column %s", s.Key, tableNames[tbl], name, col)
		}
		return quoteString(v), nil
	}
	switch tbl {
	case tableBridge:
		switch col {
		case "name":
			return quoteString(b.Name), nil
		case "datapath_id":
			return quoteString(t.d.switchView(&switchConf{Bridges: map[string]*bridgeConf{b.Name: b}}).Bridges[0].DatapathID), nil
		case "protocols":
			return formatStringSet(b.Protocols), nil
		case "fail_mode":
			return optString(b.FailMode), nil
		case "ports":
			return formatStringSet(append(sortedKeys(b.Ports), b.Name)), nil
		}
	case tablePort:
		switch col {
		case "name":
			return quoteString(pv.Name), nil
		case "tag":
			if pv.Tag == 0 {
				return "[]", nil
			}
			return strconv.Itoa(int(pv.Tag)), nil
		case "trunks":
			return formatIntSet(pv.Trunks), nil
		case "interfaces":
			return formatStringSet([]string{pv.Name}), nil
		}
	case tableInterface:
		switch col {
		case "name":
			return quoteString(pv.Name), nil
		case "type":
			return quoteString(pv.Type), nil
		case "ofport":
			return strconv.FormatInt(pv.OFPort, 10), nil
		case "ofport_request":
			if pv.OFPortRequest == 0 {
				return "[]", nil
			}
			return strconv.Itoa(int(pv.OFPortRequest)), nil
		case "error":
			return optString(pv.Error), nil
		case "mac":
			return optString(pv.MAC), nil
		}
	}
	if col == "other_config" || col == "external_ids" {
		m, err := t.mapView(tbl, b, &pv, col)
		if err != nil {
			return "", err
		}
		return formatMap(m), nil
	}
	return "", noColumn(tbl, s.Column)
}

func (t *vsctlTx) mapView(tbl dbTable, b *bridgeConf, pv *api.Port, col string) (map[string]string, error) {
	switch {
	case col == "other_config" && tbl == tableBridge:
		return b.OtherConfig, nil
	case col == "external_ids" && tbl == tableBridge:
		return b.ExternalIDs, nil
	case col == "other_config":
		return pv.OtherConfig, nil
	case col == "external_ids":
		return pv.ExternalIDs, nil
	}
	return nil, noColumn(tbl, col)
}

func (t *vsctlTx) clear(c api.Command) (api.CommandResult, error) {
	tbl, b, p, err := t.record(c)
	if err != nil {
		return ifExists(c, err)
	}
	if tbl != tableBridge && p == nil {
		return api.CommandResult{}, api.BadRequest("%s %s is a bridge's local port and cannot be changed", tableNames[tbl], c.Args[1])
	}
	for _, raw := range c.Args[2:] {
		col := normColumn(raw)
		switch {
		case tbl == tableBridge && col == "protocols":
			b.Protocols = nil
		case tbl == tableBridge && col == "fail_mode":
			b.FailMode = ""
		case tbl == tablePort && col == "tag":
			p.Tag = 0
		case tbl == tablePort && col == "trunks":
			p.Trunks = nil
		case tbl == tableInterface && col == "ofport_request":
			p.OFPortRequest = 0 // the port keeps its number
		case tbl == tableInterface && col == "mac":
			p.MAC = ""
		case col == "other_config" || col == "external_ids":
			m, err := mapColumn(tbl, b, p, col)
			if err != nil {
				return api.CommandResult{}, err
			}
			*m = nil
		case readOnlyColumns[tbl][col]:
			return api.CommandResult{}, readOnly(tbl, col)
		default:
			return api.CommandResult{}, noColumn(tbl, raw)
		}
	}
	t.changed = true
	return api.CommandResult{}, nil
}

// quoteString prints an ovsdb string atom: bare when it looks like an
// identifier, else in double quotes with C escapes (ovsdb-data.c).
func quoteString(s string) string {
	if s == "" || s == "true" || s == "false" || !(isAlpha(s[0]) || s[0] == '_') {
		return strconv.Quote(s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-' && c != '.' {
			return strconv.Quote(s)
		}
	}
	return s
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func optString(s string) string {
	if s == "" {
		return "[]"
	}
	return quoteString(s)
}

func formatStringSet(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = quoteString(v)
	}
	slices.Sort(q)
	return "[" + strings.Join(q, ", ") + "]"
}

func formatIntSet(vals []uint16) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = strconv.Itoa(int(v))
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func formatMap(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%s", quoteString(k), quoteString(m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
