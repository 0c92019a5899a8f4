package controller

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"tapestry/ofctl"
	"tapestry/openflow"
)

// Static installs flows listed in a YAML file, keyed by datapath id (16 hex
// digits, 0x-prefixed hex, or decimal) or "*" for every switch:
//
//	"*":
//	  - priority=0,actions=controller
//	"0000000000000001":
//	  - priority=10,icmp,actions=drop
//
// Reload re-reads the file and sends only the difference: flows no longer
// listed are deleted (strictly: same table, priority and match), new or
// changed ones are added (an add with the same match and priority
// replaces the old flow, OpenFlow 1.3 §6.4).
type Static struct {
	path string

	// mu guards want and installed.
	mu        sync.Mutex
	want      map[string][]string // dpid key -> flow texts
	installed map[uint64]map[string]openflow.FlowMod
}

// NewStatic returns the app reading path.
func NewStatic(path string) *Static {
	return &Static{path: path, installed: make(map[uint64]map[string]openflow.FlowMod)}
}

// Name implements App.
func (*Static) Name() string { return "static" }

// Describe implements the app description of GET /apps.
func (st *Static) Describe() (string, string) { return "go", st.path }

// Start implements Starter: the file must parse.
func (st *Static) Start(*Controller) error {
	want, err := ParseStatic(st.path)
	if err != nil {
		return err
	}
	st.mu.Lock()
	st.want = want
	st.mu.Unlock()
	return nil
}

// Stop implements Starter.
func (*Static) Stop() {}

// ParseStatic reads and checks a static-flows file: every flow must parse.
func ParseStatic(path string) (map[string][]string, error) {
	if path == "" {
		return nil, fmt.Errorf("static: no flows file configured")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	var want map[string][]string
	if err := yaml.Unmarshal(b, &want); err != nil {
		return nil, fmt.Errorf("static: %s: %w", path, err)
	}
	for key, flows := range want {
		if key != "*" {
			if _, err := ParseDPID(key); err != nil {
				return nil, fmt.Errorf("static: %s: %w", path, err)
			}
		}
		for _, f := range flows {
			if _, err := parseFlowMod(f, openflow.FlowAdd); err != nil {
				return nil, fmt.Errorf("static: %s: switch %s: flow %q: %w", path, key, f, err)
			}
		}
	}
	return want, nil
}

// ParseDPID reads a datapath id: 16 hex digits (optionally with colons),
// 0x-prefixed hex, or decimal.
func ParseDPID(s string) (uint64, error) {
	t := strings.ReplaceAll(s, ":", "")
	var v uint64
	var err error
	switch {
	case strings.HasPrefix(t, "0x") || strings.HasPrefix(t, "0X"):
		v, err = strconv.ParseUint(t[2:], 16, 64)
	case len(t) == 16 || strings.Contains(s, ":"):
		v, err = strconv.ParseUint(t, 16, 64)
	default:
		v, err = strconv.ParseUint(t, 10, 64)
	}
	if err != nil {
		return 0, fmt.Errorf("bad datapath id %q (want 16 hex digits, 0xHEX or decimal)", s)
	}
	return v, nil
}

// desired returns the flows for dpid, keyed by their canonical text.
func (st *Static) desired(dpid uint64) map[string]openflow.FlowMod {
	out := make(map[string]openflow.FlowMod)
	for key, flows := range st.want {
		if key != "*" {
			if v, err := ParseDPID(key); err != nil || v != dpid {
				continue
			}
		}
		for _, f := range flows {
			fm, err := parseFlowMod(f, openflow.FlowAdd)
			if err == nil {
				out[ofctl.FormatFlowMod(&fm, nil)] = fm
			}
		}
	}
	return out
}

// sync brings switch s from what was installed to what is wanted.
func (st *Static) sync(s *Switch) error {
	st.mu.Lock()
	want := st.desired(s.DPID)
	have := st.installed[s.DPID]
	st.installed[s.DPID] = want
	st.mu.Unlock()
	for text, fm := range have {
		if _, keep := want[text]; keep {
			continue
		}
		del := fm
		del.Command, del.Actions = openflow.FlowDeleteStrict, nil
		del.OutPort, del.OutGroup = openflow.PortAny, openflow.GroupAny
		if err := s.FlowMod(&del); err != nil {
			return err
		}
	}
	for text, fm := range want {
		if _, had := have[text]; had {
			continue
		}
		if err := s.FlowMod(&fm); err != nil {
			return err
		}
	}
	return nil
}

// HandleEvent implements App.
func (st *Static) HandleEvent(_ *Controller, ev Event) error {
	switch ev.Kind {
	case EventSwitchUp:
		st.mu.Lock()
		delete(st.installed, ev.Switch.DPID) // a new connection starts from nothing we know
		st.mu.Unlock()
		if err := st.sync(ev.Switch); err != nil && err != ErrSwitchGone {
			return err
		}
	case EventSwitchDown:
		st.mu.Lock()
		delete(st.installed, ev.Switch.DPID)
		st.mu.Unlock()
	}
	return nil
}

// Reload implements Reloader: a file that no longer parses keeps the old
// flows in place.
func (st *Static) Reload(c *Controller) error {
	want, err := ParseStatic(st.path)
	if err != nil {
		return err
	}
	st.mu.Lock()
	st.want = want
	st.mu.Unlock()
	for _, s := range c.Switches() {
		if err := st.sync(s); err != nil {
			return err
		}
	}
	return nil
}

func ofctlParse(text string) (openflow.FlowMod, error) {
	return parseFlowMod(text, openflow.FlowAdd)
}
