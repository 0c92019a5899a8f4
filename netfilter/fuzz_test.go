package netfilter_test

import (
	"testing"

	nf "tapestry/netfilter"
	"tapestry/packet"
)

// FuzzHook feeds arbitrary frames through every hook of a ruleset that
// uses every kind of match and target: no panic, and rewritten IPv4
// headers keep a valid checksum.
func FuzzHook(f *testing.F) {
	f.Add(tcp("10.0.0.7:40000", "10.0.0.1:80", syn))
	f.Add(udp("10.0.0.7:5353", "10.0.0.2:53"))
	f.Add(icmpEcho("10.0.0.7", "10.0.0.2", 3))
	f.Add([]byte{1, 2, 3})
	rs := compile(f, newEnv(),
		"-t raw -A PREROUTING -p udp --dport 9 -j CT --notrack",
		"-t raw -A PREROUTING -p udp --dport 10 -j TRACE",
		"-t mangle -A PREROUTING -p tcp --tcp-option 2 -j MARK --set-mark 2",
		"-t mangle -A PREROUTING -m length --length 0:100 -j TOS --set-tos 0x10",
		"-t mangle -A FORWARD -j TTL --ttl-dec 1",
		"-t mangle -A FORWARD -j DSCP --set-dscp 10",
		"-t mangle -A PREROUTING -j CONNMARK --save-mark",
		"-t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.9:8080",
		"-t nat -A PREROUTING -p udp -j REDIRECT --to-ports 5000",
		"-t nat -A POSTROUTING -o eth1 -j MASQUERADE",
		"-A FORWARD -m conntrack --ctstate INVALID -j DROP",
		"-A FORWARD -p icmp -j REJECT",
		"-A FORWARD -p tcp --dport 22 -j REJECT --reject-with tcp-reset",
		"-A FORWARD -p tcp -m multiport --ports 1:100 -j LOG --log-prefix x",
	)
	f.Fuzz(func(t *testing.T, frame []byte) {
		p := pkt(append([]byte(nil), frame...), "eth0", "eth1")
		v := forward(rs, p)
		if v > nf.VerdictReject {
			t.Fatalf("verdict %d", v)
		}
		if p.Key.IsIPv4() && p.Off.HasL3() && int(p.Off.L3)+20 <= len(p.Frame) {
			in := packet.IPv4(frame[p.Off.L3:])
			out := packet.IPv4(p.Frame[p.Off.L3:])
			hl := out.HeaderLen()
			if hl >= 20 && int(p.Off.L3)+hl <= len(p.Frame) && in.ChecksumValid() && !out.ChecksumValid() {
				t.Fatalf("a valid IP checksum became invalid")
			}
		}
	})
}
