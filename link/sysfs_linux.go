package link

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// checkName rejects names the kernel would refuse or that would escape
// /sys/class/net: the kernel's dev_valid_name allows at most IFNAMSIZ-1
// bytes, no '/', no ':' and no whitespace, and not "." or "..".
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("link: empty interface name")
	case len(name) >= unix.IFNAMSIZ:
		return fmt.Errorf("link: interface name %q is %d bytes, longer than the kernel's limit of %d", name, len(name), unix.IFNAMSIZ-1)
	case name == "." || name == "..":
		return fmt.Errorf("link: invalid interface name %q", name)
	case strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return fmt.Errorf("link: invalid interface name %q: contains '/', ':' or whitespace", name)
	}
	return nil
}

// Exists reports whether a network interface called name exists in the
// calling process's network namespace.
func Exists(name string) bool {
	if checkName(name) != nil {
		return false
	}
	_, err := os.Stat("/sys/class/net/" + name)
	return err == nil
}

// IsTAP reports whether name is a TUN/TAP device in TAP (Ethernet) mode, as
// made by `ip tuntap add NAME mode tap`, in the calling process's network
// namespace.
func IsTAP(name string) bool {
	flags, err := tunFlags(name)
	return err == nil && flags&unix.IFF_TAP != 0
}

// tunFlags returns the flags the kernel reports in
// /sys/class/net/NAME/tun_flags (drivers/net/tun.c tun_flags_show), a hex
// number such as 0x1802 (IFF_TAP|IFF_PERSIST|IFF_NO_PI). The file exists only
// for TUN/TAP devices.
func tunFlags(name string) (uint16, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	b, err := os.ReadFile("/sys/class/net/" + name + "/tun_flags")
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 16)
	if err != nil {
		return 0, fmt.Errorf("link: %s: tun_flags %q: %w", name, s, err)
	}
	return uint16(v), nil
}

// sysfsInt reads an integer attribute such as mtu or ifindex of an interface.
func sysfsInt(name, attr string) (int, error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/" + attr)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("link: %s: %s %q: %w", name, attr, s, err)
	}
	return v, nil
}
