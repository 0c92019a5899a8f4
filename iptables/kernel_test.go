package iptables

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	nf "tapestry/netfilter"

	"tapestry/internal/hosttest"
)

// netns runs a command in a network namespace made for the test.
type netns string

func newNetns(t *testing.T, name string) netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	hosttest.Need(t, "iptables-restore", "iptables")
	exec.Command("ip", "netns", "del", name).Run()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return netns(name)
}

func (n netns) run(t *testing.T, stdin string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", string(n)}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestKernelSaveDifferential loads seeded random rulesets into the kernel
// (iptables-restore in a namespace) and into tapestry, and compares
// iptables-save, iptables -S and iptables -L -n -v -x --line-numbers
// output line for line; tapestry's save output must also pass the kernel's
// iptables-restore --test.
func TestKernelSaveDifferential(t *testing.T) {
	ns := newNetns(t, "tpk-syntax")
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 5))
		input := genRuleset(rng, 120)
		if out, err := ns.run(t, input, "iptables-restore"); err != nil {
			// The kernel refused: tapestry must refuse too.
			if _, terr := Restore(nf.Tables{}, input, RestoreOptions{}); terr == nil {
				t.Errorf("seed %d: kernel refused (%s) but tapestry accepted:\n%s", seed, out, input)
			}
			continue
		}
		kernel, err := ns.run(t, "", "iptables-save")
		if err != nil {
			t.Fatalf("iptables-save: %v", err)
		}
		ts, err := Restore(nf.Tables{}, input, RestoreOptions{})
		if err != nil {
			t.Fatalf("seed %d: tapestry Restore: %v", seed, err)
		}
		ours := Save(ts, SaveOptions{})
		if d := cmp.Diff(saveLines(kernel), saveLines(ours)); d != "" {
			t.Errorf("seed %d: iptables-save differs (-kernel +tapestry):\n%s", seed, d)
		}
		if out, err := ns.run(t, ours, "iptables-restore", "--test"); err != nil {
			t.Errorf("seed %d: kernel rejects tapestry's save output: %v: %s", seed, err, out)
		}
		for _, tbl := range []string{"raw", "mangle", "nat", "filter"} {
			id, _ := nf.TableByName(tbl)
			kl, _ := ns.run(t, "", "iptables", "-t", tbl, "-L", "-n", "-v", "-x", "--line-numbers")
			ol, err := List(ts[id], "", ListOptions{Numeric: true, Verbose: true, Exact: true, LineNumbers: true})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(strings.Split(strings.TrimRight(kl, "\n"), "\n"), ol); d != "" {
				t.Errorf("seed %d: iptables -t %s -L -n -v -x --line-numbers differs (-kernel +tapestry):\n%s", seed, tbl, d)
			}
			ks, _ := ns.run(t, "", "iptables", "-t", tbl, "-S")
			os, _ := ListRules(ts[id], "", false)
			if d := cmp.Diff(strings.Split(strings.TrimRight(ks, "\n"), "\n"), os); d != "" {
				t.Errorf("seed %d: iptables -t %s -S differs (-kernel +tapestry):\n%s", seed, tbl, d)
			}
		}
		ns.run(t, "", "iptables", "-F") // next seed starts from a clean filter table
	}
}
