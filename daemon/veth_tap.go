package daemon

// Kernel TAP devices in tapestry namespaces: `ip link set TAP netns NS`
// for a TAP that is no bridge port. The daemon attaches to the device
// through /dev/net/tun wherever it is (link.FindTAP searches the named
// kernel namespaces too) and the descriptor becomes interface TAP of the
// tapestry namespace: the kernel device is one end of the wire, the
// namespace the other, as a VM is the far end of a TAP. The namespace's
// interface has an address of its own (stable, derived from the name),
// distinct from the kernel device's, as a guest NIC's is. The claim is
// desired state (linkConf kind tap) and the TAP is found again by name
// after a restart.

import (
	"errors"
	"fmt"
	"io/fs"

	"tapestry/api"
	"tapestry/link"
	"tapestry/netstack"
)

// TAPOpener is implemented by Devices that can attach to an existing
// TAP device by name without creating it (the kernel's, through
// link.FindTAP, is built in). Devices without it have no TAPs to move
// into namespaces.
type TAPOpener interface {
	OpenTAP(name string) (link.Link, error)
}

// openTAP attaches to the existing TAP device name. A missing device is
// an error wrapping fs.ErrNotExist.
func (d *Daemon) openTAP(name string) (link.Link, error) {
	switch dev := d.dev.(type) {
	case KernelDevices:
		t, _, err := link.FindTAP(name)
		if err != nil {
			return nil, err
		}
		return t, nil
	case TAPOpener:
		return dev.OpenTAP(name)
	}
	return nil, fmt.Errorf("no TAP device %q: %w", name, fs.ErrNotExist)
}

// addTAP gives ns the kernel TAP of lc.
func (d *Daemon) addTAP(ns *netstack.Namespace, lc *linkConf) error {
	l, err := d.openTAP(lc.Name)
	if err != nil {
		return err
	}
	mac := tapMAC(lc.Name)
	if lc.MAC != nil {
		mac = *lc.MAC
	}
	if _, err := ns.AddLink(lc.Name, l, mac); err != nil {
		l.Close()
		return err
	}
	return nil
}

// tapMAC is the namespace side's address for TAP name: stable, locally
// administered, and not the kernel device's.
func tapMAC(name string) [6]byte { return stableMAC("netns-tap/" + name) }

// tapClaimed reports whether a tapestry namespace holds TAP name.
func (d *Daemon) tapClaimed(name string) bool {
	for _, c := range d.netns {
		if l := c.link(name); l != nil && l.Kind == kindTAP {
			return true
		}
	}
	return false
}

// moveTAP is `ip link set TAP netns NS` from the root namespace for a
// kernel TAP device that no bridge has as a port.
func (d *Daemon) moveTAP(name, to string) (api.CommandResult, error) {
	if d.tapClaimed(name) {
		return api.CommandResult{}, api.NotFound("Cannot find device \"%s\"", name)
	}
	toConf := d.netns[to]
	if toConf.link(name) != nil {
		return api.CommandResult{}, api.Conflict("RTNETLINK answers: File exists")
	}
	l, err := d.openTAP(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return api.CommandResult{}, api.NotFound("Cannot find device \"%s\"", name)
	case err != nil:
		return api.CommandResult{}, api.BadRequest("tapestry ip: %s: only internal ports and kernel TAP devices move into tapestry namespaces: %v", name, err)
	}
	mac := tapMAC(name)
	next := cloneConf(toConf)
	next.Links = append(next.Links, &linkConf{Name: name, Kind: kindTAP, MAC: &mac})
	if err := d.putConfs(next); err != nil {
		l.Close()
		return api.CommandResult{}, err
	}
	if _, err := d.nsrt[to].AddLink(name, l, mac); err != nil {
		l.Close()
		return api.CommandResult{}, ipError(err)
	}
	return api.CommandResult{}, nil
}
