package route

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Random configurations and probes for the differential test. They stay
// inside what the model claims: IPv4 unicast destinations, single-nexthop
// routes, at most one default route per table (the kernel's
// fib_select_default, which picks among several by neighbour state, is not
// modelled).

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

var (
	genPrefixes = []string{"10.9.0.0/16", "10.9.1.0/24", "10.9.1.128/25", "10.9.1.7", "10.0.0.0/8",
		"10.1.0.0/16", "10.1.0.0/24", "10.1.0.7", "10.2.5.0/24", "192.168.0.0/16", "192.168.1.0/24",
		"172.16.0.0/12", "10.3.0.0/24", "10.9.0.0/20"}
	genGateways = []string{"10.1.0.254", "10.1.0.9", "10.2.0.9", "10.2.7.7", "10.3.0.5", "10.1.0.2", "10.9.9.9"}
	genDevs     = []string{"tphd0", "tphd1", "tphd2"}
	genSrcs     = []string{"10.1.0.1", "10.1.0.2", "10.2.0.1", "10.3.0.1", "10.9.9.9"}
	genTables   = []string{"100", "101", "102", "main"}
	genTOS      = []string{"0x04", "0x08", "0x10", "0x18", "0x1c"}
)

func genConfig(r *rand.Rand) []string {
	var lines []string
	defaults := map[string]bool{}
	for i, n := 0, 10+r.IntN(20); i < n; i++ {
		lines = append(lines, genRoute(r, defaults))
	}
	for i, n := 0, 3+r.IntN(8); i < n; i++ {
		lines = append(lines, genRule(r))
	}
	r.Shuffle(len(lines), func(i, j int) {
		// keep rule and route order random but routes mostly first, so
		// gateway checks see connected routes either way
		if r.IntN(3) == 0 {
			lines[i], lines[j] = lines[j], lines[i]
		}
	})
	return lines
}

func genRoute(r *rand.Rand, defaults map[string]bool) string {
	verb := pick(r, "add", "add", "add", "add", "replace", "prepend", "append", "del")
	tbl := pick(r, genTables...)
	dst := pick(r, genPrefixes...)
	if verb == "add" && !defaults[tbl] && r.IntN(6) == 0 {
		dst, defaults[tbl] = "default", true
	}
	w := []string{"route", verb}
	typ := pick(r, "unicast", "unicast", "unicast", "unicast", "blackhole", "unreachable", "prohibit", "throw", "local", "broadcast")
	if typ != "unicast" {
		w = append(w, typ)
	}
	w = append(w, dst, "table", tbl)
	short := len(w)
	switch typ {
	case "unicast":
		if r.IntN(2) == 0 {
			w = append(w, "via", pick(r, genGateways...))
			if r.IntN(4) == 0 {
				w = append(w, "dev", pick(r, genDevs...))
			}
		} else {
			w = append(w, "dev", pick(r, genDevs...))
		}
		if r.IntN(4) == 0 {
			w = append(w, "src", pick(r, genSrcs...))
		}
	case "local", "broadcast":
		w = append(w, "dev", pick(r, genDevs...))
	}
	if dst != "default" && r.IntN(3) == 0 {
		w = append(w, "metric", pick(r, "5", "10", "20"))
	}
	if dst != "default" && r.IntN(4) == 0 {
		w = append(w, "tos", pick(r, genTOS...))
	}
	if verb == "del" && r.IntN(2) == 0 {
		w = w[:short] // "route del [type] dst table T"
	}
	return strings.Join(w, " ")
}

func genRule(r *rand.Rand) string {
	w := []string{"rule", "add"}
	if r.IntN(5) > 0 {
		w = append(w, "pref", fmt.Sprint(1+r.IntN(300)))
	}
	if r.IntN(8) == 0 {
		w = append(w, "not")
	}
	if r.IntN(4) == 0 {
		w = append(w, "from", pick(r, "10.1.0.0/24", "10.99.0.0/16", "10.1.0.1", "192.168.0.0/16", "0.0.0.0/8"))
	}
	if r.IntN(4) == 0 {
		w = append(w, "to", pick(r, "10.9.0.0/16", "10.0.0.0/8", "10.9.1.0/24", "192.168.1.0/24"))
	}
	if r.IntN(3) == 0 {
		w = append(w, "fwmark", pick(r, "1", "2", "3", "0x4/0x4", "0x10/0xf0"))
	}
	if r.IntN(6) == 0 {
		w = append(w, "tos", pick(r, genTOS...))
	}
	if r.IntN(6) == 0 {
		w = append(w, "iif", pick(r, "tphd0", "tphd1", "lo", "tphnone"))
	}
	if r.IntN(8) == 0 {
		w = append(w, "oif", pick(r, "tphd0", "tphd1"))
	}
	if r.IntN(8) == 0 {
		w = append(w, "ipproto", "tcp", "dport", pick(r, "80", "1-1000"))
	}
	switch r.IntN(10) {
	case 0:
		w = append(w, pick(r, "blackhole", "unreachable", "prohibit", "nop"))
	case 1:
		w = append(w, "goto", fmt.Sprint(1+r.IntN(400)))
	default:
		w = append(w, "lookup", pick(r, genTables...))
		if r.IntN(4) == 0 {
			w = append(w, "suppress_prefixlength", pick(r, "0", "8", "16", "24"))
		}
	}
	return strings.Join(w, " ")
}

func genProbe(r *rand.Rand) string {
	dst := pick(r, "10.9.1.7", "10.9.1.200", "10.9.2.1", "10.9.200.1", "10.1.0.7", "10.1.0.1", "10.1.0.2",
		"10.1.0.255", "10.2.5.5", "10.2.0.1", "10.3.0.5", "10.3.0.255", "192.168.1.1", "192.168.7.7",
		"172.16.3.4", "8.8.8.8", "10.200.0.1", "10.1.9.9")
	w := []string{"route", "get", dst}
	input := r.IntN(3) == 0
	if input {
		w = append(w, "from", pick(r, "10.99.0.1", "10.1.0.50", "192.168.1.9", "10.9.1.7", "10.1.0.1", "10.2.3.4"), "iif", pick(r, genDevs...))
	} else {
		if r.IntN(4) == 0 {
			w = append(w, "from", pick(r, genSrcs...))
		}
		if r.IntN(6) == 0 {
			w = append(w, "oif", pick(r, genDevs...))
		}
	}
	if r.IntN(2) == 0 {
		w = append(w, "mark", pick(r, "1", "2", "3", "4", "0x14", "0x17"))
	}
	if r.IntN(3) == 0 {
		w = append(w, "tos", pick(r, "0x04", "0x08", "0x10", "0x18", "0x1c", "0x11", "0xfc"))
	}
	if r.IntN(5) == 0 {
		w = append(w, "ipproto", "tcp", "dport", pick(r, "80", "443", "2000"))
	}
	return strings.Join(w, " ")
}
