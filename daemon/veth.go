package daemon

// veth pairs between tapestry namespaces: `ip [-n NS] link add NAME type
// veth peer name PEER [netns NS2]` and `ip [-n NS] link del NAME`.
//
// A pair is desired state like everything else in a namespace: each end
// is a linkConf of kind veth naming its peer and the peer's namespace,
// with its MAC (so that it survives restarts). The running pair is
// netstack's (AddVethPair): each end holds the other, frames cross
// synchronously and carrier follows the peer's up/down. Since netstack
// cannot take an interface out of a namespace, deleting or moving an end
// rebuilds the namespaces involved from desired state, together with
// every namespace joined to them by veths (vethGroup), each pair fresh.

import (
	"fmt"
	"slices"
	"strconv"

	"tapestry/api"
	"tapestry/netstack"
	"tapestry/packet"
	"tapestry/store"
)

// vethEnd is one side of `ip link add`: what comes before "type" and what
// follows "peer".
type vethEnd struct {
	Name  string
	Netns string
	MAC   *packet.MAC
	MTU   int
}

// linkAddSpec is a parsed `ip link add ... type veth [peer ...]`.
type linkAddSpec struct {
	Dev, Peer vethEnd
}

// parseLinkAdd parses the words after `ip link add` as iproute2's
// iplink_parse does for the options tapestry knows: [name] NAME, dev,
// netns, address, mtu, then type veth and, after "peer", the same
// options for the other end ("peer name b", "peer b").
func parseLinkAdd(args []string) (linkAddSpec, error) {
	var s linkAddSpec
	end := &s.Dev
	typ := ""
	for i := 0; i < len(args); i++ {
		w := args[i]
		if w == "peer" && typ != "" {
			if end == &s.Peer {
				return s, api.BadRequest("Error: either \"peer\" is duplicate, or \"peer\" is a garbage.")
			}
			end = &s.Peer
			continue
		}
		if w != "type" && w != "name" && w != "dev" && w != "netns" && w != "address" && w != "mtu" {
			if end.Name != "" {
				return s, api.BadRequest("Error: either \"dev\" is duplicate, or \"%s\" is a garbage.", w)
			}
			end.Name = w
			continue
		}
		if i+1 >= len(args) {
			return s, api.BadRequest("Command line is not complete. Try option \"help\"")
		}
		i++
		v := args[i]
		switch w {
		case "type":
			typ = v
		case "name", "dev":
			end.Name = v
		case "netns":
			end.Netns = v
		case "address":
			m, err := parseMAC(v)
			if err != nil {
				return s, err
			}
			end.MAC = &m
		case "mtu":
			n, err := strconv.Atoi(v)
			if err != nil || n < 68 || n > 65535 {
				return s, api.BadRequest("Error: argument \"%s\" is wrong: Invalid \"mtu\" value", v)
			}
			end.MTU = n
		}
	}
	switch typ {
	case "":
		return s, api.BadRequest("Not enough information: \"type\" argument is required")
	case "veth":
	default:
		// The kernel's words when no rtnl_link_ops has that kind.
		return s, api.BadRequest("Error: Unknown device type.")
	}
	for _, n := range []string{s.Dev.Name, s.Peer.Name} {
		if len(n) > 15 || n == "." || n == ".." || slices.ContainsFunc([]byte(n), func(b byte) bool { return b == '/' || b == ':' || b <= ' ' }) {
			return s, api.BadRequest("Error: argument \"%s\" is wrong: \"name\" not a valid ifname", n)
		}
	}
	return s, nil
}

// parseMAC reads an `address` value as iproute2's ll_addr_a2n does.
func parseMAC(v string) (packet.MAC, error) {
	c, err := netstack.ParseLinkSet([]string{"x", "address", v})
	if err != nil {
		return packet.MAC{}, api.BadRequest("%s", err.Error())
	}
	return packet.MAC(c.MAC), nil
}

// freeVethName is the kernel's dev_alloc_name("veth%d"): the lowest N
// whose name no interface of the namespace has.
func freeVethName(c *nsConf, taken string) string {
	for n := 0; ; n++ {
		name := "veth" + strconv.Itoa(n)
		if c.link(name) == nil && name != taken {
			return name
		}
	}
}

// cloneConf copies c deeply enough to change its links.
func cloneConf(c *nsConf) *nsConf {
	n := *c
	n.Links = make([]*linkConf, len(c.Links))
	for i, l := range c.Links {
		lc := *l
		n.Links[i] = &lc
	}
	return &n
}

// linkAdd is `ip -n NS link add ...` (veth only).
func (d *Daemon) linkAdd(nsName string, args []string) error {
	s, err := parseLinkAdd(args)
	if err != nil {
		return err
	}
	for _, e := range []*vethEnd{&s.Dev, &s.Peer} {
		if e.Netns == "" {
			e.Netns = nsName
		} else if d.netns[e.Netns] == nil {
			return api.BadRequest("Error: argument \"%s\" is wrong: Invalid \"netns\" value", e.Netns)
		}
	}
	// The kernel registers the peer first (veth_newlink), so it gets the
	// lower index and, unnamed, the first free vethN.
	devConf, peerConf := cloneConf(d.netns[s.Dev.Netns]), cloneConf(d.netns[s.Peer.Netns])
	if s.Peer.Netns == s.Dev.Netns {
		peerConf = devConf
	}
	if s.Peer.Name == "" {
		s.Peer.Name = freeVethName(peerConf, s.Dev.Name)
	}
	if s.Dev.Name == "" {
		taken := ""
		if peerConf == devConf {
			taken = s.Peer.Name
		}
		s.Dev.Name = freeVethName(devConf, taken)
	}
	if devConf.link(s.Dev.Name) != nil || peerConf.link(s.Peer.Name) != nil || devConf == peerConf && s.Dev.Name == s.Peer.Name {
		return api.Conflict("RTNETLINK answers: File exists")
	}
	peerConf.Links = append(peerConf.Links, vethConf(s.Peer, s.Dev))
	devConf.Links = append(devConf.Links, vethConf(s.Dev, s.Peer))
	if err := d.putConfs(devConf, peerConf); err != nil {
		return err
	}
	// Both namespaces run: the pair is added in place.
	return d.addVeth(s.Peer.Netns, d.nsrt[s.Peer.Netns], peerConf.link(s.Peer.Name))
}

// vethConf is the desired state of end e of a new pair.
func vethConf(e, peer vethEnd) *linkConf {
	mac := stableMAC("veth/" + e.Netns + "/" + e.Name)
	if e.MAC != nil {
		mac = *e.MAC
	}
	return &linkConf{Name: e.Name, Kind: kindVeth, MTU: e.MTU, MAC: &mac, Peer: peer.Name, PeerNS: peer.Netns}
}

// putConfs stores namespaces' desired state in one transaction.
func (d *Daemon) putConfs(confs ...*nsConf) error {
	err := d.st.Update(func(tx *store.Tx) error {
		for _, c := range confs {
			if err := putNS(tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing store: %w", err)
	}
	for _, c := range confs {
		d.netns[c.Name] = c
	}
	return nil
}

// addVeth creates the running pair of veth end lc of namespace nsName
// (running as ns), unless its peer made it already.
func (d *Daemon) addVeth(nsName string, ns *netstack.Namespace, lc *linkConf) error {
	if _, ok := ns.Interface(lc.Name); ok {
		return nil // made with its peer
	}
	peerNS, peerConf := d.nsrt[lc.PeerNS], d.netns[lc.PeerNS]
	if peerNS == nil || peerConf == nil || peerConf.link(lc.Peer) == nil {
		return fmt.Errorf("veth %s: peer %s in netns %q is missing", lc.Name, lc.Peer, lc.PeerNS)
	}
	// The end with the lower stored index is made first, so that both
	// get their indexes again.
	pl := peerConf.link(lc.Peer)
	first, second := ns, peerNS
	firstLC, secondLC := lc, pl
	if pl.Index != 0 && (lc.Index == 0 || pl.Index < lc.Index) {
		first, second, firstLC, secondLC = peerNS, ns, pl, lc
	}
	first.ReserveIndex(firstLC.Index)
	if second != first {
		second.ReserveIndex(secondLC.Index)
	}
	x, y, err := netstack.AddVethPair(first, firstLC.Name, second, secondLC.Name)
	if err != nil {
		return err
	}
	a, b := x, y
	if first != ns || firstLC != lc {
		a, b = y, x
	}
	for _, e := range []struct {
		ns  *netstack.Namespace
		ifc *netstack.Interface
		lc  *linkConf
	}{{ns, a, lc}, {peerNS, b, peerConf.link(lc.Peer)}} {
		if e.lc.MAC != nil {
			if err := e.ns.SetMAC(e.ifc, *e.lc.MAC); err != nil {
				return err
			}
		}
		if e.lc.MTU != 0 && e.lc.MTU != e.ifc.MTU() {
			if err := e.ns.SetMTU(e.ifc, e.lc.MTU); err != nil {
				return err
			}
		}
	}
	return nil
}

// linkDel is `ip -n NS link del [dev] NAME`: a veth goes with its peer,
// as in Linux. Other interfaces cannot be deleted (an internal port goes
// with `vsctl del-port`; lo never goes).
func (d *Daemon) linkDel(nsName string, args []string) error {
	if len(args) == 2 && args[0] == "dev" {
		args = args[1:]
	}
	if len(args) != 1 {
		return api.BadRequest("Not enough information: \"dev\" argument is required.")
	}
	c := d.netns[nsName]
	lc := c.link(args[0])
	if lc == nil {
		return api.NotFound("Cannot find device \"%s\"", args[0])
	}
	if lc.Kind != kindVeth {
		return api.BadRequest("RTNETLINK answers: Operation not supported")
	}
	confs := d.withoutVeth(nsName, lc)
	if err := d.putConfs(confs...); err != nil {
		return err
	}
	d.rebuildNS(nsName, lc.PeerNS)
	return nil
}

// withoutVeth is the desired state of the namespaces of veth end lc (in
// nsName) and its peer once the pair is gone.
func (d *Daemon) withoutVeth(nsName string, lc *linkConf) []*nsConf {
	if lc.PeerNS == nsName {
		return []*nsConf{withoutLinks(d.netns[nsName], []string{lc.Name, lc.Peer})}
	}
	out := []*nsConf{withoutLinks(d.netns[nsName], []string{lc.Name})}
	if pc := d.netns[lc.PeerNS]; pc != nil {
		out = append(out, withoutLinks(pc, []string{lc.Peer}))
	}
	return out
}

// dropPeers removes, from the other namespaces, the peers of the veths
// of deleted namespace c (Linux destroys a pair when either end's
// namespace goes) and rebuilds those namespaces.
func (d *Daemon) dropPeers(c *nsConf) error {
	var confs []*nsConf
	var names []string
	for _, lc := range c.Links {
		if lc.Kind != kindVeth || lc.PeerNS == c.Name || d.netns[lc.PeerNS] == nil {
			continue
		}
		nc := withoutLinks(d.netns[lc.PeerNS], []string{lc.Peer})
		d.netns[lc.PeerNS] = nc // a later peer in the same namespace builds on it
		confs = append(confs, nc)
		names = append(names, lc.PeerNS)
	}
	if len(confs) == 0 {
		return nil
	}
	if err := d.putConfs(confs...); err != nil {
		return err
	}
	d.rebuildNS(names...)
	return nil
}

// vethGroup returns names and every namespace joined to them by veths,
// directly or through others, sorted.
func (d *Daemon) vethGroup(names []string) []string {
	seen := map[string]bool{}
	todo := slices.Clone(names)
	for len(todo) > 0 {
		n := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		if c := d.netns[n]; c != nil {
			for _, l := range c.Links {
				if l.Kind == kindVeth && !seen[l.PeerNS] {
					todo = append(todo, l.PeerNS)
				}
			}
		}
	}
	return sortedKeys(seen)
}

// moveOwnLink is `ip -n FROM link set DEV netns TO` for a veth end or a
// kernel TAP: it arrives down and without addresses, with its MAC and
// MTU, and a veth's peer learns where it went. The namespaces involved
// are rebuilt from the new desired state.
func (d *Daemon) moveOwnLink(from, dev, to, rename string) (api.CommandResult, error) {
	name := dev
	if rename != "" {
		name = rename
	}
	if d.netns[to].link(name) != nil {
		return api.CommandResult{}, api.Conflict("RTNETLINK answers: File exists")
	}
	old := d.netns[from].link(dev)
	lc := &linkConf{Name: name, Kind: old.Kind, MTU: old.MTU, MAC: old.MAC, Peer: old.Peer, PeerNS: old.PeerNS}
	fromConf := cloneConf(withoutLinks(d.snapshotNS(d.netns[from], d.nsrt[from]), []string{dev}))
	confs := map[string]*nsConf{from: fromConf}
	toConf := cloneConf(d.netns[to])
	lc.Index = arrivalIndex(toConf, old.Index)
	toConf.Links = append(toConf.Links, lc)
	slices.SortStableFunc(toConf.Links, func(a, b *linkConf) int { return a.Index - b.Index })
	confs[to] = toConf
	if lc.Kind == kindVeth {
		pc := confs[lc.PeerNS]
		if pc == nil {
			pc = cloneConf(d.netns[lc.PeerNS])
			confs[lc.PeerNS] = pc
		}
		if p := pc.link(lc.Peer); p != nil {
			p.Peer, p.PeerNS = name, to
		}
	}
	var list []*nsConf
	for _, n := range sortedKeys(confs) {
		list = append(list, confs[n])
	}
	if err := d.putConfs(list...); err != nil {
		return api.CommandResult{}, err
	}
	d.rebuildNS(sortedKeys(confs)...)
	return api.CommandResult{}, nil
}

// arrivalIndex is the index an interface moving into c gets: its own when
// free there, else a new one (dev_change_net_namespace keeps the ifindex
// unless it conflicts).
func arrivalIndex(c *nsConf, index int) int {
	top, free := 0, index > 0
	for _, l := range c.Links {
		top = max(top, l.Index)
		if l.Index == index {
			free = false
		}
	}
	if free {
		return index
	}
	return top + 1
}
