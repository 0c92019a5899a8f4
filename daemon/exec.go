package daemon

// `ip netns add|del|list` and the tools `ip netns exec NS` runs inside a
// tapestry namespace: sysctl(8) and ping(8).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"tapestry/api"
	"tapestry/netstack"
	"tapestry/store"
)

// ipNetns is `ip netns add|del|list NAME`. Errors are iproute2's, which
// speaks of the file a kernel namespace is bound to.
func (d *Daemon) ipNetns(args []string) (api.CommandResult, error) {
	if len(args) == 0 {
		args = []string{"list"}
	}
	switch args[0] {
	case "list", "show", "ls", "lst", "sh":
		return out(sortedKeys(d.netns)...), nil
	case "add", "a":
		if len(args) != 2 {
			return api.CommandResult{}, api.BadRequest("No netns name specified")
		}
		return api.CommandResult{}, d.netnsAdd(args[1])
	case "delete", "del", "d":
		if len(args) != 2 {
			return api.CommandResult{}, api.BadRequest("No netns name specified")
		}
		return api.CommandResult{}, d.netnsDel(args[1])
	}
	return api.CommandResult{}, api.BadRequest("Command \"%s\" is unknown, try \"ip netns help\".", args[0])
}

func (d *Daemon) netnsAdd(name string) error {
	if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return api.BadRequest("Invalid netns name \"%s\"", name)
	}
	if d.netns[name] != nil {
		return api.Conflict("Cannot create namespace file \"/run/netns/%s\": File exists", name)
	}
	c := newNSConf(name)
	if err := d.st.Update(func(tx *store.Tx) error { return putNS(tx, c) }); err != nil {
		return fmt.Errorf("writing store: %w", err)
	}
	d.netns[name] = c
	d.buildNS(c)
	return nil
}

// netnsDel removes a namespace. Its internal ports go back to the root
// namespace as ordinary internal ports (their addresses and routes go
// with the namespace); its veths are destroyed with their peers, as
// Linux destroys a pair when either end's namespace goes; its kernel
// TAPs are let go and stay in their kernel namespace.
func (d *Daemon) netnsDel(name string) error {
	c := d.netns[name]
	if c == nil {
		return api.NotFound("Cannot remove namespace file \"/run/netns/%s\": No such file or directory", name)
	}
	if err := d.st.Update(func(tx *store.Tx) error { return tx.DeleteBucket(nsPath(name)) }); err != nil {
		return fmt.Errorf("writing store: %w", err)
	}
	delete(d.netns, name)
	if rt := d.nsrt[name]; rt != nil {
		rt.Close()
		delete(d.nsrt, name)
	}
	for _, l := range c.Links {
		if l.Kind == kindInternal {
			d.reattachPort(l.port())
		}
	}
	return d.dropPeers(c)
}

// nsFor returns the running namespace name, under d.mu.
func (d *Daemon) nsFor(name string) (*netstack.Namespace, error) {
	if d.closed {
		return nil, api.Errorf(http.StatusServiceUnavailable, "daemon is shutting down")
	}
	ns := d.nsrt[name]
	if ns == nil {
		return nil, noNetns(name)
	}
	return ns, nil
}

// Sysctl implements api.Backend: `sysctl [-n] [-w] NAME[=VALUE]...` and
// `sysctl -a`, as procps prints them ("net.ipv4.ip_forward = 1").
func (d *Daemon) Sysctl(_ context.Context, name string, req api.ExecRequest) (api.CommandResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ns, err := d.nsFor(name)
	if err != nil {
		return api.CommandResult{}, err
	}
	var sb strings.Builder
	quiet, all, wrote := false, false, false
	var words []string
	for _, a := range req.Args {
		switch a {
		case "-w", "--write":
		case "-n", "--values":
			quiet = true
		case "-a", "-A", "-X", "--all":
			all = true
		case "-q", "--quiet":
		default:
			if strings.HasPrefix(a, "-") {
				return api.CommandResult{}, api.BadRequest("sysctl: invalid option -- '%s'", strings.TrimLeft(a, "-"))
			}
			words = append(words, a)
		}
	}
	if all {
		words = ns.SysctlNames()
	}
	if len(words) == 0 {
		return api.CommandResult{}, api.BadRequest("sysctl: no variables specified")
	}
	show := func(k, v string) {
		if quiet {
			sb.WriteString(v + "\n")
		} else {
			sb.WriteString(k + " = " + v + "\n")
		}
	}
	conf := d.netns[name]
	for _, w := range words {
		k, v, set := strings.Cut(w, "=")
		k = strings.ReplaceAll(strings.TrimSpace(k), "/", ".")
		v = strings.TrimSpace(v)
		if !set {
			val, err := ns.Sysctl(k)
			if err != nil {
				return api.CommandResult{Output: sb.String(), ExitCode: 255}, api.BadRequest("%s", err.Error())
			}
			show(k, val)
			continue
		}
		if err := ns.SetSysctl(k, v); err != nil {
			if wrote {
				if cerr := d.commitNS(name); cerr != nil {
					return api.CommandResult{}, cerr
				}
			}
			return api.CommandResult{}, api.BadRequest("%s", err.Error())
		}
		conf.Sysctls = append(slices.DeleteFunc(conf.Sysctls, func(s sysctlConf) bool { return s.Name == k }), sysctlConf{Name: k, Value: v})
		wrote = true
		show(k, v)
	}
	if wrote {
		if err := d.commitNS(name); err != nil {
			return api.CommandResult{}, err
		}
	}
	return api.CommandResult{Output: sb.String()}, nil
}

// ParsePing parses ping(8)'s arguments (iputils): -c COUNT, -i INTERVAL
// (seconds, fractions allowed), -I IFACE, -m MARK, -s SIZE, -t TTL, -W
// TIMEOUT (seconds), -w DEADLINE (whole seconds), -q and -n (accepted),
// then the IPv4 destination.
// Options may be joined to their values ("-c3", "-i0.2").
func ParsePing(args []string) (netstack.PingOptions, error) {
	var o netstack.PingOptions
	seconds := func(flag, v string) (time.Duration, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1e6 {
			return 0, fmt.Errorf("ping: bad timing interval: %s", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	num := func(flag, v string, lo, hi int64) (int64, error) {
		n, err := strconv.ParseInt(v, 0, 64)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("ping: invalid argument: '%s': out of range: %d <= value <= %d", v, lo, hi)
		}
		return n, nil
	}
	dest := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			if dest != "" {
				return o, fmt.Errorf("ping: usage error: Destination address required")
			}
			dest = a
			continue
		}
		flag, val := a[:2], a[2:]
		switch flag {
		case "-q", "-n", "-4":
			continue
		case "-c", "-i", "-I", "-m", "-s", "-t", "-W", "-w":
		default:
			return o, fmt.Errorf("ping: invalid option -- '%s'", strings.TrimPrefix(a, "-"))
		}
		if val == "" {
			if i+1 >= len(args) {
				return o, fmt.Errorf("ping: option requires an argument -- '%s'", flag[1:])
			}
			i++
			val = args[i]
		}
		var err error
		var n int64
		switch flag {
		case "-c":
			n, err = num(flag, val, 1, 1<<31-1)
			o.Count = int(n)
		case "-i":
			o.Interval, err = seconds(flag, val)
		case "-W":
			o.Timeout, err = seconds(flag, val)
		case "-w":
			// iputils reads an integer (strtol_or_err): "-w 0.5" is refused.
			if _, perr := strconv.ParseInt(val, 10, 64); perr != nil && !errors.Is(perr, strconv.ErrRange) {
				return o, fmt.Errorf("ping: invalid argument: '%s'", val)
			}
			n, err = num(flag, val, 0, 1<<31-1)
			o.Deadline = time.Duration(n) * time.Second
		case "-I":
			// iputils: an address is the source to bind, anything else a
			// device name.
			if a, perr := netip.ParseAddr(val); perr == nil && a.Is4() {
				o.Source = a
			} else {
				o.Interface = val
			}
		case "-m":
			n, err = num(flag, val, 0, 1<<32-1)
			o.Mark = uint32(n)
		case "-s":
			n, err = num(flag, val, 0, 65507)
			o.Size = int(n)
		case "-t":
			n, err = num(flag, val, 1, 255)
			o.TTL = int(n)
		}
		if err != nil {
			return o, err
		}
	}
	if dest == "" {
		return o, fmt.Errorf("ping: usage error: Destination address required")
	}
	a, err := netip.ParseAddr(dest)
	if err != nil || !a.Is4() {
		return o, fmt.Errorf("ping: %s: Name or service not known", dest)
	}
	o.Dest = a
	return o, nil
}
