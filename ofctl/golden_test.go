package ofctl

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tapestry/openflow"
)

// testPorts is the port map of the bridge mkgolden.sh builds.
type testPorts map[string]uint32

func (p testPorts) PortNumber(name string) (uint32, bool) { n, ok := p[name]; return n, ok }
func (p testPorts) PortName(no uint32) (string, bool) {
	for n, v := range p {
		if v == no {
			return n, true
		}
	}
	return "", false
}

var goldenPorts = testPorts{"tpcp1": 1, "tpcp2": 2}

type goldenRecord struct {
	flow         string
	add10, add13 string            // "ok" or "ERROR <ovs-ofctl's message>"
	lines        map[string]string // label -> ovs-ofctl output
}

func readGolden(t *testing.T) []goldenRecord {
	t.Helper()
	f, err := os.Open("testdata/golden.txt")
	if err != nil {
		t.Fatalf("open golden: %v", err)
	}
	defer f.Close()
	var recs []goldenRecord
	var cur *goldenRecord
	last := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		label, rest, _ := strings.Cut(line, " ")
		switch label {
		case "":
			continue
		case "flow":
			recs = append(recs, goldenRecord{flow: rest, lines: map[string]string{}})
			cur = &recs[len(recs)-1]
		case "add10":
			cur.add10 = rest
		case "add13":
			cur.add13 = rest
		case "of10", "of13", "of10s", "of13s", "names":
			// The dump line itself starts with a space: keep it.
			cur.lines[label] = line[len(label)+1:]
			last = label
		default:
			// A dump that printed more than one line failed to decode
			// (OVS prints a hex dump): not a flow line.
			cur.lines[last] = "ERROR multi-line output"
		}
	}
	return recs
}

var statsRE = regexp.MustCompile(`duration=([0-9.]+)s, .*n_packets=(\d+), n_bytes=(\d+)`)
var idleRE = regexp.MustCompile(`idle_age=(\d+)`)
var hardRE = regexp.MustCompile(`hard_age=(\d+)`)

// fillStats copies the counters and ages OVS printed into fs so that only
// the formatting is compared.
func fillStats(t *testing.T, fs *openflow.FlowStats, line string) {
	m := statsRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no stats in %q", line)
	}
	sec, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	fs.Duration = time.Duration(sec*1000+0.5) * time.Millisecond
	fs.Packets, _ = strconv.ParseUint(m[2], 10, 64)
	fs.Bytes, _ = strconv.ParseUint(m[3], 10, 64)
	fs.HardAge = fs.Duration
	if im := idleRE.FindStringSubmatch(line); im != nil {
		n, _ := strconv.Atoi(im[1])
		fs.IdleAge = time.Duration(n) * time.Second
	}
	if hm := hardRE.FindStringSubmatch(line); hm != nil {
		n, _ := strconv.Atoi(hm[1])
		fs.HardAge = time.Duration(n) * time.Second
	}
}

// TestGolden parses every flow mkgolden.sh fed to Open vSwitch 3.1 and
// checks that FormatFlowStats prints the very lines ovs-ofctl dump-flows
// printed for it, for OpenFlow 1.0 and 1.3, with and without statistics and
// with --names.
func TestGolden(t *testing.T) {
	recs := readGolden(t)
	if len(recs) < 50 {
		t.Fatalf("golden has %d records, want at least 50", len(recs))
	}
	for _, r := range recs {
		fm, err := ParseFlowMod(r.flow, openflow.FlowAdd, goldenPorts)
		if r.add10 != "ok" && r.add13 != "ok" {
			if err == nil {
				t.Logf("ParseFlowMod(%q) accepted a flow OVS rejected (%s)", r.flow, r.add10)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFlowMod(%q): %v", r.flow, err)
			continue
		}
		fs := openflow.FlowStats{
			Table: fm.Table, Priority: fm.Priority, Match: fm.Match, Cookie: fm.Cookie,
			IdleTimeout: fm.IdleTimeout, HardTimeout: fm.HardTimeout, Flags: fm.Flags,
			Importance: fm.Importance, Actions: fm.Actions,
		}
		for label, want := range r.lines {
			if strings.HasPrefix(want, "ERROR") {
				continue
			}
			opts := FormatOptions{NoStats: true, Version: OpenFlow10}
			switch label {
			case "of13":
				opts.Version = OpenFlow13
			case "of10s":
				opts.NoStats = false
			case "of13s":
				opts.NoStats, opts.Version = false, OpenFlow13
			case "names":
				opts.Names = goldenPorts
			}
			fs.Match = fm.Match
			if opts.Version == OpenFlow13 {
				// The switch keeps the match as OXM delivered it.
				fs.Match = wireMatch(&fm.Match, OpenFlow13)
			}
			if !opts.NoStats {
				fillStats(t, &fs, want)
			}
			if got := FormatFlowStats(&fs, opts); got != want {
				t.Errorf("%s: FormatFlowStats(%q)\n got %q\nwant %q", label, r.flow, got, want)
			}
		}
	}
}
