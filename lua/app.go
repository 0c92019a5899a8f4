// Package lua runs controller apps written in Lua 5.1 (github.com/yuin/
// gopher-lua), optionally from sealed (encrypted, signed) .tlua files.
//
// An app file defines any of these functions, called one event at a time:
//
//	on_switch_up(sw)        on_switch_down(sw)
//	on_packet_in(sw, pkt)   on_port_status(sw, port)   on_flow_removed(sw, fr)
//
// sw has methods dpid(), add_flow(text), modify_flows(text),
// delete_flows(text), packet_out(pkt, port), flood(pkt), barrier(); pkt
// has fields in_port, dl_src, dl_dst, dl_type, dl_vlan, nw_src, nw_dst,
// nw_proto, tp_src, tp_dst, len and data (the frame as a string).
//
// The sandbox: only the base (without dofile, loadfile, load, loadstring,
// require, module, collectgarbage, getfenv, setfenv, newproxy), string
// (without dump; rep bounded), table and math libraries; no os, io,
// debug, package or channel. gopher-lua never loads bytecode. Limits:
// each event gets a wall-clock budget (gopher-lua checks the context at
// every VM instruction, so a loop cannot outrun it; gopher-lua has no
// instruction-count hook), a call-stack depth limit and a bounded data
// stack (registry). Heap objects (tables, strings) are not metered one
// by one: a memory-hungry app is stopped by the budget, not by a byte
// limit. An app that errors or overruns is disabled with the reason.
package lua

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"tapestry/controller"
)

// Limits of one app's Lua state.
const (
	DefaultBudget   = 100 * time.Millisecond
	callStackSize   = 200
	registrySize    = 1024 * 4
	registryMaxSize = 1024 * 64
	maxRep          = 1 << 20 // largest string string.rep may build
)

// Config says how to load app files.
type Config struct {
	Key     []byte              // for .tlua files
	Trusted []ed25519.PublicKey // if set, .tlua files must be signed by one of these
	Budget  time.Duration       // per event (default DefaultBudget)
}

// Loader returns controller.Options.LoadFile for Lua apps.
func Loader(cfg Config) func(path string) (controller.App, error) {
	return func(path string) (controller.App, error) { return Load(path, cfg) }
}

// App is a Lua app. It implements controller.App and controller.Reloader.
type App struct {
	name string
	path string
	cfg  Config

	// mu guards L (a Lua state is single-threaded), sw and budget.
	mu     sync.Mutex
	L      *lua.LState
	sw     map[*controller.Switch]*lua.LUserData
	budget eventBudget
}

// Load reads, opens (for .tlua) and compiles an app file. The app's name
// is the file name without its extension; for a sealed file it is also
// the associated data that must match.
func Load(path string, cfg Config) (*App, error) {
	if cfg.Budget <= 0 {
		cfg.Budget = DefaultBudget
	}
	a := &App{name: AppName(path), path: path, cfg: cfg}
	L, err := a.compile()
	if err != nil {
		return nil, err
	}
	a.L, a.sw = L, make(map[*controller.Switch]*lua.LUserData)
	return a, nil
}

// AppName is the app name of a file: its base name without extension.
func AppName(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// Source reads an app's source: a .tlua file is opened in memory with the
// configured key and never written anywhere.
func Source(path string, cfg Config) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lua: %w", err)
	}
	if filepath.Ext(path) != ".tlua" {
		return b, nil
	}
	if cfg.Key == nil {
		return nil, fmt.Errorf("lua: %s is sealed and no key is configured", path)
	}
	pt, err := Open(b, AppName(path), cfg.Key, cfg.Trusted)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pt, nil
}

// compile builds a fresh sandboxed state running the app's main chunk.
func (a *App) compile() (*lua.LState, error) {
	src, err := Source(a.path, a.cfg)
	if err != nil {
		return nil, err
	}
	chunk, err := parse.Parse(bytes.NewReader(src), a.name)
	clear(src) // the plaintext lives only until it is parsed
	if err != nil {
		return nil, fmt.Errorf("lua: %s: %w", a.path, err)
	}
	proto, err := lua.Compile(chunk, a.name)
	if err != nil {
		return nil, fmt.Errorf("lua: %s: %w", a.path, err)
	}
	L := newSandbox()
	registerTypes(L)
	if err := a.call(L, L.NewFunctionFromProto(proto)); err != nil {
		L.Close()
		return nil, fmt.Errorf("lua: %s: running main chunk: %w", a.path, err)
	}
	return L, nil
}

func newSandbox() *lua.LState {
	L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: callStackSize, RegistrySize: registrySize, RegistryMaxSize: registryMaxSize})
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "require", "module", "collectgarbage", "getfenv", "setfenv", "newproxy", "_printregs", "print"} {
		L.SetGlobal(name, lua.LNil)
	}
	L.SetGlobal("package", lua.LNil)
	str := L.GetGlobal("string").(*lua.LTable)
	str.RawSetString("dump", lua.LNil)
	str.RawSetString("rep", L.NewFunction(boundedRep))
	return L
}

// boundedRep is string.rep that refuses to build huge strings.
func boundedRep(L *lua.LState) int {
	s, n := L.CheckString(1), L.CheckInt(2)
	if n > 0 && len(s)*n > maxRep {
		L.RaiseError("string.rep: result of %d bytes exceeds the sandbox limit of %d", len(s)*n, maxRep)
	}
	L.Push(lua.LString(strings.Repeat(s, max(n, 0))))
	return 1
}

// call runs fn with args under the event budget.
func (a *App) call(L *lua.LState, fn lua.LValue, args ...lua.LValue) error {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Budget)
	defer cancel()
	L.SetContext(ctx)
	defer L.RemoveContext()
	err := L.CallByParam(lua.P{Fn: fn, NRet: 0, Protect: true}, args...)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("exceeded its budget of %v per event: %w", a.cfg.Budget, err)
	}
	return err
}

// eventBudget bounds each event with one context that lives as long as
// it is not cancelled: a fresh context.WithTimeout per event was a
// quarter of a packet-in's allocations. A reusable timer cancels the
// context when an event overruns; only then is a new one made.
type eventBudget struct {
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
}

// arm returns the context for the next event with the budget running.
func (b *eventBudget) arm(d time.Duration) context.Context {
	if b.ctx == nil || b.ctx.Err() != nil {
		ctx, cancel := context.WithCancel(context.Background())
		b.ctx, b.cancel = ctx, cancel
		b.timer = time.AfterFunc(d, cancel)
		return ctx
	}
	b.timer.Reset(d)
	return b.ctx
}

// disarm stops the budget after an event. A timer that already fired
// (or is firing) has cancelled, or is about to cancel, the context: it
// is dropped so that the next event never inherits the cancellation.
func (b *eventBudget) disarm() {
	if !b.timer.Stop() {
		b.cancel()
		b.ctx = nil
	}
}

// callEvent runs an event handler under the reusable budget; a.mu is
// held.
func (a *App) callEvent(fn lua.LValue, args ...lua.LValue) error {
	ctx := a.budget.arm(a.cfg.Budget)
	a.L.SetContext(ctx)
	err := a.L.CallByParam(lua.P{Fn: fn, NRet: 0, Protect: true}, args...)
	a.L.RemoveContext()
	overran := ctx.Err() != nil
	a.budget.disarm()
	if err != nil && overran {
		return fmt.Errorf("exceeded its budget of %v per event: %w", a.cfg.Budget, err)
	}
	return err
}

// Name implements controller.App.
func (a *App) Name() string { return a.name }

// Describe reports the app's kind and file for GET /apps.
func (a *App) Describe() (string, string) {
	if filepath.Ext(a.path) == ".tlua" {
		return "lua-sealed", a.path
	}
	return "lua", a.path
}

// HandleEvent implements controller.App.
func (a *App) HandleEvent(_ *controller.Controller, ev controller.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var fname string
	switch ev.Kind {
	case controller.EventSwitchUp:
		fname = "on_switch_up"
	case controller.EventSwitchDown:
		fname = "on_switch_down"
		defer delete(a.sw, ev.Switch)
	case controller.EventPacketIn:
		fname = "on_packet_in"
	case controller.EventPortStatus:
		fname = "on_port_status"
	case controller.EventFlowRemoved:
		fname = "on_flow_removed"
	default:
		return nil
	}
	fn := a.L.GetGlobal(fname)
	if fn == lua.LNil {
		return nil
	}
	args := []lua.LValue{a.switchValue(ev.Switch)}
	switch ev.Kind {
	case controller.EventPacketIn:
		args = append(args, packetValue(a.L, ev.PacketIn))
	case controller.EventPortStatus:
		args = append(args, portValue(a.L, ev.PortStatus))
	case controller.EventFlowRemoved:
		args = append(args, flowRemovedValue(a.L, ev.FlowRemoved))
	}
	if err := a.callEvent(fn, args...); err != nil {
		return fmt.Errorf("lua app %s: %s: %w", a.name, fname, err)
	}
	return nil
}

func (a *App) switchValue(s *controller.Switch) *lua.LUserData {
	if ud, ok := a.sw[s]; ok {
		return ud
	}
	ud := a.L.NewUserData()
	ud.Value = s
	a.L.SetMetatable(ud, a.L.GetTypeMetatable(switchType))
	a.sw[s] = ud
	return ud
}

// Reload implements controller.Reloader: the file is read and compiled
// again; if that fails the old code keeps running.
func (a *App) Reload(c *controller.Controller) error {
	L, err := a.compile()
	if err != nil {
		return err
	}
	a.mu.Lock()
	old := a.L
	a.L, a.sw = L, make(map[*controller.Switch]*lua.LUserData)
	a.mu.Unlock()
	old.Close()
	return nil
}

// Stop implements controller.Starter.
func (a *App) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.budget.cancel != nil {
		a.budget.timer.Stop()
		a.budget.cancel()
	}
	a.L.Close()
}

// Start implements controller.Starter.
func (a *App) Start(*controller.Controller) error { return nil }
