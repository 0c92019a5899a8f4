package daemon

// The cloud (issue 6): Neutron's API on the daemon's socket, its objects as
// desired state, realized as Neutron's OVS and L3 agents would.
//
// Package cloud keeps the objects and answers the REST requests; each
// accepted change reaches commitCloud with the next State before the
// client hears back. commitCloud stores the State, turns it into a Plan
// (cloud.Realize) and applies the difference between that Plan and the
// one applied before (cloud_apply.go) through the daemon's own vsctl, ip,
// sysctl, iptables and flow operations, so everything the cloud makes is
// ordinary desired state of bridges and namespaces, visible with the usual
// tools. The applied Plan is stored too: after a restart the daemon
// realizes the State again and, the bridges and namespaces having been
// restored from their own store, finds nothing to change.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"tapestry/cloud"
	"tapestry/store"
)

// Store layout of the cloud: cloud/ keys "state" (cloud.State) and
// "applied" (the cloud.Plan applied last), both JSON.
var cloudPath = []string{"cloud"}

// cloudRT is the running cloud.
type cloudRT struct {
	svc *cloud.Service
	// mu serializes applying plans; applied is what was applied last.
	mu      sync.Mutex
	applied cloud.Plan
}

// startCloud loads the cloud's State and last Plan and realizes the State
// again, which after a restart changes nothing that was applied.
func (d *Daemon) startCloud() error {
	st := cloud.NewState()
	var applied cloud.Plan
	err := d.st.View(func(tx *store.Tx) error {
		if raw := tx.Get(cloudPath, "state"); raw != nil {
			if err := json.Unmarshal(raw, st); err != nil {
				return fmt.Errorf("cloud state: %w", err)
			}
		}
		if raw := tx.Get(cloudPath, "applied"); raw != nil {
			if err := json.Unmarshal(raw, &applied); err != nil {
				return fmt.Errorf("cloud plan: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.cloud = &cloudRT{applied: applied}
	d.cloud.svc = cloud.NewService(st, cloud.RandomEnv(), d.commitCloud)
	if len(st.Networks)+len(st.Routers)+len(st.Servers) > 0 || len(applied.Bridges) > 0 {
		d.realizeCloud(st)
	}
	return nil
}

// Cloud implements api.Backend: Neutron's API v2.0 and the servers API.
func (d *Daemon) Cloud() http.Handler { return d.cloud.svc }

// commitCloud stores next as the cloud's desired state and realizes it.
// An error refuses the change; realization problems after the State is
// stored are logged (the objects exist, as in Neutron, whatever an agent
// made of them) and retried by the next change or restart.
func (d *Daemon) commitCloud(next *cloud.State) error {
	if err := d.checkServerNames(next); err != nil {
		return err
	}
	raw, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := d.st.Update(func(tx *store.Tx) error { return tx.Put(cloudPath, "state", raw) }); err != nil {
		return fmt.Errorf("writing store: %w", err)
	}
	d.realizeCloud(next)
	return nil
}

// checkServerNames refuses an instance whose namespace name a namespace
// the cloud did not make already has.
func (d *Daemon) checkServerNames(next *cloud.State) error {
	d.cloud.mu.Lock()
	ours := map[string]bool{}
	for _, n := range d.cloud.applied.Namespaces {
		ours[n.Name] = true
	}
	d.cloud.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range next.Servers {
		if s.TAP || ours[s.Name] {
			continue
		}
		if d.netns[s.Name] != nil {
			return &cloud.Error{Status: http.StatusConflict, Type: "Conflict",
				Message: fmt.Sprintf("Server name %s is taken by namespace %s, which tapestry cloud did not create; an instance's namespace is named after it.", s.Name, s.Name)}
		}
	}
	return nil
}

// realizeCloud applies the Plan of st and stores it as applied.
func (d *Daemon) realizeCloud(st *cloud.State) {
	plan := cloud.Realize(st)
	d.cloud.mu.Lock()
	defer d.cloud.mu.Unlock()
	a := &planApply{d: d, ctx: context.Background(), old: d.cloud.applied, next: plan}
	a.apply()
	for _, err := range a.errs {
		d.log.Warn("cloud: realizing", "err", err)
	}
	raw, err := json.Marshal(plan)
	if err == nil {
		err = d.st.Update(func(tx *store.Tx) error { return tx.Put(cloudPath, "applied", raw) })
	}
	if err != nil {
		d.log.Error("cloud: storing the applied plan", "err", err)
		return
	}
	d.cloud.applied = plan
}
