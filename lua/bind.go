package lua

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	lua "github.com/yuin/gopher-lua"

	"tapestry/controller"
	"tapestry/flow"
	"tapestry/openflow"
)

const (
	switchType = "tapestry.switch"
	packetType = "tapestry.packet"
)

func registerTypes(L *lua.LState) {
	mt := L.NewTypeMetatable(switchType)
	L.SetField(mt, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"dpid":         swDPID,
		"add_flow":     swFlow(openflow.FlowAdd),
		"modify_flows": swFlow(openflow.FlowModify),
		"delete_flows": swFlow(openflow.FlowDelete),
		"packet_out":   swPacketOut,
		"flood":        swFlood,
		"barrier":      swBarrier,
	}))
	pmt := L.NewTypeMetatable(packetType)
	L.SetField(pmt, "__index", L.NewFunction(pktIndex))
}

func checkSwitch(L *lua.LState) *controller.Switch {
	if s, ok := L.CheckUserData(1).Value.(*controller.Switch); ok {
		return s
	}
	L.ArgError(1, "switch expected")
	return nil
}

func checkPacket(L *lua.LState, n int) *controller.PacketIn {
	if p, ok := L.CheckUserData(n).Value.(*controller.PacketIn); ok {
		return p
	}
	L.ArgError(n, "packet expected")
	return nil
}

func swDPID(L *lua.LState) int {
	L.Push(lua.LString(checkSwitch(L).String()))
	return 1
}

func swFlow(cmd openflow.FlowModCommand) lua.LGFunction {
	return func(L *lua.LState) int {
		s := checkSwitch(L)
		text := L.OptString(2, "")
		if err := s.FlowText(text, cmd); err != nil && err != controller.ErrSwitchGone {
			L.RaiseError("%v", err)
		}
		return 0
	}
}

// swPacketOut is sw:packet_out(pkt, port): send a packet-in's packet out
// of port (a number, or "flood", "all", "controller", "in_port").
func swPacketOut(L *lua.LState) int {
	s, pi := checkSwitch(L), checkPacket(L, 2)
	port := portArg(L, 3)
	sendOut(L, s, pi, port)
	return 0
}

func swFlood(L *lua.LState) int {
	sendOut(L, checkSwitch(L), checkPacket(L, 2), openflow.PortFlood)
	return 0
}

func sendOut(L *lua.LState, s *controller.Switch, pi *controller.PacketIn, port uint32) {
	var data []byte
	if pi.BufferID == openflow.NoBuffer {
		data = pi.Data
	}
	err := s.OutputPacket(pi.InPort, port, data, pi.BufferID)
	if err != nil && err != controller.ErrSwitchGone {
		L.RaiseError("%v", err)
	}
}

func portArg(L *lua.LState, n int) uint32 {
	switch v := L.CheckAny(n).(type) {
	case lua.LNumber:
		return uint32(v)
	case lua.LString:
		switch v {
		case "flood":
			return openflow.PortFlood
		case "all":
			return openflow.PortAll
		case "controller":
			return openflow.PortController
		case "in_port":
			return openflow.PortInPort
		}
	}
	L.ArgError(n, "port must be a number or flood, all, controller, in_port")
	return 0
}

func swBarrier(L *lua.LState) int {
	s := checkSwitch(L)
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if err := s.Barrier(ctx); err != nil {
		L.RaiseError("%v", err)
	}
	return 0
}

func packetValue(L *lua.LState, pi *controller.PacketIn) *lua.LUserData {
	ud := L.NewUserData()
	ud.Value = pi
	L.SetMetatable(ud, L.GetTypeMetatable(packetType))
	return ud
}

// pktIndex computes packet fields on access, so that a packet-in costs
// no table building in Lua.
func pktIndex(L *lua.LState) int {
	pi := checkPacket(L, 1)
	k := &pi.Key
	var v lua.LValue = lua.LNil
	switch L.CheckString(2) {
	case "in_port":
		v = lua.LNumber(k.InPort)
	case "dl_src":
		v = lua.LString(net.HardwareAddr(k.DlSrc[:]).String())
	case "dl_dst":
		v = lua.LString(net.HardwareAddr(k.DlDst[:]).String())
	case "dl_type":
		v = lua.LNumber(k.DlType)
	case "dl_vlan":
		v = lua.LNumber(k.VlanVID())
	case "nw_src":
		v = ipValue(k, k.NwSrc)
	case "nw_dst":
		v = ipValue(k, k.NwDst)
	case "nw_proto":
		v = lua.LNumber(k.NwProto)
	case "tp_src":
		v = lua.LNumber(k.TpSrc)
	case "tp_dst":
		v = lua.LNumber(k.TpDst)
	case "len":
		v = lua.LNumber(len(pi.Data))
	case "data":
		v = lua.LString(pi.Data)
	}
	L.Push(v)
	return 1
}

func ipValue(k *flow.Key, a [4]byte) lua.LValue {
	if k.DlType != flow.EthTypeIPv4 && k.DlType != flow.EthTypeARP {
		return lua.LNil
	}
	return lua.LString(netip.AddrFrom4(a).String())
}

var reasons = [...]string{"add", "delete", "modify"}

func portValue(L *lua.LState, ps *openflow.PortStatus) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("no", lua.LNumber(ps.Port.No))
	t.RawSetString("name", lua.LString(ps.Port.Name))
	r := fmt.Sprint(ps.Reason)
	if int(ps.Reason) < len(reasons) {
		r = reasons[ps.Reason]
	}
	t.RawSetString("reason", lua.LString(r))
	t.RawSetString("down", lua.LBool(ps.Port.Config&openflow.PortDown != 0 || ps.Port.State&openflow.PortLinkDown != 0))
	return t
}

func flowRemovedValue(L *lua.LState, fr *openflow.FlowRemoved) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("cookie", lua.LNumber(fr.Cookie))
	t.RawSetString("priority", lua.LNumber(fr.Priority))
	t.RawSetString("reason", lua.LNumber(fr.Reason))
	t.RawSetString("packets", lua.LNumber(fr.Packets))
	t.RawSetString("bytes", lua.LNumber(fr.Bytes))
	return t
}
