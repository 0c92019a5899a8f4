package link

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// SetHWAddr sets the Ethernet address of kernel interface name in the
// caller's network namespace (SIOCSIFHWADDR, as `ip link set NAME address
// MAC`). The cloud gives an instance's TAP device its Neutron port's MAC
// this way, so the port's anti-spoofing flows let its frames through.
func SetHWAddr(name string, mac [6]byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("link: set address of %s: %w", name, err)
	}
	defer unix.Close(fd)
	// struct ifreq: the name, then struct sockaddr {family; data[14]}.
	var req [unix.IFNAMSIZ + 16]byte
	copy(req[:], name)
	req[unix.IFNAMSIZ] = unix.ARPHRD_ETHER & 0xff
	req[unix.IFNAMSIZ+1] = unix.ARPHRD_ETHER >> 8
	copy(req[unix.IFNAMSIZ+2:], mac[:])
	if err := ioctlIfreq(fd, unix.SIOCSIFHWADDR, req[:]); err != nil {
		return fmt.Errorf("link: set address of %s: %w", name, err)
	}
	return nil
}
