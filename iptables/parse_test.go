package iptables

import (
	"strings"
	"testing"
)

// TestParseCanonical parses rule specs and prints them back as iptables -S
// does, with its normalizations.
func TestParseCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"-j MARK --set-mark 1 -i tun0 -p tcp --dport 5222", "-i tun0 -p tcp -m tcp --dport 5222 -j MARK --set-xmark 0x1/0xffffffff"},
		{"-s 10.1.2.3/8 -d 1.2.3.4 -j ACCEPT", "-s 10.0.0.0/8 -d 1.2.3.4/32 -j ACCEPT"},
		{"! -s 10.0.0.0/255.255.0.0 -j DROP", "! -s 10.0.0.0/16 -j DROP"},
		{"-s 0.0.0.0/0 -j ACCEPT", "-j ACCEPT"},
		{"-p TCP --syn", "-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN"},
		{"-p tcp ! --syn", "-p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN"},
		{"-p tcp --dport 80:80 --sport 1024:", "-p tcp -m tcp --sport 1024:65535 --dport 80"},
		{"-p tcp --dport=ssh", "-p tcp -m tcp --dport 22"},
		{"-p udp -m udp ! --dport 53", "-p udp -m udp ! --dport 53"},
		{"-p icmp --icmp-type echo-request", "-p icmp -m icmp --icmp-type 8"},
		{"-p icmp --icmp-type port-unreachable", "-p icmp -m icmp --icmp-type 3/3"},
		{"-p 47", "-p gre"},
		{"-p all -j ACCEPT", "-j ACCEPT"},
		{"-i eth+ ! -o wg0 -f", "-i eth+ ! -o wg0 -f"},
		{"-p tcp -m multiport --dports 22,80:90", "-p tcp -m multiport --dports 22,80:90"},
		{"-m mark --mark 0x1/0xffffffff", "-m mark --mark 0x1"},
		{"-m state --state ESTABLISHED,NEW", "-m state --state NEW,ESTABLISHED"},
		{"-m conntrack --ctstate established,related --ctproto udp", "-m conntrack --ctstate RELATED,ESTABLISHED --ctproto 17"},
		{"-m tos --tos Minimize-Delay", "-m tos --tos 0x10/0x3f"},
		{"-m dscp --dscp-class AF41", "-m dscp --dscp 0x22"},
		{"-m limit --limit 60/minute", "-m limit --limit 1/sec"},
		{"-m limit --limit 2/min --limit-burst 5", "-m limit --limit 2/min"},
		{"-m comment --comment 'allow all'", "-m comment --comment \"allow all\""},
		{"-m mac --mac-source 02:AA:bb:cc:dd:ee", "-m mac --mac-source 02:aa:bb:cc:dd:ee"},
		{"-m ttl ! --ttl-eq 3", "-m ttl ! --ttl-eq 3"},
		{"-j MARK --and-mark 0xf", "-j MARK --set-xmark 0x0/0xfffffff0"},
		{"-j MARK --set-mark 1/0xff", "-j MARK --set-xmark 0x1/0xff"},
		{"-j MARK --xor-mark 3", "-j MARK --set-xmark 0x3/0x0"},
		{"-j CONNMARK --save-mark --mask 0xff", "-j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff"},
		{"-j CONNMARK --restore-mark", "-j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff"},
		{"-j TOS --and-tos 3", "-j TOS --set-tos 0x00/0xfc"},
		{"-j TOS --set-tos 0x10", "-j TOS --set-tos 0x10/0xff"},
		{"-j DSCP --set-dscp-class EF", "-j DSCP --set-dscp 0x2e"},
		{"-j TTL --ttl-dec 1", "-j TTL --ttl-dec 1"},
		{"-j REJECT", "-j REJECT --reject-with icmp-port-unreachable"},
		{"-p tcp -j REJECT --reject-with tcp-rst", "-p tcp -j REJECT --reject-with tcp-reset"},
		{"-j LOG --log-prefix \"fw: \" --log-level warning", "-j LOG --log-prefix \"fw: \""},
		{"-j LOG --log-level info --log-uid", "-j LOG --log-level 6 --log-uid"},
		{"-p tcp -j DNAT --to-destination 10.0.0.5:8080", "-p tcp -j DNAT --to-destination 10.0.0.5:8080"},
		{"-j SNAT --to-source 10.0.0.1-10.0.0.4 --persistent", "-j SNAT --to-source 10.0.0.1-10.0.0.4 --persistent"},
		{"-p udp -j MASQUERADE --to-ports 1000-2000", "-p udp -j MASQUERADE --to-ports 1000-2000"},
		{"-j CT --notrack", "-j CT --notrack"},
		{"-j NOTRACK", "-j NOTRACK"},
		{"-g mychain", "-g mychain"},
		{"-j mychain", "-j mychain"},
	}
	for _, tt := range tests {
		args, err := SplitLine(tt.in)
		if err != nil {
			t.Fatalf("SplitLine(%q): %v", tt.in, err)
		}
		r, err := ParseRule(args)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tt.in, err)
			continue
		}
		if got := RuleSpec(r); got != tt.want {
			t.Errorf("ParseRule(%q) prints\n  %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// TestParseErrors checks that bad rules fail and that the message names
// the bad token.
func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"-p tcp --dprot 80", `unknown option "--dprot" (did you mean "--dport"?)`},
		{"--dport 80", `unknown option "--dport"`},
		{"-m tcp --dport 80", `-m tcp needs "-p tcp"`},
		{"-p tcp --dport 80 -p udp", "multiple -p flags"},
		{"-p bogus", `unknown protocol "bogus"`},
		{"-s 10.0.0.300", `host/network "10.0.0.300" not found`},
		{"-s 10.0.0.1/33", `invalid mask "33"`},
		{"-m nosuch", `couldn't load match "nosuch"`},
		{"-m mark", `you must specify "--mark"`},
		{"-m state --state NEWISH", `bad state "NEWISH"`},
		{"-p tcp --dport 99999", `invalid port/service "99999"`},
		{"-j MARK", "MARK target: required argument missing"},
		{"-j DNAT --to-destination 10.0.0.1:80", "need TCP, UDP, SCTP or DCCP with port specification"},
		{"-j DNAT --to-destination 10.0.0.1:80 -p tcp", "need TCP, UDP, SCTP or DCCP"},
		{"-j REJECT --reject-with icmp-nope", `unknown reject type "icmp-nope"`},
		{"! ! -s 1.2.3.4", `multiple "!"`},
		{"-s 1.2.3.4 !", `"!" not followed by an option`},
		{"-j LOG --log-level 9", `log level "9" unknown`},
		{"-m comment --comment", `requires an argument`},
		{"-p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "too many ports"},
	}
	for _, tt := range tests {
		args, err := SplitLine(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ParseRule(args)
		if err == nil {
			t.Errorf("ParseRule(%q) accepted", tt.in)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseRule(%q) error %q, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestCommands(t *testing.T) {
	ts := newTestTables()
	run := func(cmd string) ([]string, error) {
		args, err := SplitLine(cmd)
		if err != nil {
			return nil, err
		}
		c, err := ParseCommand(args)
		if err != nil {
			return nil, err
		}
		return Apply(&ts, c)
	}
	for _, c := range []string{
		"-N web", "-A INPUT -p tcp --dport 80 -j web", "-A INPUT -j DROP", "-I INPUT -i lo -j ACCEPT",
		"-I INPUT 2 -p icmp -j ACCEPT", "-A web -j ACCEPT", "-R web 1 -s 10.0.0.0/8 -j ACCEPT",
		"-D INPUT -j DROP", "-P FORWARD DROP", "-t nat -A POSTROUTING -o eth1 -j MASQUERADE",
		"-N zzz", "-E zzz aaa", "-X aaa", "-C INPUT -i lo -j ACCEPT",
	} {
		if _, err := run(c); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
	}
	got, err := run("-S")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"-P INPUT ACCEPT", "-P FORWARD DROP", "-P OUTPUT ACCEPT", "-N web",
		"-A INPUT -i lo -j ACCEPT", "-A INPUT -p icmp -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 80 -j web",
		"-A web -s 10.0.0.0/8 -j ACCEPT",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("-S:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []struct{ cmd, want string }{
		{"-A NOPE -j ACCEPT", `chain "NOPE" in table filter: no chain/target/match by that name`},
		{"-A INPUT -j nochain", `couldn't load target "nochain"`},
		{"-X web", "is referenced"},
		{"-N web", "chain already exists"},
		{"-D INPUT 9", "index of deletion too big"},
		{"-I INPUT 9 -j ACCEPT", "index of insertion too big"},
		{"-C INPUT -j REJECT", "bad rule (does a matching rule exist in that chain?)"},
		{"-P web DROP", "cannot set policy of user chain"},
		{"-t nat -A POSTROUTING -j DROP", `the "nat" table is not intended for filtering`},
		{"-A INPUT -j MASQUERADE", "only valid in the nat table"},
		{"-t nat -A PREROUTING -j SNAT --to-source 1.2.3.4", "not valid in chain PREROUTING"},
		{"-t bogus -L", `table "bogus"`},
		{"-A INPUT -D INPUT", "only one command"},
		{"-N ACCEPT", "is a target name"},
	} {
		if _, err := run(bad.cmd); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.cmd, err, bad.want)
		}
	}
}
