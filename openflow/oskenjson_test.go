package openflow

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// osKenClass maps os-ken's message class names to our message types.
var osKenClass = map[string]Type{
	"OFPHello": TypeHello, "OFPErrorMsg": TypeError, "OFPEchoRequest": TypeEchoRequest,
	"OFPEchoReply": TypeEchoReply, "OFPExperimenter": TypeExperimenter, "OFPVendor": TypeExperimenter,
	"OFPFeaturesRequest": TypeFeaturesRequest, "OFPSwitchFeatures": TypeFeaturesReply,
	"OFPGetConfigRequest": TypeGetConfigRequest, "OFPGetConfigReply": TypeGetConfigReply,
	"OFPSetConfig": TypeSetConfig, "OFPPacketIn": TypePacketIn, "OFPFlowRemoved": TypeFlowRemoved,
	"OFPPortStatus": TypePortStatus, "OFPPacketOut": TypePacketOut, "OFPFlowMod": TypeFlowMod,
	"OFPGroupMod": TypeGroupMod, "OFPPortMod": TypePortMod, "OFPTableMod": TypeTableMod,
	"OFPBarrierRequest": TypeBarrierRequest, "OFPBarrierReply": TypeBarrierReply,
	"OFPQueueGetConfigRequest": TypeQueueGetConfigRequest, "OFPQueueGetConfigReply": TypeQueueGetConfigReply,
	"OFPRoleRequest": TypeRoleRequest, "OFPRoleReply": TypeRoleReply,
	"OFPGetAsyncRequest": TypeGetAsyncRequest, "OFPGetAsyncReply": TypeGetAsyncReply,
	"OFPSetAsync": TypeSetAsync, "OFPMeterMod": TypeMeterMod,
}

// osKenFields renders the scalar fields os-ken's JSON shows at the top level
// of a message, from our decoded value, as decimal strings.
func osKenFields(m Message) map[string]any {
	switch m := m.(type) {
	case *FlowMod:
		return map[string]any{"cookie": m.Cookie, "cookie_mask": m.CookieMask, "priority": m.Priority,
			"idle_timeout": m.IdleTimeout, "hard_timeout": m.HardTimeout, "buffer_id": m.BufferID,
			"command": m.Command, "flags": m.Flags, "out_group": m.OutGroup, "table_id": m.Table}
	case *PacketIn:
		return map[string]any{"buffer_id": m.BufferID, "total_len": m.TotalLen, "reason": m.Reason,
			"table_id": m.Table, "cookie": m.Cookie}
	case *PacketOut:
		return map[string]any{"buffer_id": m.BufferID, "in_port": m.InPort}
	case *FlowRemoved:
		return map[string]any{"cookie": m.Cookie, "priority": m.Priority, "reason": m.Reason,
			"table_id": m.Table, "idle_timeout": m.IdleTimeout, "hard_timeout": m.HardTimeout,
			"packet_count": m.Packets, "byte_count": m.Bytes,
			"duration_sec": uint64(m.Duration.Seconds()), "duration_nsec": m.Duration.Nanoseconds() % 1e9}
	case *FeaturesReply:
		return map[string]any{"datapath_id": m.DatapathID, "n_buffers": m.Buffers, "n_tables": m.Tables,
			"auxiliary_id": m.AuxiliaryID, "capabilities": m.Capabilities}
	case *SwitchConfig:
		return map[string]any{"flags": m.Flags, "miss_send_len": m.MissSendLen}
	case *Role:
		return map[string]any{"role": m.Role, "generation_id": m.GenerationID}
	case *Error:
		return map[string]any{"type": m.ErrType, "code": m.Code}
	case *PortMod:
		return map[string]any{"port_no": m.Port, "config": m.Config, "mask": m.Mask, "advertise": m.Advertise}
	case *GroupMod:
		return map[string]any{"command": m.Command, "type": m.GroupType, "group_id": m.ID}
	case *MeterMod:
		return map[string]any{"command": m.Command, "flags": m.Flags, "meter_id": m.Meter}
	case *TableMod:
		return map[string]any{"table_id": m.Table, "config": m.Config}
	case *PortStatus:
		return map[string]any{"reason": m.Reason}
	case *MultipartRequest:
		return map[string]any{"flags": m.Flags}
	case *MultipartReply:
		return map[string]any{"flags": m.Flags}
	}
	return nil
}

// checkOsKenJSON compares our decoding with os-ken's JSON: the message
// class and every top-level scalar field both sides know.
func checkOsKenJSON(t *testing.T, dir, name string, m Message) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(osKenDir, "json", dir, name+".json"))
	if err != nil {
		return // libofproto vectors have no JSON
	}
	var doc map[string]map[string]any
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for class, body := range doc {
		if want, ok := osKenClass[class]; ok && want != m.Type() {
			t.Errorf("os-ken class %s, we decoded %v", class, m.Type())
		}
		if strings.HasSuffix(class, "StatsRequest") || strings.HasSuffix(class, "DescRequest") || strings.HasSuffix(class, "FeaturesRequest") && class != "OFPFeaturesRequest" {
			if m.Type() != TypeMultipartRequest {
				t.Errorf("os-ken class %s, we decoded %v", class, m.Type())
			}
		}
		ours := osKenFields(m)
		for k, v := range body {
			num, ok := v.(json.Number)
			if !ok {
				continue
			}
			o, ok := ours[k]
			if p, isU32 := o.(uint32); isU32 && dir == "of10" && strings.Contains(k, "port") && p >= 0xffff0000 {
				o = p & 0xffff // OpenFlow 1.0 ports are 16 bits; ours are widened
			}
			if ok && fmt.Sprint(o) != num.String() {
				t.Errorf("%s.%s = %v, os-ken says %s", class, k, o, num)
			}
		}
	}
}
