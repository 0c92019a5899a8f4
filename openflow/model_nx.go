package openflow

import (
	"encoding/binary"

	"tapestry/flow"
)

// Nicira actions beyond model.go's list (ovs-actions(7)). Action's fields
// are fixed (other packages build against them), so the arguments these
// actions have and model.go has no field for are packed into the existing
// fields by the constructors and accessors below; use those, never the raw
// fields, to build or read these actions.
//
//   - ActOutputReg: Src is the port's subfield, MaxLen the packet-in length
//     when that port is the controller (0xffff unless the wire said otherwise).
//   - ActClone: Nested are the actions run on a copy of the packet.
//   - ActDecTTL with a non-empty Note is dec_ttl(id,...): Note holds the
//     controller ids, two bytes each, big-endian (see DecTTLIDs).
//   - ActMultipath: see Multipath.
//   - ActBundle, ActBundleLoad: see Bundle.
//
// The values sit far above model.go's iota range and ActPopQueue (200) so
// that the two lists never collide.
const (
	ActOutputReg  ActionType = 220 + iota // output:SRC[..]: Src, MaxLen
	ActClone                              // clone(Nested)
	ActMultipath                          // multipath(...): Multipath()
	ActBundle                             // bundle(...): Bundle()
	ActBundleLoad                         // bundle_load(...): Bundle()
)

// OutputReg returns output:SRC, the port number read from src.
func OutputReg(src flow.Subfield) Action {
	return Action{Type: ActOutputReg, Src: src, MaxLen: ControllerMaxLen}
}

// DecTTLIDs returns dec_ttl(ids...): on TTL expiry a packet-in of reason
// invalid_ttl goes to each controller id. With no ids it is plain dec_ttl.
func DecTTLIDs(ids ...uint16) Action {
	a := Action{Type: ActDecTTL}
	if len(ids) > 0 {
		a.Note = make([]byte, 2*len(ids))
		for i, id := range ids {
			binary.BigEndian.PutUint16(a.Note[2*i:], id)
		}
	}
	return a
}

// ControllerIDs returns the controller ids of dec_ttl(ids...), nil for plain
// dec_ttl.
func (a *Action) ControllerIDs() []uint16 {
	if a.Type != ActDecTTL || len(a.Note) < 2 {
		return nil
	}
	ids := make([]uint16, len(a.Note)/2)
	for i := range ids {
		ids[i] = binary.BigEndian.Uint16(a.Note[2*i:])
	}
	return ids
}

// HashFields names what multipath and bundle hash (enum nx_hash_fields).
type HashFields uint8

// Hash field sets; the values are the wire values.
const (
	HashEthSrc           HashFields = 0 // eth_src
	HashSymmetricL4      HashFields = 1 // symmetric_l4
	HashSymmetricL3L4    HashFields = 2 // symmetric_l3l4
	HashSymmetricL3L4UDP HashFields = 3 // symmetric_l3l4+udp
	HashNwSrc            HashFields = 4 // nw_src
	HashNwDst            HashFields = 5 // nw_dst
	HashSymmetricL3      HashFields = 6 // symmetric_l3
)

var hashFieldNames = [...]string{"eth_src", "symmetric_l4", "symmetric_l3l4", "symmetric_l3l4+udp", "nw_src", "nw_dst", "symmetric_l3"}

// String is the name ovs-ofctl uses.
func (h HashFields) String() string {
	if int(h) < len(hashFieldNames) {
		return hashFieldNames[h]
	}
	return "<unknown>"
}

// HashFieldsByName looks a field set up by its ovs-ofctl name.
func HashFieldsByName(s string) (HashFields, bool) {
	for i, n := range hashFieldNames {
		if n == s {
			return HashFields(i), true
		}
	}
	return 0, false
}

// MultipathAlgorithm is enum nx_mp_algorithm.
type MultipathAlgorithm uint8

// Multipath algorithms; the values are the wire values.
const (
	MultipathModuloN       MultipathAlgorithm = 0
	MultipathHashThreshold MultipathAlgorithm = 1
	MultipathHRW           MultipathAlgorithm = 2
	MultipathIterHash      MultipathAlgorithm = 3
)

var multipathNames = [...]string{"modulo_n", "hash_threshold", "hrw", "iter_hash"}

// String is the name ovs-ofctl uses.
func (m MultipathAlgorithm) String() string {
	if int(m) < len(multipathNames) {
		return multipathNames[m]
	}
	return "<unknown>"
}

// MultipathAlgorithmByName looks an algorithm up by its ovs-ofctl name.
func MultipathAlgorithmByName(s string) (MultipathAlgorithm, bool) {
	for i, n := range multipathNames {
		if n == s {
			return MultipathAlgorithm(i), true
		}
	}
	return 0, false
}

// Multipath is multipath(fields,basis,algorithm,n_links,arg,dst): hash
// Fields with Basis, pick a link 0..NLinks-1 by Algorithm (Arg tunes
// iter_hash) and store it in Dst.
type Multipath struct {
	Fields    HashFields
	Basis     uint16
	Algorithm MultipathAlgorithm
	NLinks    uint32 // 1..65536
	Arg       uint32
	Dst       flow.Subfield
}

// Action packs m: Reason=Fields, ID=Basis, Table=Algorithm,
// MaxLen=NLinks-1, Queue=Arg, Dst=Dst.
func (m Multipath) Action() Action {
	return Action{Type: ActMultipath, Reason: uint8(m.Fields), ID: m.Basis, Table: uint8(m.Algorithm),
		MaxLen: uint16(m.NLinks - 1), Queue: m.Arg, Dst: m.Dst}
}

// Multipath unpacks an ActMultipath action.
func (a *Action) Multipath() Multipath {
	return Multipath{Fields: HashFields(a.Reason), Basis: a.ID, Algorithm: MultipathAlgorithm(a.Table),
		NLinks: uint32(a.MaxLen) + 1, Arg: a.Queue, Dst: a.Dst}
}

// BundleAlgorithm is enum nx_bd_algorithm.
type BundleAlgorithm uint8

// Bundle algorithms; the values are the wire values.
const (
	BundleActiveBackup BundleAlgorithm = 0
	BundleHRW          BundleAlgorithm = 1
)

// String is the name ovs-ofctl uses.
func (b BundleAlgorithm) String() string {
	switch b {
	case BundleActiveBackup:
		return "active_backup"
	case BundleHRW:
		return "hrw"
	}
	return "<unknown>"
}

// Bundle is bundle(fields,basis,algorithm,ofport,members:...) and, with
// Load, bundle_load(...,dst,members:...): pick one usable member port and
// output to it (bundle) or store its number in Dst (bundle_load).
type Bundle struct {
	Load      bool
	Fields    HashFields
	Basis     uint16
	Algorithm BundleAlgorithm
	Dst       flow.Subfield // bundle_load only
	Members   []uint32
}

// Action packs b: Reason=Fields, ID=Basis, Table=Algorithm, Dst=Dst, and
// the members in Note, four bytes each, big-endian.
func (b Bundle) Action() Action {
	a := Action{Type: ActBundle, Reason: uint8(b.Fields), ID: b.Basis, Table: uint8(b.Algorithm)}
	if b.Load {
		a.Type, a.Dst = ActBundleLoad, b.Dst
	}
	a.Note = make([]byte, 4*len(b.Members))
	for i, p := range b.Members {
		binary.BigEndian.PutUint32(a.Note[4*i:], p)
	}
	return a
}

// Bundle unpacks an ActBundle or ActBundleLoad action.
func (a *Action) Bundle() Bundle {
	b := Bundle{Load: a.Type == ActBundleLoad, Fields: HashFields(a.Reason), Basis: a.ID,
		Algorithm: BundleAlgorithm(a.Table), Dst: a.Dst}
	b.Members = make([]uint32, len(a.Note)/4)
	for i := range b.Members {
		b.Members[i] = a.BundleMember(i)
	}
	return b
}

// BundleMembers is the number of members of a bundle action.
func (a *Action) BundleMembers() int { return len(a.Note) / 4 }

// BundleMember returns member i of a bundle action without allocating.
func (a *Action) BundleMember(i int) uint32 { return binary.BigEndian.Uint32(a.Note[4*i:]) }
