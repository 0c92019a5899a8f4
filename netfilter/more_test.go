package netfilter_test

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"tapestry/conntrack"
	nf "tapestry/netfilter"
)

// TestLimitTokenBucket drives -m limit with the packet clock: a burst of 3
// passes, then one packet per 1/2 s refill.
func TestLimitTokenBucket(t *testing.T) {
	rs := compile(t, &nf.Env{}, "-A INPUT -m limit --limit 2/sec --limit-burst 3 -j ACCEPT", "-A INPUT -j DROP")
	at := func(ms int64) nf.Verdict {
		p := pkt(tcp("10.0.0.7:1", "10.0.0.1:80", syn), "eth0", "")
		p.Now = ms * int64(time.Millisecond)
		return rs.Hook(nf.HookInput, p)
	}
	tests := []struct {
		ms   int64
		want nf.Verdict
	}{
		{0, nf.VerdictAccept}, {0, nf.VerdictAccept}, {0, nf.VerdictAccept}, {0, nf.VerdictDrop},
		{499, nf.VerdictDrop}, {500, nf.VerdictAccept}, {600, nf.VerdictDrop},
		{5000, nf.VerdictAccept}, {5000, nf.VerdictAccept}, {5000, nf.VerdictAccept}, {5000, nf.VerdictDrop},
	}
	for i, tt := range tests {
		if got := at(tt.ms); got != tt.want {
			t.Errorf("packet %d at %d ms: %v, want %v", i, tt.ms, got, tt.want)
		}
	}
}

type recorder struct{ steps []string }

func (r *recorder) Step(s nf.TraceStep) {
	r.steps = append(r.steps, s.Table.String()+":"+s.Chain+":"+s.Kind+":"+itoa(s.Num)+" "+s.Verdict)
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestTracer(t *testing.T) {
	var logs bytes.Buffer
	env := newEnv()
	env.Log = slog.New(slog.NewTextHandler(&logs, nil))
	rs := compile(t, env,
		"-t raw -A PREROUTING -p tcp --dport 80 -j TRACE",
		"-N web",
		"-A INPUT -p tcp -j web",
		"-A web -s 10.0.0.9 -j DROP",
		"-A INPUT -j ACCEPT",
	)
	rec := &recorder{}
	p := pkt(tcp("10.0.0.7:1", "10.0.0.1:80", syn), "eth0", "")
	p.Trace = rec
	rs.Hook(nf.HookPrerouting, p)
	rs.Hook(nf.HookInput, p)
	want := []string{
		"raw:PREROUTING:rule:1 TRACE", "raw:PREROUTING:policy:2 ACCEPT",
		"mangle:PREROUTING:policy:1 ACCEPT", "nat:PREROUTING:policy:1 ACCEPT",
		"mangle:INPUT:policy:1 ACCEPT",
		"filter:INPUT:rule:1 web", "filter:web:return:2 RETURN", "filter:INPUT:rule:2 ACCEPT",
		"nat:INPUT:policy:1 ACCEPT",
	}
	if strings.Join(rec.steps, "\n") != strings.Join(want, "\n") {
		t.Errorf("trace:\n%s\nwant:\n%s", strings.Join(rec.steps, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(logs.String(), "TRACE: filter:INPUT:rule:2 IN=eth0 OUT= MAC=") {
		t.Errorf("TRACE log lines missing:\n%s", logs.String())
	}
}

func TestLogTarget(t *testing.T) {
	var logs bytes.Buffer
	env := &nf.Env{Log: slog.New(slog.NewTextHandler(&logs, nil))}
	rs := compile(t, env, `-A INPUT -p udp -j LOG --log-prefix "fw: " --log-level info`)
	p := pkt(udp("10.0.0.7:5353", "10.0.0.1:53"), "eth0", "")
	p.Key.PktMark = 0x1f
	rs.Hook(nf.HookInput, p)
	want := `msg="fw: IN=eth0 OUT= MAC=02:00:00:00:00:0b:02:00:00:00:00:0a:08:00 SRC=10.0.0.7 DST=10.0.0.1 LEN=33 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=UDP SPT=5353 DPT=53 LEN=13 MARK=0x1f " syslog_level=6`
	if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), "level=INFO") {
		t.Errorf("log output:\n%s\nwant it to contain:\n%s", logs.String(), want)
	}
}

func TestConntrackFullDrops(t *testing.T) {
	env := &nf.Env{Conntrack: conntrack.New(1)}
	rs := compile(t, env)
	first := pkt(udp("10.0.0.7:1", "10.0.0.1:53"), "eth0", "")
	if rs.Hook(nf.HookPrerouting, first) != nf.VerdictAccept || rs.Hook(nf.HookInput, first) != nf.VerdictAccept {
		t.Fatal("first connection dropped")
	}
	second := pkt(udp("10.0.0.7:2", "10.0.0.1:53"), "eth0", "")
	if v := rs.Hook(nf.HookPrerouting, second); v != nf.VerdictDrop || second.DropReason != nf.ReasonCtFull {
		t.Errorf("second connection in a full table: %v %q", v, second.DropReason)
	}
	if env.Drops()[nf.ReasonCtFull] != 1 {
		t.Errorf("drop not counted: %v", env.Drops())
	}
}
