package ofproto

import (
	"fmt"

	"tapestry/openflow"
)

// validateNXAction checks the actions of xlate_nx.go as a flow mod arrives:
// clone's nested list holds plain actions only (no instructions), and the
// registers read or written are real bit ranges of fields that may be read
// or written.
func validateNXAction(a *openflow.Action) error {
	switch a.Type {
	case openflow.ActClone:
		return validateActions(a.Nested, true)
	case openflow.ActOutputReg:
		return validateSubfield(a.Src, false)
	case openflow.ActMultipath:
		m := a.Multipath()
		if err := validateSubfield(m.Dst, true); err != nil {
			return err
		}
		if m.NLinks == 0 || m.NLinks > 65536 || m.Dst.NBits < 32 && m.NLinks > 1<<m.Dst.NBits {
			return fmt.Errorf("%w: multipath of %d links into %d bits", ErrBadArgument, m.NLinks, m.Dst.NBits)
		}
	case openflow.ActCT:
		return validateCT(a) // ct.go
	case openflow.ActBundleLoad:
		if err := validateSubfield(a.Dst, true); err != nil {
			return err
		}
		fallthrough
	case openflow.ActBundle:
		for i := range a.BundleMembers() {
			if p := a.BundleMember(i); p == 0 || p >= openflow.PortMax && p != openflow.PortLocal {
				return fmt.Errorf("%w: bundle member 0x%x", ErrBadOutPort, p)
			}
		}
	}
	return nil
}
