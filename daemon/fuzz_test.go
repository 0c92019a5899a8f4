package daemon

import (
	"context"
	"strings"
	"testing"

	"tapestry/api"
)

// FuzzVsctl sends arbitrary commands to a daemon: it must never panic, and
// whatever it accepted must survive a restart unchanged (the store always
// holds what the daemon shows).
func FuzzVsctl(f *testing.F) {
	f.Add("add-br", "br0", "", "", "", "")
	f.Add("add-port", "br0", "p1", "tag", "", "10")
	f.Add("set", "interface", "p1", "ofport_request", "", "7")
	f.Add("set", "bridge", "br0", "other-config", "datapath-id", "00000000000000ab")
	f.Add("set", "port", "p1", "trunks", "", "[1,2,4095]")
	f.Add("clear", "port", "p1", "tag", "", "")
	f.Add("del-port", "p1", "", "", "", "")
	f.Fuzz(func(t *testing.T, name, a0, a1, col, key, val string) {
		dir := t.TempDir()
		d := newTestDaemon(t, dir, &MemDevices{})
		vsctl(t, d, cmd("add-br", "br0"), cmd("add-port", "br0", "p1"))
		var args []string
		for _, a := range []string{a0, a1} {
			if a != "" {
				args = append(args, a)
			}
		}
		c := api.Command{Name: name, Args: args}
		if col != "" {
			c.Settings = []api.Setting{{Column: col, Key: key, Value: val}}
		}
		if name == "clear" && col != "" {
			c.Args, c.Settings = append(c.Args, col), nil
		}
		d.Vsctl(context.Background(), api.VsctlRequest{Commands: []api.Command{c}})
		before := show(t, d)
		d.Close()
		d2 := newTestDaemon(t, dir, &MemDevices{})
		if after := show(t, d2); after != before {
			t.Fatalf("after %+v, restart changed show:\n%s\nwas\n%s", c, after, before)
		}
	})
}

// FuzzFlowMods sends arbitrary flow text: never a panic, and the flows a
// restart restores are exactly those the daemon showed.
func FuzzFlowMods(f *testing.F) {
	f.Add("add", "in_port=1,actions=output:2\nip,nw_dst=10.0.0.0/8,actions=NORMAL")
	f.Add("delete", "in_port=1")
	f.Add("modify-strict", "priority=0,actions=drop")
	f.Add("replace", "table=1,tcp,tp_dst=80,actions=goto_table:2")
	f.Add("add", "cookie=0x5,idle_timeout=10,arp,actions=controller")
	f.Fuzz(func(t *testing.T, command, body string) {
		if strings.Count(body, "\n") > 50 {
			return
		}
		dir := t.TempDir()
		d := newTestDaemon(t, dir, &MemDevices{})
		vsctl(t, d, cmd("add-br", "br0"), cmd("add-port", "br0", "p1"), cmd("add-port", "br0", "p2"))
		req, err := api.DecodeFlowModRequest(command, []byte(body))
		if err != nil {
			return
		}
		d.FlowMods(context.Background(), "br0", "", req)
		ns := api.DumpFlowsRequest{NoStats: true}
		before := sortLines(dumpFlows(t, d, "br0", ns))
		d.Close()
		d2 := newTestDaemon(t, dir, &MemDevices{})
		after := sortLines(dumpFlows(t, d2, "br0", ns))
		if strings.Join(before, "\n") != strings.Join(after, "\n") {
			t.Fatalf("%s %q: restart changed flows:\n%s\nwas\n%s", command, body, strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
	})
}
