// Package controller is tapestry's SDN controller: the controller side of
// OpenFlow 1.0 and 1.3 for many switches at once (tapestry bridges or Open
// vSwitch), a small event API for apps written in Go (and in Lua, through
// package lua), built-in apps (l2-learning, static, topology) and a REST
// northbound API described by an OpenAPI 3 document.
//
// Each app runs in its own goroutine with its own event queue: an app that
// panics, returns an error or falls behind is disabled (or loses events)
// with a logged reason, and the controller and the other apps go on.
package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"tapestry/openflow"
)

// Options configure a controller.
type Options struct {
	// Listen is the OpenFlow listener, "tcp:IP:PORT" or "IP:PORT"
	// (default tcp:127.0.0.1:6653).
	Listen string
	// REST is the northbound HTTP listener address ("" for none).
	REST string
	// Token is the bearer token for state-changing REST calls. Empty:
	// Run generates one and logs it.
	Token string
	// Apps are started at once, by name (built-in) or file path.
	Apps []string
	// StaticFile is the YAML file of the static app.
	StaticFile string
	// LoadFile loads an app from a file path (package lua provides one
	// for .lua and .tlua files). Nil: only built-in apps.
	LoadFile func(path string) (App, error)
	// EchoInterval is the keepalive period (default 5s).
	EchoInterval time.Duration
	// HandshakeTimeout bounds connection setup (default 10s).
	HandshakeTimeout time.Duration
	// NoRole skips the 1.3 role request (become master).
	NoRole bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Controller serves OpenFlow switches and runs apps.
type Controller struct {
	opts Options
	log  *slog.Logger

	// mu guards switches and apps.
	mu       sync.Mutex
	switches map[uint64]*Switch
	apps     []*appRunner

	packetIns atomic.Uint64
	roleGen   atomic.Uint64
	events    hub
}

// New returns a controller; call Serve or ListenAndServe to accept
// switches.
func New(opts Options) *Controller {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.EchoInterval == 0 {
		opts.EchoInterval = 5 * time.Second
	}
	if opts.HandshakeTimeout == 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	c := &Controller{opts: opts, log: opts.Logger, switches: make(map[uint64]*Switch)}
	c.events.subs = make(map[chan Notice]struct{})
	c.roleGen.Store(uint64(time.Now().UnixNano()))
	return c
}

// Run is the `tapestry controller` command: it starts the OpenFlow
// listener, the REST API and the apps, reloads apps on SIGHUP, and
// returns when ctx ends.
func Run(ctx context.Context, opts Options) error {
	if opts.Token == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		opts.Token = hex.EncodeToString(b[:])
		opts.Logger = cmpLogger(opts.Logger)
		opts.Logger.Info("generated REST bearer token", "token", opts.Token)
	}
	c := New(opts)
	for _, a := range opts.Apps {
		// One bad app (a sealed file with the wrong key, a syntax error)
		// must not take the network down: the others still serve.
		if _, err := c.LoadApp(a); err != nil {
			c.log.Error("app not loaded", "app", a, "err", err)
		}
	}
	ln, err := net.Listen("tcp", ListenAddr(opts.Listen))
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	c.log.Info("listening for switches", "addr", ln.Addr())
	errc := make(chan error, 2)
	go func() { errc <- c.Serve(ctx, ln) }()
	if opts.REST != "" {
		srv := &http.Server{Addr: opts.REST, Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- srv.ListenAndServe() }()
		defer srv.Close()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			c.Close()
			return nil
		case err := <-errc:
			c.Close()
			return err
		case <-hup:
			c.Reload()
		}
	}
}

func cmpLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// ListenAddr turns "tcp:IP:PORT" (ovs-vsctl's ptcp syntax without the p)
// or "IP:PORT" into a dial address; "" is 127.0.0.1:6653.
func ListenAddr(s string) string {
	if s == "" {
		return "127.0.0.1:6653"
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "ptcp:"), "tcp:")
	if !strings.Contains(s, ":") {
		return "127.0.0.1:" + s
	}
	return s
}

// Serve accepts switches on ln until ctx ends or ln fails.
func (c *Controller) Serve(ctx context.Context, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("controller: accept: %w", err)
		}
		go c.ServeConn(conn)
	}
}

// ServeConn runs one switch connection to its end.
func (c *Controller) ServeConn(conn net.Conn) {
	s := newSwitch(c, conn)
	defer s.Close()
	buf := make([]byte, maxMessage)
	if err := s.handshake(buf, c.opts.HandshakeTimeout); err != nil {
		s.log.Warn("handshake failed", "err", err)
		return
	}
	s.Connected = time.Now()
	s.log = s.log.With("dpid", s.String())
	_, _ = s.Send(&openflow.SwitchConfig{IsSet: true, MissSendLen: openflow.ControllerMaxLen})
	if s.Version == openflow.Version13 && !c.opts.NoRole {
		_, _ = s.Send(&openflow.Role{Role: openflow.RoleMaster, GenerationID: c.roleGen.Add(1)})
	}
	c.register(s)
	go s.keepalive(c.opts.EchoInterval)
	err := s.readLoop(buf)
	s.Close()
	if c.unregister(s) {
		s.log.Info("switch down", "err", err)
	}
}

// register adds s, replacing (and closing) an older connection with the
// same datapath id: a switch that reconnects is the same switch.
func (c *Controller) register(s *Switch) {
	c.mu.Lock()
	old := c.switches[s.DPID]
	c.switches[s.DPID] = s
	c.mu.Unlock()
	if old != nil {
		s.log.Info("switch reconnected, replacing old connection", "old", old.Addr)
		old.Close()
	}
	s.log.Info("switch up", "version", s.Version, "ports", len(s.Ports()))
	c.dispatch(Event{Kind: EventSwitchUp, Switch: s})
}

// unregister removes s if it is still the current connection for its
// datapath id and reports whether it was.
func (c *Controller) unregister(s *Switch) bool {
	c.mu.Lock()
	cur := c.switches[s.DPID] == s
	if cur {
		delete(c.switches, s.DPID)
	}
	c.mu.Unlock()
	if cur {
		c.dispatch(Event{Kind: EventSwitchDown, Switch: s})
	}
	return cur
}

// Switch returns the connected switch with datapath id dpid.
func (c *Controller) Switch(dpid uint64) (*Switch, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.switches[dpid]
	return s, ok
}

// Switches returns the connected switches by datapath id.
func (c *Controller) Switches() []*Switch {
	c.mu.Lock()
	out := make([]*Switch, 0, len(c.switches))
	for _, s := range c.switches {
		out = append(out, s)
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b *Switch) int {
		if a.DPID < b.DPID {
			return -1
		}
		if a.DPID > b.DPID {
			return 1
		}
		return 0
	})
	return out
}

// PacketIns counts the packet-ins received since start.
func (c *Controller) PacketIns() uint64 { return c.packetIns.Load() }

// Close stops every app and drops every switch.
func (c *Controller) Close() {
	c.mu.Lock()
	apps := c.apps
	c.apps = nil
	sws := c.switches
	c.switches = make(map[uint64]*Switch)
	c.mu.Unlock()
	for _, a := range apps {
		a.stop()
	}
	for _, s := range sws {
		s.Close()
	}
}
