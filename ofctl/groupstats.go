package ofctl

import (
	"strconv"
	"time"

	"tapestry/openflow"
)

// FormatGroupStats prints one dump-group-stats line as ovs-ofctl 3.1 does,
// without the leading space: "group_id=1,duration=1.234s,ref_count=2,
// packet_count=0,byte_count=0,bucket0:packet_count=0,byte_count=0".
func FormatGroupStats(gs *openflow.GroupStats) string {
	return string(AppendGroupStats(nil, gs))
}

// AppendGroupStats is FormatGroupStats appending to b.
func AppendGroupStats(b []byte, gs *openflow.GroupStats) []byte {
	b = appendNum(b, "group_id=", uint64(gs.ID))
	// Duration is OpenFlow's duration_sec<<32 | duration_nsec.
	d := time.Duration(gs.Duration>>32)*time.Second + time.Duration(gs.Duration&0xffffffff)
	b = appendDuration(append(b, ",duration="...), d)
	b = appendNum(b, ",ref_count=", uint64(gs.RefCount))
	b = appendNum(b, ",packet_count=", gs.Packets)
	b = appendNum(b, ",byte_count=", gs.Bytes)
	for i, bc := range gs.Buckets {
		b = strconv.AppendUint(append(b, ",bucket"...), uint64(i), 10)
		b = appendNum(b, ":packet_count=", bc[0])
		b = appendNum(b, ",byte_count=", bc[1])
	}
	return b
}

// groupActionNames are the action names dump-group-features lists, in the
// order Open vSwitch prints them, with the OpenFlow 1.3 action type
// (OFPAT_*, the bit of the features' actions bitmap) each stands for.
var groupActionNames = [...]struct {
	name string
	bit  uint
}{
	{"output", 0}, {"group", 22}, {"set_field", 25}, {"strip_vlan", 18}, {"push_vlan", 17},
	{"mod_nw_ttl", 23}, {"dec_ttl", 24}, {"set_mpls_ttl", 15}, {"dec_mpls_ttl", 16},
	{"push_mpls", 19}, {"pop_mpls", 20}, {"set_queue", 21},
}

// groupFeatureTypes names the group types in the order of
// GroupFeatures.MaxGroups and Actions, as dump-group-features prints them.
var groupFeatureTypes = [...]string{"all", "select", "indirect", "fast failover"}

// FormatGroupFeatures prints the body of a dump-group-features reply as
// ovs-ofctl 3.1 does for OpenFlow 1.3 (the lines after the
// "OFPST_GROUP_FEATURES reply" header, each ending in a newline). Open
// vSwitch prints types and capabilities as hexadecimal bitmaps; a group
// type whose bit is not set in Types is left out.
func FormatGroupFeatures(gf *openflow.GroupFeatures) string {
	b := []byte(" Group table:\n    Types:  0x")
	b = strconv.AppendUint(b, uint64(gf.Types), 16)
	b = append(b, "\n    Capabilities:  0x"...)
	b = strconv.AppendUint(b, uint64(gf.Capabilities), 16)
	b = append(b, '\n')
	for i, name := range groupFeatureTypes {
		if gf.Types&(1<<i) == 0 {
			continue
		}
		b = append(append(append(b, "    "...), name...), " group:\n       max_groups=0x"...)
		b = strconv.AppendUint(b, uint64(gf.MaxGroups[i]), 16)
		b = append(b, "\n       actions:"...)
		for _, a := range groupActionNames {
			if gf.Actions[i]&(1<<a.bit) != 0 {
				b = append(append(b, ' '), a.name...)
			}
		}
		b = append(b, '\n')
	}
	return string(b)
}
