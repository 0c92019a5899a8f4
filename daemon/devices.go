package daemon

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"sync"

	"tapestry/link"
)

// Devices opens the link behind a port. typ is the interface type:
//
//	internal  a device owned by the switch: a TAP that tapestry creates (the
//	          bridge's own LOCAL port is internal too)
//	tap       an existing TAP device, attached through /dev/net/tun, created
//	          if missing (as OVS's type=tap does)
//	system    an existing kernel interface, through AF_PACKET
//	""        detect: a TAP device is attached as a TAP (OVS would need
//	          type=tap, and without it leaves the device NO-CARRIER once it is
//	          moved into a namespace); any other device is a system port
//
// An error's message is what vsctl show prints after "error:".
type Devices interface {
	Open(name, typ string) (link.Link, error)
}

// KernelDevices opens real devices.
type KernelDevices struct{}

// Open implements Devices.
func (KernelDevices) Open(name, typ string) (link.Link, error) {
	switch typ {
	case "internal":
		t, err := link.OpenTAP(name, true)
		if err != nil {
			return nil, deviceError(name, err)
		}
		return t, nil
	case "tap":
		// A TAP moved into a namespace before a restart is found there.
		t, _, err := link.FindTAP(name)
		if errors.Is(err, fs.ErrNotExist) {
			// Made persistent, as `ip tuntap add` makes it: a user who moves
			// it into a namespace and configures it there keeps that
			// configuration across a restart of the daemon.
			t, err = link.OpenTAP(name, true)
			if err == nil {
				if perr := t.SetPersist(true); perr != nil {
					t.Close()
					return nil, deviceError(name, perr)
				}
			}
		}
		if err != nil {
			return nil, deviceError(name, err)
		}
		return t, nil
	case "system":
		p, err := link.OpenPacket(name)
		if err != nil {
			return nil, deviceError(name, err)
		}
		return p, nil
	case "":
		if link.IsTAP(name) {
			return KernelDevices{}.Open(name, "tap")
		}
		if link.Exists(name) {
			return KernelDevices{}.Open(name, "system")
		}
		// Not here: maybe a TAP the user moved into a namespace before
		// this daemon (re)started.
		if t, _, err := link.FindTAP(name); err == nil {
			return t, nil
		}
		return nil, noSuchDevice(name)
	}
	return nil, fmt.Errorf("could not open network device %s (Unsupported interface type %q)", name, typ)
}

func noSuchDevice(name string) error {
	return fmt.Errorf("could not open network device %s (No such device)", name)
}

// deviceError words err as ovs-vswitchd does: "could not open network
// device NAME (REASON)".
func deviceError(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || !link.Exists(name) && !errors.Is(err, fs.ErrPermission) {
		return noSuchDevice(name)
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("could not open network device %s (Operation not permitted)", name)
	}
	return fmt.Errorf("could not open network device %s (%v)", name, err)
}

// MemDevices gives every port an in-memory wire (link.Pipe): for tests, and
// for running without privileges. The far end of each wire is kept so that
// a test can send and receive frames as the device would.
type MemDevices struct {
	// Missing names devices that do not exist: opening them fails as a
	// missing kernel device does.
	Missing map[string]bool

	mu    sync.Mutex
	peers map[string]*link.Mem
}

// Open implements Devices.
func (m *MemDevices) Open(name, typ string) (link.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Missing[name] && typ != "internal" {
		return nil, noSuchDevice(name)
	}
	switch typ {
	case "", "tap", "system", "internal":
	default:
		return nil, fmt.Errorf("could not open network device %s (Unsupported interface type %q)", name, typ)
	}
	a, b := link.Pipe(name, name+"-peer", link.PipeOptions{})
	if m.peers == nil {
		m.peers = make(map[string]*link.Mem)
	}
	if old := m.peers[name]; old != nil {
		old.Close()
	}
	m.peers[name] = b
	return a, nil
}

// Peer returns the far end of the wire of port name, or nil.
func (m *MemDevices) Peer(name string) *link.Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peers[name]
}

// deviceMAC returns the MAC address of the kernel device name in the
// daemon's namespace, if there is one.
func deviceMAC(name string) ([6]byte, bool) {
	var mac [6]byte
	ifi, err := net.InterfaceByName(name)
	if err != nil || len(ifi.HardwareAddr) != 6 {
		return mac, false
	}
	copy(mac[:], ifi.HardwareAddr)
	return mac, true
}

// stableMAC derives a locally administered unicast MAC from seed, so that
// a bridge keeps its address (and the datapath id derived from it, as OVS
// derives it) across restarts.
func stableMAC(seed string) [6]byte {
	sum := sha256.Sum256([]byte(seed))
	var mac [6]byte
	copy(mac[:], sum[:6])
	mac[0] = mac[0]&0xfe | 0x02
	return mac
}

// localDevices opens a bridge's LOCAL port: an internal TAP when the
// devices allow it, else an in-memory port so that the bridge works
// without privileges (its LOCAL port then leads nowhere).
func localLink(dev Devices, name string) (link.Link, bool) {
	l, err := dev.Open(name, "internal")
	if err == nil {
		return l, true
	}
	a, _ := link.Pipe(name, name+"-local", link.PipeOptions{})
	return a, false
}
