package conntrack

import "unsafe"

// A connection's two hnodes are the first field of its Conn, so the
// connection a node belongs to is found from the node's own address (the
// kernel's nf_ct_tuplehash_to_ctrack, a container_of). This saves a
// pointer per node: 16 bytes a connection and two pointers less for the
// garbage collector to scan.

// The conversion below relies on this layout.
var _ = [1]struct{}{}[unsafe.Offsetof(Conn{}.nodes)]

// conn returns the connection n is a node of.
func (n *hnode) conn() *Conn {
	return (*Conn)(unsafe.Add(unsafe.Pointer(n), -int(n.dir)*int(unsafe.Sizeof(hnode{}))))
}
