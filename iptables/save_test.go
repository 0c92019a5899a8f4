package iptables

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	nf "tapestry/netfilter"
)

// saveLines drops iptables-save's comment lines.
func saveLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestSaveGolden loads testdata/kernel-input.rules and compares the save
// output with testdata/kernel-save.rules, which is what Debian 12's
// iptables-restore/iptables-save (v1.8.9, nf_tables) printed for it.
func TestSaveGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/kernel-input.rules")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/kernel-save.rules")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Restore(nf.Tables{}, string(in), RestoreOptions{})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	got := Save(ts, SaveOptions{})
	if d := cmp.Diff(saveLines(string(want)), saveLines(got)); d != "" {
		t.Errorf("Save mismatch (-kernel +tapestry):\n%s", d)
	}
}

func newTestTables() nf.Tables { return nf.NewTables() }

// TestListGolden compares -L -n -v -x --line-numbers and -S for the golden
// input with what the kernel's iptables printed.
func TestListGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/kernel-input.rules")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Restore(nf.Tables{}, string(in), RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []string{"raw", "mangle", "nat", "filter"} {
		id, _ := nf.TableByName(tbl)
		want, err := os.ReadFile("testdata/kernel-list-" + tbl + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := List(ts[id], "", ListOptions{Numeric: true, Verbose: true, Exact: true, LineNumbers: true})
		if d := cmp.Diff(strings.Split(strings.TrimRight(string(want), "\n"), "\n"), got); d != "" {
			t.Errorf("-t %s -L -n -v -x --line-numbers (-kernel +tapestry):\n%s", tbl, d)
		}
		want, _ = os.ReadFile("testdata/kernel-S-" + tbl + ".txt")
		gotS, _ := ListRules(ts[id], "", false)
		if d := cmp.Diff(strings.Split(strings.TrimRight(string(want), "\n"), "\n"), gotS); d != "" {
			t.Errorf("-t %s -S (-kernel +tapestry):\n%s", tbl, d)
		}
	}
}
