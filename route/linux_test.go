package route

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tapestry/internal/hosttest"
)

// The differential test applies the same `ip route`/`ip rule` text to the
// kernel (in namespace tph-diff) and to an RPDB, then compares the tables,
// the rules and thousands of `ip route get` answers. TPH_DIFF_CONFIGS and
// TPH_DIFF_PROBES make longer runs.

const diffNS = "tph-diff"

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func ipCmd(t *testing.T, stdin string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"-n", diffNS}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run() // failures are reported on stderr and compared
	return out.String(), errb.String()
}

// setupNS makes a fresh namespace with three veth pairs and addresses and
// returns an RPDB with the same interfaces.
func setupNS(t *testing.T) *RPDB {
	t.Helper()
	_ = exec.Command("ip", "netns", "del", diffNS).Run()
	if out, err := exec.Command("ip", "netns", "add", diffNS).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	script := "link set lo up\n"
	for i := 0; i < 3; i++ {
		script += fmt.Sprintf("link add tphd%d type veth peer name tphp%d\nlink set tphd%d up\nlink set tphp%d up\n", i, i, i, i)
	}
	addrs := []struct{ dev, pfx string }{{"tphd0", "10.1.0.1/24"}, {"tphd0", "10.1.0.2/24"}, {"tphd1", "10.2.0.1/16"}, {"tphd2", "10.3.0.1/24"}}
	for _, a := range addrs {
		script += "addr add " + a.pfx + " dev " + a.dev + "\n"
	}
	if _, e := ipCmd(t, script, "-batch", "-"); e != "" {
		t.Fatalf("namespace setup: %s", e)
	}
	for _, k := range []string{"net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"} {
		_ = exec.Command("ip", "netns", "exec", diffNS, "sysctl", "-qw", k).Run()
	}
	for i := 0; i < 3; i++ {
		_ = exec.Command("ip", "netns", "exec", diffNS, "sysctl", "-qw", fmt.Sprintf("net.ipv4.conf.tphd%d.rp_filter=0", i)).Run()
	}
	out, _ := ipCmd(t, "", "-j", "link", "show")
	var links []struct {
		Index int    `json:"ifindex"`
		Name  string `json:"ifname"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		t.Fatalf("ip -j link: %v", err)
	}
	db := New()
	err := db.Update(func(tx *Tx) error {
		for _, l := range links {
			tx.AddLink(Link{Index: l.Index, Name: l.Name, Loopback: l.Name == "lo"})
		}
		if err := tx.AddAddr(LoopbackIndex, netip.MustParsePrefix("127.0.0.1/8"), ScopeHost); err != nil {
			return err
		}
		for _, a := range addrs {
			idx, _ := tx.LinkIndex(a.dev)
			if err := tx.AddAddr(idx, netip.MustParsePrefix(a.pfx), ScopeUniverse); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

var failedRe = regexp.MustCompile(`^Command failed -:(\d+)$`)

// batchErrors maps 1-based batch line numbers to the error text ip printed.
func batchErrors(stderr string) map[int]string {
	errs := map[int]string{}
	lines := strings.Split(stderr, "\n")
	for i, l := range lines {
		if m := failedRe.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			msg := ""
			if i > 0 {
				msg = lines[i-1]
			}
			errs[n] = msg
		}
	}
	return errs
}

// applyBoth runs the configuration lines on the kernel and on db and
// returns the differences in per-line outcome.
func applyBoth(t *testing.T, db *RPDB, lines []string) []string {
	_, stderr := ipCmd(t, strings.Join(lines, "\n")+"\n", "-force", "-batch", "-")
	kerrs := batchErrors(stderr)
	var diffs []string
	for i, l := range lines {
		err := db.Update(func(tx *Tx) error { return Exec(tx, l) })
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != kerrs[i+1] {
			diffs = append(diffs, fmt.Sprintf("%q: kernel %q, rpdb %q", l, kerrs[i+1], got))
		}
	}
	return diffs
}

type kernelGet struct {
	Type     string `json:"type"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Table    string `json:"table"`
	PrefSrc  string `json:"prefsrc"`
	errorMsg string
}

func (k kernelGet) String() string {
	if k.errorMsg != "" {
		return k.errorMsg
	}
	if k.Type == "" {
		k.Type = "unicast"
	}
	if k.Table == "" {
		k.Table = "main"
	}
	return fmt.Sprintf("%s via=%s dev=%s table=%s src=%s", k.Type, k.Gateway, k.Dev, k.Table, k.PrefSrc)
}

// kernelGets runs `ip route get` for every probe in one batch.
func kernelGets(t *testing.T, probes []string) []kernelGet {
	stdout, stderr := ipCmd(t, strings.Join(probes, "\n")+"\n", "-j", "-force", "-batch", "-")
	kerrs := batchErrors(stderr)
	dec := json.NewDecoder(strings.NewReader(stdout))
	out := make([]kernelGet, len(probes))
	for i := range probes {
		if msg, ok := kerrs[i+1]; ok {
			out[i].errorMsg = msg
			continue
		}
		var v []kernelGet
		if err := dec.Decode(&v); err != nil || len(v) != 1 {
			t.Fatalf("decoding answer to %q: %v", probes[i], err)
		}
		out[i] = v[0]
	}
	return out
}

func rpdbGet(db *RPDB, probe string) string {
	g, err := ParseGetCommand(strings.Fields(probe)[2:])
	if err != nil {
		return err.Error()
	}
	q, err := db.Resolve(g)
	if err != nil {
		return err.Error()
	}
	res, err := db.Get(q)
	if err != nil {
		return err.Error()
	}
	k := kernelGet{Type: res.Type.String(), Dev: res.Dev, Table: res.ShownTable().String()}
	if res.ShownTable() == TableUnspec {
		k.Table = "main"
	}
	if res.Gateway.IsValid() {
		k.Gateway = res.Gateway.String()
	}
	if !res.Input && !g.Query.Src.IsValid() && res.Src.IsValid() {
		k.PrefSrc = res.Src.String()
	}
	return k.String()
}

func TestLinuxDifferential(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	hosttest.Need(t, "ip", "iproute2")
	defer func() { _ = exec.Command("ip", "netns", "del", diffNS).Run() }()
	configs, probes := envInt("TPH_DIFF_CONFIGS", 12), envInt("TPH_DIFF_PROBES", 200)

	// The kernel's own routes for the addresses must match ours.
	db := setupNS(t)
	kout, _ := ipCmd(t, "", "-4", "route", "show", "table", "all")
	if want, got := kout, strings.Join(db.ShowRoutes(TableUnspec), "\n")+"\n"; want != got {
		t.Fatalf("ip route show table all:\nkernel:\n%s\nrpdb:\n%s", want, got)
	}
	for c := 0; c < configs; c++ {
		rng := rand.New(rand.NewPCG(uint64(c), 42))
		lines := genConfig(rng)
		db := setupNS(t)
		if d := applyBoth(t, db, lines); len(d) > 0 {
			t.Errorf("config %d: outcomes differ:\n%s", c, strings.Join(d, "\n"))
		}
		compareShow(t, c, db)
		ps := make([]string, probes)
		for i := range ps {
			ps[i] = genProbe(rng)
		}
		kg := kernelGets(t, ps)
		bad := 0
		for i, p := range ps {
			if want, got := kg[i].String(), rpdbGet(db, p); want != got {
				bad++
				if bad <= 3 {
					t.Errorf("config %d: %s\n  kernel: %s\n  rpdb:   %s", c, p, want, got)
				}
				if bad == 1 {
					shrink(t, lines, p)
				}
			}
		}
		if t.Failed() {
			t.Logf("config %d:\n%s", c, strings.Join(lines, "\n"))
			return
		}
	}
}

func compareShow(t *testing.T, c int, db *RPDB) {
	t.Helper()
	kout, _ := ipCmd(t, "", "-4", "route", "show", "table", "all")
	if got := strings.Join(db.ShowRoutes(TableUnspec), "\n") + "\n"; kout != got {
		t.Errorf("config %d: ip route show table all:\nkernel:\n%s\nrpdb:\n%s", c, kout, got)
	}
	kout, _ = ipCmd(t, "", "rule", "show")
	if got := strings.Join(db.ShowRules(), "\n") + "\n"; kout != got {
		t.Errorf("config %d: ip rule show:\nkernel:\n%s\nrpdb:\n%s", c, kout, got)
	}
}

// shrink removes configuration lines while the probe still differs and
// logs the smallest configuration found.
func shrink(t *testing.T, lines []string, probe string) {
	t.Helper()
	differs := func(ls []string) bool {
		db := setupNS(t)
		applyBoth(t, db, ls)
		return kernelGets(t, []string{probe})[0].String() != rpdbGet(db, probe)
	}
	cur := append([]string(nil), lines...)
	for i := len(cur) - 1; i >= 0; i-- {
		try := append(append([]string(nil), cur[:i]...), cur[i+1:]...)
		if differs(try) {
			cur = try
		}
	}
	db := setupNS(t)
	applyBoth(t, db, cur)
	t.Errorf("smallest difference:\n%s\nprobe: %s\n  kernel: %s\n  rpdb:   %s", strings.Join(cur, "\n"), probe,
		kernelGets(t, []string{probe})[0], rpdbGet(db, probe))
}
