package controller

import (
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tapestry/openflow"
)

// EventKind says what happened.
type EventKind uint8

// Event kinds.
const (
	EventSwitchUp EventKind = iota + 1
	EventSwitchDown
	EventPortStatus
	EventPacketIn
	EventFlowRemoved
)

var eventNames = [...]string{
	EventSwitchUp: "switch_up", EventSwitchDown: "switch_down", EventPortStatus: "port_status",
	EventPacketIn: "packet_in", EventFlowRemoved: "flow_removed",
}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is one thing a switch did. Only the field its Kind names is set.
type Event struct {
	Kind        EventKind
	Switch      *Switch
	PacketIn    *PacketIn
	PortStatus  *openflow.PortStatus
	FlowRemoved *openflow.FlowRemoved
}

// App is a controller application. HandleEvent runs on the app's own
// goroutine, one event at a time; an error or a panic disables the app.
type App interface {
	Name() string
	HandleEvent(c *Controller, ev Event) error
}

// Starter is an App that wants to know when it is loaded (before any
// event) and unloaded.
type Starter interface {
	Start(c *Controller) error
	Stop()
}

// Reloader is an App that can reload its configuration or code (SIGHUP,
// Controller.Reload).
type Reloader interface {
	Reload(c *Controller) error
}

// appQueue is how many events an app may fall behind before events are
// dropped (and counted) rather than stall the switch connections.
const appQueue = 4096

// appStall is how long dispatch waits for room in a full app queue. It
// stays well below the Lua event budget (100 ms): an app whose handler
// waits for a reply from the switch (a barrier) needs the read loop to
// move on and deliver it.
const appStall = 50 * time.Millisecond

// appRunner isolates one app: its queue, its goroutine, its fate.
type appRunner struct {
	app     App
	c       *Controller
	queue   chan Event
	quit    chan struct{}
	stopped sync.Once
	loaded  time.Time

	handled  atomic.Uint64
	dropped  atomic.Uint64
	disabled atomic.Bool
	// reasonMu guards reason.
	reasonMu sync.Mutex
	reason   string
}

// AppInfo describes a loaded app for the REST API.
type AppInfo struct {
	Name     string    `json:"name"`
	Enabled  bool      `json:"enabled"`
	Reason   string    `json:"reason,omitempty"`
	Handled  uint64    `json:"events_handled"`
	Dropped  uint64    `json:"events_dropped"`
	Loaded   time.Time `json:"loaded"`
	Kind     string    `json:"kind"`
	Location string    `json:"location,omitempty"`
}

func (r *appRunner) run() {
	for {
		select {
		case <-r.quit:
			return
		case ev := <-r.queue:
			if r.disabled.Load() {
				continue
			}
			if err := r.handle(ev); err != nil {
				r.disable(err.Error())
			}
			r.handled.Add(1)
		}
	}
}

// handle calls the app, turning a panic into the reason it is disabled.
// The panic is not swallowed: the app stops for good.
func (r *appRunner) handle(ev Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return r.app.HandleEvent(r.c, ev)
}

func (r *appRunner) disable(reason string) {
	r.reasonMu.Lock()
	r.reason = reason
	r.reasonMu.Unlock()
	if !r.disabled.Swap(true) {
		first, _, _ := strings.Cut(reason, "\n")
		r.c.log.Error("app disabled", "app", r.app.Name(), "reason", first)
		r.c.events.publish(Notice{Kind: "app_disabled", App: r.app.Name(), Reason: first})
	}
}

func (r *appRunner) stop() {
	r.stopped.Do(func() {
		close(r.quit)
		if st, ok := r.app.(Starter); ok {
			st.Stop()
		}
	})
}

func (r *appRunner) info() AppInfo {
	r.reasonMu.Lock()
	defer r.reasonMu.Unlock()
	kind, loc := "go", ""
	if d, ok := r.app.(interface{ Describe() (string, string) }); ok {
		kind, loc = d.Describe()
	}
	return AppInfo{Name: r.app.Name(), Enabled: !r.disabled.Load(), Reason: r.reason, Handled: r.handled.Load(),
		Dropped: r.dropped.Load(), Loaded: r.loaded, Kind: kind, Location: loc}
}

// dispatch queues ev for every enabled app and tells REST watchers.
func (c *Controller) dispatch(ev Event) {
	c.mu.Lock()
	apps := c.apps
	c.mu.Unlock()
	for _, r := range apps {
		if r.disabled.Load() {
			continue
		}
		select {
		case r.queue <- ev:
		default:
			r.enqueueSlow(ev)
		}
	}
	if ev.Kind != EventPacketIn {
		c.events.publish(noticeOf(ev))
	} else {
		c.events.packetIn()
	}
}

// enqueueSlow waits for room in a full queue. Waiting pushes back on the
// switch connection (the read loop stops, TCP's window closes and the
// switch queues or drops, as Open vSwitch does with its packet-in
// queues), which loses fewer packet-ins under a burst than dropping at
// once; an app that makes no room for appStall is stuck (or waits on this
// very connection), and its events are dropped (and counted) so that the other apps go on.
func (r *appRunner) enqueueSlow(ev Event) {
	t := time.NewTimer(appStall)
	defer t.Stop()
	select {
	case r.queue <- ev:
	case <-t.C:
		r.dropped.Add(1)
	case <-r.quit:
	}
}

// AddApp starts app; names are unique.
func (c *Controller) AddApp(app App) error {
	r := &appRunner{app: app, c: c, queue: make(chan Event, appQueue), quit: make(chan struct{}), loaded: time.Now()}
	c.mu.Lock()
	for _, o := range c.apps {
		if o.app.Name() == app.Name() {
			c.mu.Unlock()
			return fmt.Errorf("controller: app %q is already loaded", app.Name())
		}
	}
	c.mu.Unlock()
	if st, ok := app.(Starter); ok {
		if err := st.Start(c); err != nil {
			return fmt.Errorf("controller: starting app %q: %w", app.Name(), err)
		}
	}
	c.mu.Lock()
	c.apps = append(c.apps, r)
	sws := make([]*Switch, 0, len(c.switches))
	for _, s := range c.switches {
		sws = append(sws, s)
	}
	c.mu.Unlock()
	go r.run()
	// An app loaded late sees the switches already up, as if they had
	// just connected.
	for _, s := range sws {
		r.queue <- Event{Kind: EventSwitchUp, Switch: s}
	}
	c.log.Info("app loaded", "app", app.Name())
	return nil
}

// LoadApp loads a built-in app by name or an app file by path (through
// Options.LoadFile) and returns its name.
func (c *Controller) LoadApp(nameOrPath string) (string, error) {
	app, err := c.newApp(nameOrPath)
	if err != nil {
		return "", err
	}
	return app.Name(), c.AddApp(app)
}

func (c *Controller) newApp(s string) (App, error) {
	switch s {
	case "l2-learning":
		return NewL2Learning(), nil
	case "static":
		return NewStatic(c.opts.StaticFile), nil
	case "topology":
		return NewTopology(0), nil
	}
	if strings.ContainsAny(s, "/.") {
		if c.opts.LoadFile == nil {
			return nil, fmt.Errorf("controller: cannot load %q: no file loader configured", s)
		}
		return c.opts.LoadFile(s)
	}
	return nil, fmt.Errorf("controller: unknown app %q (built-in: l2-learning, static, topology)", s)
}

// UnloadApp stops and removes the app called name.
func (c *Controller) UnloadApp(name string) error {
	c.mu.Lock()
	for i, r := range c.apps {
		if r.app.Name() == name {
			c.apps = append(c.apps[:i:i], c.apps[i+1:]...)
			c.mu.Unlock()
			r.stop()
			c.log.Info("app unloaded", "app", name)
			return nil
		}
	}
	c.mu.Unlock()
	return fmt.Errorf("controller: no app %q", name)
}

// App returns the loaded app called name.
func (c *Controller) App(name string) (App, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.apps {
		if r.app.Name() == name {
			return r.app, true
		}
	}
	return nil, false
}

// Apps describes the loaded apps in load order.
func (c *Controller) Apps() []AppInfo {
	c.mu.Lock()
	apps := c.apps
	c.mu.Unlock()
	out := make([]AppInfo, 0, len(apps))
	for _, r := range apps {
		out = append(out, r.info())
	}
	return out
}

// Reload asks every Reloader app to reload; one failing does not stop the
// others (it is logged).
func (c *Controller) Reload() {
	c.mu.Lock()
	apps := c.apps
	c.mu.Unlock()
	for _, r := range apps {
		rl, ok := r.app.(Reloader)
		if !ok || r.disabled.Load() {
			continue
		}
		if err := rl.Reload(c); err != nil {
			c.log.Error("app reload failed", "app", r.app.Name(), "err", err)
		}
	}
}
