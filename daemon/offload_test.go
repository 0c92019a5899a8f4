package daemon

import (
	"sync"
	"testing"

	"tapestry/api"
	"tapestry/link"
)

// offloadDevices hands out in-memory wires that can be told to offload, as
// a TAP can, and remembers what each port's latest link was told.
type offloadDevices struct {
	MemDevices
	mu  sync.Mutex
	set map[string][]bool // port -> SetOffload calls on its latest link
}

type offloadLink struct {
	link.Link
	d    *offloadDevices
	name string
}

func (l *offloadLink) SetOffload(on bool) error {
	l.d.mu.Lock()
	defer l.d.mu.Unlock()
	l.d.set[l.name] = append(l.d.set[l.name], on)
	return nil
}

func (d *offloadDevices) Open(name, typ string) (link.Link, error) {
	l, err := d.MemDevices.Open(name, typ)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.set[name] = nil
	return &offloadLink{Link: l, d: d, name: name}, nil
}

func (d *offloadDevices) calls(name string) []bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]bool(nil), d.set[name]...)
}

// TestOffloadOption: TAP ports get offloads by default, and
// other_config:userspace-tso-enable=false on the Interface re-attaches the
// port without them (and =true or removing the key brings them back).
func TestOffloadOption(t *testing.T) {
	dev := &offloadDevices{set: map[string][]bool{}}
	d := newTestDaemon(t, t.TempDir(), dev)
	vsctl(t, d, cmd("add-br", "br0"), cmd("add-port", "br0", "tap0"))
	if got := dev.calls("tap0"); len(got) != 1 || !got[0] {
		t.Fatalf("add-port: SetOffload calls %v, want [true]", got)
	}
	off := api.Setting{Column: "other_config", Key: "userspace-tso-enable", Value: "false"}
	vsctl(t, d, api.Command{Name: "set", Args: []string{"Interface", "tap0"}, Settings: []api.Setting{off}})
	if got := dev.calls("tap0"); len(got) != 0 {
		t.Errorf("userspace-tso-enable=false: SetOffload calls %v on the re-attached link, want none", got)
	}
	on := api.Setting{Column: "other_config", Key: "userspace-tso-enable", Value: "true"}
	vsctl(t, d, api.Command{Name: "set", Args: []string{"Interface", "tap0"}, Settings: []api.Setting{on}})
	if got := dev.calls("tap0"); len(got) != 1 || !got[0] {
		t.Errorf("userspace-tso-enable=true: SetOffload calls %v, want [true]", got)
	}
}
