package iptables

import (
	"testing"

	nf "tapestry/netfilter"
)

// FuzzParseCommand: any command line either fails or yields a rule whose
// printed form parses back to the same printed form.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"-t mangle -A PREROUTING -j MARK --set-mark 1 -i tun0 -p tcp --dport 5222",
		"-A INPUT ! -s 10.0.0.0/8 -p udp -m multiport --dports 53,1000:2000 -j REJECT",
		"-I FORWARD 2 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"-t nat -A POSTROUTING -o eth+ -p tcp -j SNAT --to-source 1.2.3.4-1.2.3.9:1000-2000 --random",
		"-A INPUT -m comment --comment \"a \\\"b\\\"\" -m limit --limit 3/min -j LOG --log-prefix 'x: '",
		"-D INPUT 3", "-L -n -v -x --line-numbers", "-P INPUT DROP", "-E a b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args, err := SplitLine(line)
		if err != nil {
			return
		}
		c, err := ParseCommand(args)
		if err != nil || c.Rule == nil {
			return
		}
		spec := RuleSpec(c.Rule)
		args2, err := SplitLine(spec)
		if err != nil {
			t.Fatalf("printed rule %q does not split: %v", spec, err)
		}
		r2, err := ParseRule(args2)
		if err != nil {
			t.Fatalf("printed rule %q (from %q) does not parse: %v", spec, line, err)
		}
		if s2 := RuleSpec(r2); s2 != spec {
			t.Fatalf("round trip of %q: %q then %q", line, spec, s2)
		}
	})
}

// FuzzRestore: any input either fails, or restores to tables whose save
// output restores to the same save output; a failure leaves cur alone.
func FuzzRestore(f *testing.F) {
	f.Add(base)
	f.Add("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1:8080\nCOMMIT\n")
	f.Add("*raw\n-A OUTPUT -j TRACE\nCOMMIT\n*mangle\n:x - [0:0]\n-A x -j RETURN\nCOMMIT\n")
	cur, err := Restore(nf.Tables{}, base, RestoreOptions{})
	if err != nil {
		f.Fatal(err)
	}
	before := Save(cur, SaveOptions{Counters: true})
	f.Fuzz(func(t *testing.T, input string) {
		ts, err := Restore(cur, input, RestoreOptions{Counters: true})
		if Save(cur, SaveOptions{Counters: true}) != before {
			t.Fatalf("Restore modified its input tables")
		}
		if err != nil {
			return
		}
		out := Save(ts, SaveOptions{Counters: true})
		ts2, err := Restore(nf.Tables{}, out, RestoreOptions{Counters: true})
		if err != nil {
			t.Fatalf("save output does not restore: %v\n%s", err, out)
		}
		if out2 := Save(ts2, SaveOptions{Counters: true}); out2 != out {
			t.Fatalf("save/restore round trip differs:\n%s\n---\n%s", out, out2)
		}
	})
}
