package netfilter_test

import (
	"testing"

	nf "tapestry/netfilter"
)

// TestSeedMarkScenario is the project's seed: iptables -t mangle -A
// PREROUTING -j MARK --set-mark 1 -i tun0 -p tcp --dport 5222 marks a TCP
// SYN to 5222 arriving on tun0, and nothing else.
func TestSeedMarkScenario(t *testing.T) {
	rs := compile(t, newEnv(), "-t mangle -A PREROUTING -j MARK --set-mark 1 -i tun0 -p tcp --dport 5222")
	tests := []struct {
		name string
		in   string
		dst  string
		want uint32
	}{
		{"xmpp on tun0", "tun0", "10.0.0.2:5222", 1},
		{"http on tun0", "tun0", "10.0.0.2:80", 0},
		{"xmpp on eth0", "eth0", "10.0.0.2:5222", 0},
	}
	for _, tt := range tests {
		p := pkt(tcp("10.9.0.5:40000", tt.dst, syn), tt.in, "")
		if v := rs.Hook(nf.HookPrerouting, p); v != nf.VerdictAccept {
			t.Errorf("%s: verdict %v, want ACCEPT", tt.name, v)
		}
		if p.Key.PktMark != tt.want {
			t.Errorf("%s: mark %#x, want %#x", tt.name, p.Key.PktMark, tt.want)
		}
	}
	ts := rs.Export()
	if got := ts[nf.TableMangle].Chain("PREROUTING").Rules[0].Counters.Packets; got != 1 {
		t.Errorf("rule counter = %d packets, want 1", got)
	}
}
