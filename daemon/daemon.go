// Package daemon wires tapestry together: the desired-state store, the
// running bridges and their ports, and the API server. Nothing else lives
// here.
//
// The model is Open vSwitch's: a request (an ovs-vsctl transaction, a batch
// of flow mods) is checked, committed to the store, and only then applied to
// the running bridges, so that what the store holds is always what a
// restart rebuilds. Applying can partly fail without failing the request:
// a port whose device cannot be opened stays configured, shows its error in
// vsctl show (ofport -1, as ovs-vswitchd reports it) and is retried every
// few seconds, as vswitchd retries on every reconfiguration.
//
// Stages of one vsctl request: copy the configuration, run each command on
// the copy (producing its output), commit the copy to the store in one
// transaction, reconcile the bridges with it (Daemon.reconcile).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"tapestry/api"
	"tapestry/netstack"
	"tapestry/store"
)

// Config configures a daemon.
type Config struct {
	// StateDir holds the store file (tapestry.db); RunDir the API socket.
	StateDir string
	RunDir   string
	// Devices opens ports' links; nil means the kernel (TAP devices and
	// AF_PACKET), falling back to in-memory ports for bridges' internal
	// ports when TAP creation is not allowed.
	Devices Devices
	// Now is the clock for the bridges; nil means time.Now.
	Now func() time.Time
	// Clock is the clock of the namespaces; nil means the system clock.
	Clock  netstack.Clock
	Logger *slog.Logger
	// Version is reported by the API (tapestry version).
	Version string
}

// StoreFile is the name of the store inside the state dir.
const StoreFile = "tapestry.db"

// retryEvery is how often ports whose device could not be opened are
// retried, in ticks of the 1-second housekeeping ticker.
const retryEvery = 5

// DefaultStateDir is /var/lib/tapestry for root (as OVS keeps conf.db in
// /var/lib/openvswitch), $XDG_STATE_HOME/tapestry or
// ~/.local/state/tapestry otherwise; TAPESTRY_STATEDIR overrides it.
func DefaultStateDir() string {
	if d := os.Getenv("TAPESTRY_STATEDIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/tapestry"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "tapestry")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "tapestry")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("tapestry-state-%d", os.Geteuid()))
}

// Daemon is a running tapestry: store, bridges, API.
type Daemon struct {
	cfg Config
	log *slog.Logger
	st  *store.Store
	dev Devices

	stopProfile func() // ends the CPU profile of ProfileEnv; set by Serve

	// mu serializes every request and guards the fields below.
	mu      sync.Mutex
	uuid    string
	conf    *switchConf          // committed desired state
	bridges map[string]*bridgeRT // running bridges by name
	closed  bool

	// Namespaces (netns.go): desired state, running namespaces, wire ends
	// of claimed internal ports waiting for their namespace, namespaces
	// to rebuild, and whether a build is under way.
	netns    map[string]*nsConf
	nsrt     map[string]*netstack.Namespace
	ends     map[string]pendingEnd
	rebuild  map[string]bool
	building bool
	nsClock  netstack.Clock

	// flowMu orders flow changes into the store. The API takes it under mu;
	// OpenFlow connections, which never take mu, take it alone. A flow mod
	// over OpenFlow is applied by the bridge before flowMu is taken, so an
	// API change and an OpenFlow change to the same flow at the same instant
	// may reach the store in the other order than the bridge saw them.
	flowMu sync.Mutex
	flows  *flowLog // OpenFlow flow changes waiting to be stored

	expired expiredFlows // flows the bridges removed on timeout, not yet deleted from the store

	cloud *cloudRT // the cloud model and what was realized of it (cloud.go)

	srv  *api.Server
	stop chan struct{}
	wg   sync.WaitGroup
}

// New opens the store under cfg.StateDir and rebuilds every bridge, port
// and flow it holds. It does not listen yet; see Serve.
func New(cfg Config) (*Daemon, error) {
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir()
	}
	if cfg.RunDir == "" {
		cfg.RunDir = api.DefaultRunDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Devices == nil {
		cfg.Devices = KernelDevices{}
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("daemon: state dir: %w", err)
	}
	st, err := store.Open(filepath.Join(cfg.StateDir, StoreFile))
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d := &Daemon{
		cfg:     cfg,
		log:     cfg.Logger,
		st:      st,
		dev:     cfg.Devices,
		bridges: make(map[string]*bridgeRT),
		netns:   make(map[string]*nsConf),
		nsrt:    make(map[string]*netstack.Namespace),
		ends:    make(map[string]pendingEnd),
		rebuild: make(map[string]bool),
		nsClock: cfg.Clock,
		stop:    make(chan struct{}),
		flows:   newFlowLog(),
	}
	err = d.restore()
	if err == nil {
		err = d.startCloud()
	}
	if err != nil {
		d.closeNetns()
		d.closeBridges()
		st.Close()
		return nil, err
	}
	d.wg.Add(2)
	go d.housekeeping()
	go d.flowLogger()
	return d, nil
}

// Serve listens on <RunDir>/tapestry.sock and answers API requests until
// Close. It returns once the listener is up and serving in the background.
func (d *Daemon) Serve() error {
	if err := os.MkdirAll(d.cfg.RunDir, 0o755); err != nil {
		return fmt.Errorf("daemon: run dir: %w", err)
	}
	srv, err := api.Listen(api.SocketPath(d.cfg.RunDir), api.Handler(d, d.log), d.log)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.mu.Lock()
	d.srv = srv
	d.stopProfile = d.startProfile()
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := srv.Serve(); err != nil {
			d.log.Error("api server stopped", "err", err)
		}
	}()
	d.log.Info("listening", "socket", srv.Path(), "state", filepath.Join(d.cfg.StateDir, StoreFile))
	return nil
}

// Socket returns the API socket path.
func (d *Daemon) Socket() string { return api.SocketPath(d.cfg.RunDir) }

// Close stops the API (removing the socket), closes every bridge and its
// links, and closes the store. The store already holds everything; Close
// loses nothing.
func (d *Daemon) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	srv := d.srv
	d.mu.Unlock()

	var errs []error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, srv.Shutdown(ctx))
		cancel()
	}
	close(d.stop)
	d.wg.Wait()

	d.writeHeapProfile() // while the bridges still hold their flows
	d.mu.Lock()
	errs = append(errs, d.flushExpired())
	d.closeNetns()
	d.closeBridges()
	d.mu.Unlock()
	// Changes a connection made after the logger stopped, before its bridge
	// closed.
	d.flowMu.Lock()
	d.drainFlowLog()
	d.flowMu.Unlock()
	errs = append(errs, d.st.Close())
	if d.stopProfile != nil {
		d.stopProfile()
	}
	return errors.Join(errs...)
}

// housekeeping sweeps flow timeouts every second and retries ports whose
// device could not be opened.
func (d *Daemon) housekeeping() {
	defer d.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		d.mu.Lock()
		for _, b := range d.bridges {
			b.br.Expire()
		}
		if err := d.flushExpired(); err != nil {
			d.log.Error("removing expired flows from the store", "err", err)
		}
		if n%retryEvery == 0 {
			d.retryPorts()
		}
		d.mu.Unlock()
	}
}
