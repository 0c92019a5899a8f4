package netstack

// Hardware addresses of interfaces: `ip link set DEV address MAC`.
//
// The address lives in an atomic word so that the receive and transmit
// paths (which read it for every frame) never race with a change.

import (
	"errors"
	"fmt"

	"tapestry/packet"
)

// errAddrNotAvail is the kernel's EADDRNOTAVAIL for a MAC that is not a
// valid unicast Ethernet address (eth_prepare_mac_addr_change checks
// is_valid_ether_addr: not multicast, not all zeros).
var errAddrNotAvail = errors.New("RTNETLINK answers: Cannot assign requested address")

// errNotSupported is EOPNOTSUPP, e.g. for lo, which has no
// ndo_set_mac_address.
var errNotSupported = errors.New("RTNETLINK answers: Operation not supported")

// macBits packs a MAC into the low 48 bits of a word.
func macBits(m packet.MAC) uint64 {
	return uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 | uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5])
}

// macFromBits is the inverse of macBits.
func macFromBits(v uint64) packet.MAC {
	return packet.MAC{byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// SetMAC is `ip link set DEV address MAC`. It does what Linux does on
// NETDEV_CHANGEADDR: every neighbour entry of the interface goes,
// PERMANENT ones included (arp_netdev_event calls neigh_changeaddr, which
// flushes without skipping permanent entries), routes stay, and when the
// interface is up and arp_notify is set a gratuitous ARP announces each
// address with the new MAC (inetdev_event falls through to
// inetdev_send_gratuitous_arp only with arp_notify).
func (ns *Namespace) SetMAC(ifc *Interface, mac packet.MAC) error {
	if ifc.loopback {
		return fmt.Errorf("netstack: %s: %w", ifc.name, errNotSupported)
	}
	if mac[0]&1 != 0 || mac == (packet.MAC{}) {
		return fmt.Errorf("netstack: %s: address %s: %w", ifc.name, macStr(mac), errAddrNotAvail)
	}
	ns.mu.Lock()
	if ifc.MAC() == mac {
		ns.mu.Unlock()
		return nil
	}
	ifc.mac.Store(macBits(mac))
	ns.neigh.IfDown(ifc.index, true)
	notify := ifc.cfg.Load().up && ns.sys.Load().conf(ifc.name).ARPNotify != 0
	ns.mu.Unlock()
	if notify {
		for _, a := range ifc.Addrs() {
			ns.gratuitousARP(ifc, a.Prefix.Addr())
		}
	}
	return nil
}

// ReserveIndex makes the next interface added get index at least next:
// a namespace rebuilt from stored state gives its interfaces their
// indexes again, as they had them (Linux keeps an interface's index for
// its life, and never hands a lower one out again in a namespace).
func (ns *Namespace) ReserveIndex(next int) {
	ns.mu.Lock()
	ns.nextIndex = max(ns.nextIndex, next)
	ns.mu.Unlock()
}
