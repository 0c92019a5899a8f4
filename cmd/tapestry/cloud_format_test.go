package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustOrdered(t testing.TB, s string) any {
	t.Helper()
	v, err := decodeOrdered([]byte(s))
	if err != nil {
		t.Fatalf("decodeOrdered(%q): %v", s, err)
	}
	return v
}

func TestCloudPyDumps(t *testing.T) {
	tests := []struct{ in, dumps, str string }{
		{`{"subnet_id": "s", "ip_address": "10.0.0.3"}`, `{"subnet_id": "s", "ip_address": "10.0.0.3"}`, `{'subnet_id': 's', 'ip_address': '10.0.0.3'}`},
		{`{"b":1,"a":[true,false,null]}`, `{"b": 1, "a": [true, false, null]}`, `{'b': 1, 'a': [True, False, None]}`},
		{`[]`, `[]`, `[]`},
		{`{}`, `{}`, `{}`},
		{`"caf\u00e9"`, `"caf\u00e9"`, `café`},
		{`"\ud83d\ude00"`, `"\ud83d\ude00"`, "\U0001F600"},
		{`["it's"]`, `["it's"]`, `["it's"]`},
		{`["a\"b'c"]`, `["a\"b'c"]`, `['a"b\'c']`},
		{`1.50`, `1.50`, `1.50`},
	}
	for _, tt := range tests {
		v := mustOrdered(t, tt.in)
		if got := pyDumps(v); got != tt.dumps {
			t.Errorf("pyDumps(%s) = %s, want %s", tt.in, got, tt.dumps)
		}
		if got := pyStr(v); got != tt.str {
			t.Errorf("pyStr(%s) = %s, want %s", tt.in, got, tt.str)
		}
	}
}

func TestCloudIndentedJSON(t *testing.T) {
	v := mustOrdered(t, `{"a": [1, {"b": []}], "c": {}}`)
	var b strings.Builder
	writePyJSON(&b, v, "  ", "")
	want := "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n  \"c\": {}\n}"
	if b.String() != want {
		t.Errorf("writePyJSON indent 2:\n%s\nwant\n%s", b.String(), want)
	}
}

func TestCloudShowCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{`["a", "b"]`, "a\nb"},
		{`[{"start": "10.0.0.2", "end": "10.0.0.9"}]`, `{"start": "10.0.0.2", "end": "10.0.0.9"}`},
		{`{"network_id": "n", "enable_snat": true}`, `{"network_id": "n", "enable_snat": true}`},
		{`null`, ""},
		{`true`, "True"},
		{`1450`, "1450"},
		{`[]`, ""},
	}
	for _, tt := range tests {
		if got := showCell(mustOrdered(t, tt.in)); got != tt.want {
			t.Errorf("showCell(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCloudWriteTable(t *testing.T) {
	var b bytes.Buffer
	writeTable(&b, []string{"id", "name"}, [][]string{{"1", "网络"}, {"22", "a\nbbbbb"}})
	want := `+----+-------+
| id | name  |
+----+-------+
| 1  | 网络  |
| 22 | a     |
|    | bbbbb |
+----+-------+
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeTable (-want +got):\n%s", diff)
	}
}

func TestCloudParseKV(t *testing.T) {
	tests := []struct {
		in      string
		want    string // JSON of the result
		wantErr string
	}{
		{"subnet_id=s1,ip_address=10.0.0.3", `{"subnet_id":"s1","ip_address":"10.0.0.3"}`, ""},
		{"ip_address=10.0.0.3,subnet_id=s1", `{"ip_address":"10.0.0.3","subnet_id":"s1"}`, ""},
		{"ip_address=10.0.0.3", `{"ip_address":"10.0.0.3"}`, ""},
		{"ip_address=1,ip_address=2", `{"ip_address":"2"}`, ""},
		{"ip_address=a=b", `{"ip_address":"a=b"}`, ""},
		{"ip_address", "", "argument --fixed-ip: invalid key-value 'ip_address', expected format: key=value"},
		{"foo=1,bar=2", "", "argument --fixed-ip: Invalid key(s) 'bar, foo' specified. Valid key(s): 'ip_address, subnet_id'."},
	}
	for _, tt := range tests {
		got, err := parseKV("--fixed-ip", tt.in, nil, []string{"subnet_id", "ip_address"})
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("parseKV(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		b, _ := json.Marshal(got)
		if err != nil || string(b) != tt.want {
			t.Errorf("parseKV(%q) = %s, %v; want %s", tt.in, b, err, tt.want)
		}
	}
	if _, err := parseKV("--route", "destination=10.0.0.0/8", []string{"destination", "nexthop"}, nil); err == nil || err.Error() != "argument --route: Required key(s) 'nexthop' not specified." {
		t.Errorf("parseKV without a required key: err = %v", err)
	}
}

// FuzzCloudJSON feeds daemon replies to the ordered decoder: whatever it
// accepts, pyDumps must turn back into JSON equal to the input.
func FuzzCloudJSON(f *testing.F) {
	for _, s := range []string{`{"network": {"id": "x", "subnets": ["a"], "mtu": 1450}}`, `[1, "é", null, {"a": {}}]`, `"\u0000"`, `{"a":`, `[[[[]]]]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decodeOrdered([]byte(s))
		if err != nil {
			return
		}
		var want, got any
		if json.Unmarshal([]byte(s), &want) != nil {
			t.Fatalf("decodeOrdered accepted %q, encoding/json does not", s)
		}
		out := pyDumps(v)
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("pyDumps(%q) = %q: not JSON: %v", s, out, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("pyDumps(%q) = %q changes the value (-want +got):\n%s", s, out, diff)
		}
		_ = pyStr(v)
		_ = showCell(v)
	})
}

// FuzzCloudKV feeds option values to neutron's key=value parser.
func FuzzCloudKV(f *testing.F) {
	for _, s := range []string{"subnet_id=s,ip_address=1.2.3.4", "ip_address", "=", ",", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		obj, err := parseKV("--fixed-ip", s, nil, []string{"subnet_id", "ip_address"})
		if err != nil {
			return
		}
		for _, m := range obj {
			if m.Key != "subnet_id" && m.Key != "ip_address" {
				t.Fatalf("parseKV(%q) accepted key %q", s, m.Key)
			}
		}
	})
}
