package netstack

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// devConf is one net.ipv4.conf.<dev> directory.
type devConf struct {
	Forwarding   int
	RPFilter     int
	SrcValidMark int
	ARPIgnore    int
	ARPAnnounce  int
	ProxyARP     int
	ARPNotify    int
	AcceptLocal  int
}

// sysctls are a namespace's net.ipv4 settings; the value is immutable
// and swapped whole on a write, so the fast path reads it without locks.
type sysctls struct {
	DefaultTTL               int
	ICMPRatelimit            int // ms
	ICMPRatemask             int
	ICMPEchoIgnoreBroadcasts int
	IPFragHighThresh         int // bytes
	IPFragTime               int // seconds
	All, Default             devConf
	Dev                      map[string]devConf
}

// defaultSysctls are a new namespace's values (net/ipv4/devinet.c
// ipv4_devconf, icmp_sk_init, sysctl_ip_default_ttl).
func defaultSysctls() *sysctls {
	return &sysctls{DefaultTTL: 64, ICMPRatelimit: 1000, ICMPRatemask: 6168, ICMPEchoIgnoreBroadcasts: 1,
		IPFragHighThresh: 4 << 20, IPFragTime: 30, Dev: map[string]devConf{}}
}

func (s *sysctls) withDevice(name string) *sysctls {
	c := *s
	c.Dev = maps.Clone(s.Dev)
	c.Dev[name] = s.Default
	return &c
}

// conf returns a device's effective settings, combining "all" and the
// device as the kernel's IN_DEV_MAXCONF/IN_DEV_ORCONF macros do.
func (s *sysctls) conf(dev string) devConf {
	d := s.Dev[dev]
	a := s.All
	return devConf{
		Forwarding:   d.Forwarding, // IN_DEV_FORWARD reads the device only
		RPFilter:     max(a.RPFilter, d.RPFilter),
		SrcValidMark: a.SrcValidMark | d.SrcValidMark,
		ARPIgnore:    max(a.ARPIgnore, d.ARPIgnore),
		ARPAnnounce:  max(a.ARPAnnounce, d.ARPAnnounce),
		ProxyARP:     a.ProxyARP | d.ProxyARP,
		ARPNotify:    max(a.ARPNotify, d.ARPNotify),
		AcceptLocal:  a.AcceptLocal | d.AcceptLocal,
	}
}

var confFields = map[string]func(*devConf) *int{
	"forwarding":     func(c *devConf) *int { return &c.Forwarding },
	"rp_filter":      func(c *devConf) *int { return &c.RPFilter },
	"src_valid_mark": func(c *devConf) *int { return &c.SrcValidMark },
	"arp_ignore":     func(c *devConf) *int { return &c.ARPIgnore },
	"arp_announce":   func(c *devConf) *int { return &c.ARPAnnounce },
	"proxy_arp":      func(c *devConf) *int { return &c.ProxyARP },
	"arp_notify":     func(c *devConf) *int { return &c.ARPNotify },
	"accept_local":   func(c *devConf) *int { return &c.AcceptLocal },
}

var neighFields = []string{"base_reachable_time_ms", "delay_first_probe_time", "retrans_time_ms", "gc_stale_time",
	"ucast_solicit", "mcast_solicit", "unres_qlen", "gc_thresh1", "gc_thresh2", "gc_thresh3", "locktime"}

// SysctlNames lists the settings Sysctl knows, in `sysctl -a` order.
func (ns *Namespace) SysctlNames() []string {
	s := ns.sys.Load()
	names := []string{"net.ipv4.icmp_echo_ignore_broadcasts", "net.ipv4.icmp_ratelimit", "net.ipv4.icmp_ratemask",
		"net.ipv4.ip_default_ttl", "net.ipv4.ip_forward", "net.ipv4.ipfrag_high_thresh", "net.ipv4.ipfrag_time"}
	devs := append([]string{"all", "default"}, slices.Sorted(maps.Keys(s.Dev))...)
	fields := slices.Sorted(maps.Keys(confFields))
	for _, d := range devs {
		for _, f := range fields {
			names = append(names, "net.ipv4.conf."+d+"."+f)
		}
	}
	for _, f := range neighFields {
		names = append(names, "net.ipv4.neigh.default."+f)
	}
	slices.Sort(names)
	return names
}

func sysctlErr(name string) error {
	return fmt.Errorf("sysctl: cannot stat /proc/sys/%s: No such file or directory", strings.ReplaceAll(name, ".", "/"))
}

// normalize accepts both "net.ipv4.ip_forward" and "net/ipv4/ip_forward".
func normalize(name string) string { return strings.ReplaceAll(name, "/", ".") }

// Sysctl reads a setting by the name `sysctl` uses.
func (ns *Namespace) Sysctl(name string) (string, error) {
	name = normalize(name)
	s := ns.sys.Load()
	switch name {
	case "net.ipv4.ip_forward":
		return strconv.Itoa(s.All.Forwarding), nil
	case "net.ipv4.ip_default_ttl":
		return strconv.Itoa(s.DefaultTTL), nil
	case "net.ipv4.icmp_ratelimit":
		return strconv.Itoa(s.ICMPRatelimit), nil
	case "net.ipv4.icmp_ratemask":
		return strconv.Itoa(s.ICMPRatemask), nil
	case "net.ipv4.icmp_echo_ignore_broadcasts":
		return strconv.Itoa(s.ICMPEchoIgnoreBroadcasts), nil
	case "net.ipv4.ipfrag_high_thresh":
		return strconv.Itoa(s.IPFragHighThresh), nil
	case "net.ipv4.ipfrag_time":
		return strconv.Itoa(s.IPFragTime), nil
	}
	if f, ok := strings.CutPrefix(name, "net.ipv4.neigh.default."); ok {
		v, ok := ns.neighParam(f, nil)
		if !ok {
			return "", sysctlErr(name)
		}
		return strconv.Itoa(v), nil
	}
	dev, field, ok := splitConf(name)
	if !ok {
		return "", sysctlErr(name)
	}
	c, ok := s.devConf(dev)
	if !ok {
		return "", sysctlErr(name)
	}
	return strconv.Itoa(*confFields[field](&c)), nil
}

func splitConf(name string) (dev, field string, ok bool) {
	rest, ok := strings.CutPrefix(name, "net.ipv4.conf.")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return "", "", false
	}
	dev, field = rest[:i], rest[i+1:]
	_, ok = confFields[field]
	return dev, field, ok
}

func (s *sysctls) devConf(dev string) (devConf, bool) {
	switch dev {
	case "all":
		return s.All, true
	case "default":
		return s.Default, true
	}
	c, ok := s.Dev[dev]
	return c, ok
}

// SetSysctl writes a setting as `sysctl -w name=value` does. Writing
// net.ipv4.ip_forward or conf.all.forwarding sets forwarding on every
// device and the default too (inet_forward_change).
func (ns *Namespace) SetSysctl(name, value string) error {
	name = normalize(name)
	v, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil {
		return fmt.Errorf("sysctl: setting key %q: Invalid argument", name)
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	old := ns.sys.Load()
	s := *old
	s.Dev = maps.Clone(old.Dev)
	switch name {
	case "net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding":
		s.All.Forwarding, s.Default.Forwarding = v, v
		for d, c := range s.Dev {
			c.Forwarding = v
			s.Dev[d] = c
		}
	case "net.ipv4.ip_default_ttl":
		if v < 1 || v > 255 {
			return fmt.Errorf("sysctl: setting key %q: Invalid argument", name)
		}
		s.DefaultTTL = v
	case "net.ipv4.icmp_ratelimit":
		s.ICMPRatelimit = v
	case "net.ipv4.icmp_ratemask":
		s.ICMPRatemask = v
	case "net.ipv4.icmp_echo_ignore_broadcasts":
		s.ICMPEchoIgnoreBroadcasts = v
	case "net.ipv4.ipfrag_high_thresh":
		s.IPFragHighThresh = v
	case "net.ipv4.ipfrag_time":
		s.IPFragTime = v
	default:
		if f, ok := strings.CutPrefix(name, "net.ipv4.neigh.default."); ok {
			if _, ok := ns.neighParam(f, &v); !ok {
				return sysctlErr(name)
			}
			return nil
		}
		dev, field, ok := splitConf(name)
		if !ok {
			return sysctlErr(name)
		}
		c, ok := s.devConf(dev)
		if !ok {
			return sysctlErr(name)
		}
		*confFields[field](&c) = v
		switch dev {
		case "all":
			s.All = c
		case "default":
			s.Default = c
		default:
			s.Dev[dev] = c
		}
	}
	ns.sys.Store(&s)
	return nil
}

// neighParam reads (set nil) or writes one neighbour table parameter.
func (ns *Namespace) neighParam(f string, set *int) (int, bool) {
	p := ns.neigh.Params()
	durs := map[string]struct {
		d    *time.Duration
		unit time.Duration
	}{
		"base_reachable_time_ms": {&p.BaseReachableTime, time.Millisecond},
		"retrans_time_ms":        {&p.RetransTime, time.Millisecond},
		"delay_first_probe_time": {&p.DelayFirstProbeTime, time.Second},
		"gc_stale_time":          {&p.GCStaleTime, time.Second},
		"locktime":               {&p.LockTime, 10 * time.Millisecond}, // USER_HZ ticks
	}
	ints := map[string]*int{"ucast_solicit": &p.UcastSolicit, "mcast_solicit": &p.McastSolicit,
		"unres_qlen": &p.UnresQLen, "gc_thresh1": &p.GCThresh1, "gc_thresh2": &p.GCThresh2, "gc_thresh3": &p.GCThresh3}
	var cur int
	if d, ok := durs[f]; ok {
		cur = int(*d.d / d.unit)
		if set != nil {
			*d.d = time.Duration(*set) * d.unit
		}
	} else if i, ok := ints[f]; ok {
		cur = *i
		if set != nil {
			*i = *set
		}
	} else {
		return 0, false
	}
	if set != nil {
		ns.neigh.SetParams(p)
	}
	return cur, true
}
