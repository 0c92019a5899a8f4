package main

// Output of `tapestry cloud` as python-neutronclient (cliff + prettytable)
// prints it. Replies are decoded into ordered JSON values (jsonObject keeps
// the server's key order) because neutronclient formats dicts inside table
// cells with json.dumps, which keeps the order the server sent.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonMember is one key of a jsonObject.
type jsonMember struct {
	Key   string
	Value any
}

// jsonObject is a JSON object in its original key order. Values are
// string, json.Number, bool, nil, []any or jsonObject.
type jsonObject []jsonMember

// get returns the value of key and whether it is present.
func (o jsonObject) get(key string) (any, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

// str returns key's value when it is a string, else "".
func (o jsonObject) str(key string) string {
	v, _ := o.get(key)
	s, _ := v.(string)
	return s
}

// set replaces key's value or appends the key.
func (o *jsonObject) set(key string, v any) {
	for i := range *o {
		if (*o)[i].Key == key {
			(*o)[i].Value = v
			return
		}
	}
	*o = append(*o, jsonMember{key, v})
}

// keys returns the object's keys in order.
func (o jsonObject) keys() []string {
	ks := make([]string, len(o))
	for i, m := range o {
		ks[i] = m.Key
	}
	return ks
}

// MarshalJSON writes the members in order.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.Key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(m.Value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes an object keeping its key order.
func (o *jsonObject) UnmarshalJSON(data []byte) error {
	v, err := decodeOrdered(data)
	if err != nil {
		return err
	}
	obj, ok := v.(jsonObject)
	if !ok {
		return fmt.Errorf("cloud: reply is %s, not a JSON object", pyTypeName(v))
	}
	*o = obj
	return nil
}

// maxJSONDepth bounds nesting so that a hostile reply cannot exhaust the
// stack.
const maxJSONDepth = 64

// decodeOrdered decodes one JSON value with objects as jsonObject.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("cloud: trailing data after JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("cloud: JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("cloud: decoding reply: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			list := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token() // ]
			return list, err
		}
		obj := jsonObject{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("cloud: decoding reply: %w", err)
			}
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			obj = append(obj, jsonMember{kt.(string), v})
		}
		_, err := dec.Token() // }
		return obj, err
	}
	return tok, nil
}

// pyDumps is Python's json.dumps(v) with its default separators (", " and
// ": ") and ensure_ascii, as neutronclient formats dicts in cells.
func pyDumps(v any) string {
	var b strings.Builder
	writePyJSON(&b, v, "", "")
	return b.String()
}

// writePyJSON writes v as Python's json.dump would: with indent "" on one
// line (separators ", " and ": "), else one member per line, nested
// members indented further (separators "," and ": ").
func writePyJSON(b *strings.Builder, v any, indent, prefix string) {
	inner := prefix + indent
	open := func(c byte) {
		b.WriteByte(c)
		if indent != "" {
			b.WriteString("\n" + inner)
		}
	}
	sep := func() {
		if indent != "" {
			b.WriteString(",\n" + inner)
		} else {
			b.WriteString(", ")
		}
	}
	closing := func(c byte) {
		if indent != "" {
			b.WriteString("\n" + prefix)
		}
		b.WriteByte(c)
	}
	switch t := v.(type) {
	case jsonObject:
		if len(t) == 0 {
			b.WriteString("{}")
			return
		}
		open('{')
		for i, m := range t {
			if i > 0 {
				sep()
			}
			b.WriteString(pyJSONString(m.Key) + ": ")
			writePyJSON(b, m.Value, indent, inner)
		}
		closing('}')
	case []any:
		if len(t) == 0 {
			b.WriteString("[]")
			return
		}
		open('[')
		for i, e := range t {
			if i > 0 {
				sep()
			}
			writePyJSON(b, e, indent, inner)
		}
		closing(']')
	case string:
		b.WriteString(pyJSONString(t))
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case nil:
		b.WriteString("null")
	case json.Number:
		b.WriteString(t.String())
	default:
		fmt.Fprint(b, t)
	}
}

// pyJSONString quotes s as json.dumps does with ensure_ascii: every
// non-ASCII character as \uXXXX (surrogate pairs beyond the BMP).
func pyJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r >= 0x7f && r <= 0xffff):
			fmt.Fprintf(&b, `\u%04x`, r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// pyStr is Python 3's str(v): strings bare, True/False, None, and
// containers in repr form (['a', 'b'], {'k': 1}), as cliff prints values
// it was given unformatted.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v)
}

func pyRepr(v any) string {
	switch t := v.(type) {
	case string:
		q := "'"
		if strings.Contains(t, "'") && !strings.Contains(t, `"`) {
			q = `"`
		}
		r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`, q, `\`+q)
		return q + r.Replace(t) + q
	case bool:
		if t {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	case json.Number:
		return t.String()
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case jsonObject:
		parts := make([]string, len(t))
		for i, m := range t {
			parts[i] = pyRepr(m.Key) + ": " + pyRepr(m.Value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

func pyTypeName(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case string:
		return "a string"
	case nil:
		return "null"
	}
	return "a scalar"
}

// showCell formats a value of a show or create table as neutronclient's
// format_output_data does: list items one per line (dicts as JSON), dicts
// as JSON, None as empty, everything else as str().
func showCell(v any) string {
	switch t := v.(type) {
	case []any:
		lines := make([]string, len(t))
		for i, e := range t {
			if _, ok := e.(jsonObject); ok {
				lines[i] = pyDumps(e)
			} else {
				lines[i] = pyStr(e)
			}
		}
		return strings.Join(lines, "\n")
	case jsonObject:
		return pyDumps(t)
	case nil:
		return ""
	}
	return pyStr(v)
}

// cellWidth is the width prettytable gives s: the widest line, East Asian
// wide characters counting two columns.
func cellWidth(s string) int {
	w := 0
	for _, line := range strings.Split(s, "\n") {
		w = max(w, textWidth(line))
	}
	return w
}

func textWidth(s string) int {
	if !utf8.ValidString(s) {
		return len(s)
	}
	n := 0
	for _, r := range s {
		switch {
		case r >= 0x0300 && r <= 0x036f: // combining marks take no column
		case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf, r >= 0xac00 && r <= 0xd7a3,
			r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f, r >= 0xff00 && r <= 0xff60,
			r >= 0xffe0 && r <= 0xffe6:
			n += 2
		default:
			n++
		}
	}
	return n
}

// writeTable draws a prettytable as cliff configures it: +---+ rules, one
// space of padding, every column left-aligned, the header included, a
// cell of several lines making its row that tall, the frame closed even
// when there are no rows (nova list of nothing).
func writeTable(w io.Writer, header []string, rows [][]string) {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = cellWidth(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], cellWidth(c))
		}
	}
	var b strings.Builder
	rule := func() {
		b.WriteByte('+')
		for _, wd := range widths {
			b.WriteString(strings.Repeat("-", wd+2))
			b.WriteByte('+')
		}
		b.WriteByte('\n')
	}
	row := func(cells []string) {
		lines := make([][]string, len(cells))
		height := 1
		for i, c := range cells {
			lines[i] = strings.Split(c, "\n")
			height = max(height, len(lines[i]))
		}
		for l := 0; l < height; l++ {
			b.WriteByte('|')
			for i, wd := range widths {
				text := ""
				if l < len(lines[i]) {
					text = lines[i][l]
				}
				b.WriteString(" " + text + strings.Repeat(" ", wd-textWidth(text)) + " |")
			}
			b.WriteByte('\n')
		}
	}
	rule()
	row(header)
	rule()
	for _, r := range rows {
		row(r)
	}
	// prettytable closes the frame even with no rows.
	rule()
	io.WriteString(w, b.String())
}

// output is the cliff formatter options every list, show and create
// command takes.
type output struct {
	format  string   // table, json, value
	columns []string // -c, in the order given
}

// validate checks -f.
func (o output) validate() error {
	switch o.format {
	case "table", "json", "value":
		return nil
	}
	return fmt.Errorf("argument -f/--format: invalid choice: '%s' (choose from 'json', 'table', 'value')", o.format)
}

// record is one object prepared for output: its fields in display order
// and, for table output, each field's cell text.
type record struct {
	fields []string
	raw    map[string]any    // for json and value output
	cells  map[string]string // for table output
}

// emitOne prints a show/create result. Fields are sorted, as
// neutronclient sorts them; -c keeps only the named ones.
func emitOne(w io.Writer, o output, keyHeader string, r record) {
	fields := append([]string(nil), r.fields...)
	sort.Strings(fields)
	fields = selectColumns(fields, o.columns, false)
	switch o.format {
	case "json":
		obj := make(jsonObject, 0, len(fields))
		for _, f := range fields {
			obj = append(obj, jsonMember{f, r.raw[f]})
		}
		// cliff's JSON formatter: json.dumps with indent=2, keys sorted.
		var b strings.Builder
		writePyJSON(&b, obj, "  ", "")
		fmt.Fprintln(w, b.String())
	case "value":
		for _, f := range fields {
			fmt.Fprintln(w, pyStr(r.raw[f]))
		}
	default:
		rows := make([][]string, len(fields))
		for i, f := range fields {
			rows[i] = []string{f, r.cells[f]}
		}
		writeTable(w, []string{keyHeader, "Value"}, rows)
	}
}

// emitList prints a list. columns are the command's default columns; a
// column missing from the first object is dropped, as neutronclient does,
// and -c picks columns in the order the user gave them.
func emitList(w io.Writer, o output, columns []string, recs []record) {
	if len(recs) == 0 {
		// neutronclient prints an empty line for an empty list.
		if o.format == "json" {
			fmt.Fprintln(w, "[]")
		} else if o.format == "table" {
			fmt.Fprintln(w)
		}
		return
	}
	avail := recs[0].fields
	if len(o.columns) > 0 {
		columns = selectColumns(avail, o.columns, true)
	} else {
		columns = selectColumns(avail, columns, true)
	}
	switch o.format {
	case "json":
		list := make([]any, len(recs))
		for i, r := range recs {
			obj := make(jsonObject, 0, len(columns))
			for _, c := range columns {
				obj = append(obj, jsonMember{c, r.raw[c]})
			}
			list[i] = obj
		}
		var b strings.Builder
		writePyJSON(&b, list, "  ", "")
		fmt.Fprintln(w, b.String())
	case "value":
		for _, r := range recs {
			vals := make([]string, len(columns))
			for i, c := range columns {
				vals[i] = pyStr(r.raw[c])
			}
			fmt.Fprintln(w, strings.Join(vals, " "))
		}
	default:
		rows := make([][]string, len(recs))
		for i, r := range recs {
			rows[i] = make([]string, len(columns))
			for j, c := range columns {
				rows[i][j] = r.cells[c]
			}
		}
		writeTable(w, columns, rows)
	}
}

// selectColumns returns the wanted columns that exist in avail: in
// wanted's order when byWanted, else in avail's.
func selectColumns(avail, wanted []string, byWanted bool) []string {
	if len(wanted) == 0 {
		return avail
	}
	has := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	var out []string
	if byWanted {
		for _, c := range wanted {
			if has(avail, c) && !has(out, c) {
				out = append(out, c)
			}
		}
		return out
	}
	for _, c := range avail {
		if has(wanted, c) {
			out = append(out, c)
		}
	}
	return out
}

// showRecord prepares an object for a show or create table.
func showRecord(obj jsonObject) record {
	r := record{raw: map[string]any{}, cells: map[string]string{}}
	for _, m := range obj {
		r.fields = append(r.fields, m.Key)
		r.raw[m.Key] = m.Value
		r.cells[m.Key] = showCell(m.Value)
	}
	return r
}

// listRecord prepares an object for a list: fields with a formatter are
// drawn by it in table output, the rest with str() as cliff does.
func listRecord(obj jsonObject, formatters map[string]func(any) string) record {
	r := record{raw: map[string]any{}, cells: map[string]string{}}
	for _, m := range obj {
		r.fields = append(r.fields, m.Key)
		if f, ok := formatters[m.Key]; ok {
			r.cells[m.Key] = f(m.Value) // router-list shows a null gateway as "null"
		}
		if m.Value == nil {
			// neutronclient's get_item_properties turns None into ''
			// for every list format.
			m.Value = ""
		}
		r.raw[m.Key] = m.Value
		if _, ok := formatters[m.Key]; !ok {
			r.cells[m.Key] = pyStr(m.Value)
		}
	}
	sort.Strings(r.fields)
	return r
}

// jsonLines formats a list of dicts one JSON object per line (fixed_ips,
// allocation_pools in lists).
func jsonLines(v any) string {
	list, _ := v.([]any)
	lines := make([]string, len(list))
	for i, e := range list {
		lines[i] = pyDumps(e)
	}
	return strings.Join(lines, "\n")
}
