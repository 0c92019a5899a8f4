package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func open(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var (
	flows = []string{"bridges", "br-int", "flows"}
	ports = []string{"bridges", "br-int", "ports"}
)

func TestRoundTrip(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state", "tapestry.db"))
	err := s.Update(func(tx *Tx) error {
		for _, kv := range []struct {
			path []string
			k, v string
		}{
			{flows, "0000:8000:ip", "actions=NORMAL"},
			{flows, "0000:0000:", "actions=drop"},
			{ports, "tap0", "1"},
			{[]string{"bridges", "br-ex"}, "datapath_type", "netdev"},
		} {
			if err := tx.Put(kv.path, kv.k, []byte(kv.v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	err = s.View(func(tx *Tx) error {
		tests := []struct {
			path []string
			key  string
			want string // "" means missing
		}{
			{flows, "0000:8000:ip", "actions=NORMAL"},
			{ports, "tap0", "1"},
			{ports, "tap9", ""},
			{[]string{"bridges", "br-nope", "ports"}, "tap0", ""},
			{[]string{"bridges"}, "br-int", ""}, // a bucket, not a value
		}
		for _, tc := range tests {
			if got := string(tx.Get(tc.path, tc.key)); got != tc.want {
				t.Errorf("Get(%q, %q) = %q, want %q", tc.path, tc.key, got, tc.want)
			}
		}
		var keys []string
		tx.ForEach(flows, func(k string, v []byte) error { keys = append(keys, k+"="+string(v)); return nil })
		if want := []string{"0000:0000:=actions=drop", "0000:8000:ip=actions=NORMAL"}; !slices.Equal(keys, want) {
			t.Errorf("ForEach(flows) = %q, want %q", keys, want)
		}
		if got, want := tx.Buckets([]string{"bridges"}), []string{"br-ex", "br-int"}; !slices.Equal(got, want) {
			t.Errorf("Buckets(bridges) = %q, want %q", got, want)
		}
		if got, want := tx.Buckets([]string{"bridges", "br-int"}), []string{"flows", "ports"}; !slices.Equal(got, want) {
			t.Errorf("Buckets(br-int) = %q, want %q", got, want)
		}
		if got := tx.Buckets(nil); !slices.Equal(got, []string{"bridges"}) {
			t.Errorf("Buckets(nil) = %q, want [bridges]", got)
		}
		var n int
		tx.ForEach([]string{"bridges", "br-ex"}, func(string, []byte) error { n++; return nil })
		if n != 1 {
			t.Errorf("ForEach(br-ex) visited %d keys, want 1 (nested buckets skipped)", n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

func TestDelete(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	must(t, s.Update(func(tx *Tx) error {
		must(t, tx.Put(flows, "a", []byte("1")))
		must(t, tx.Put(flows, "b", []byte("2")))
		must(t, tx.Put(ports, "p", []byte("3")))
		return nil
	}))
	must(t, s.Update(func(tx *Tx) error {
		must(t, tx.Delete(flows, "a"))
		must(t, tx.Delete(flows, "missing"))
		must(t, tx.Delete([]string{"no", "such"}, "a"))
		must(t, tx.DeleteBucket(ports))
		must(t, tx.DeleteBucket(ports)) // already gone
		must(t, tx.DeleteBucket([]string{"no", "such"}))
		must(t, tx.DeleteBucket([]string{"nothing"}))
		if got := tx.Get(flows, "a"); got != nil {
			t.Errorf("Get after Delete = %q, want nil", got)
		}
		if got := tx.Get(ports, "p"); got != nil {
			t.Errorf("Get after DeleteBucket = %q, want nil", got)
		}
		// The bucket cache must not resurrect a deleted bucket.
		must(t, tx.Put(ports, "q", []byte("4")))
		return nil
	}))
	must(t, s.View(func(tx *Tx) error {
		if got := string(tx.Get(flows, "b")); got != "2" {
			t.Errorf("Get(flows, b) = %q, want 2", got)
		}
		if got := string(tx.Get(ports, "q")); got != "4" {
			t.Errorf("Get(ports, q) = %q, want 4", got)
		}
		return nil
	}))
}

func TestErrors(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	must(t, s.Update(func(tx *Tx) error { return tx.Put(flows, "k", []byte("v")) }))
	tests := []struct {
		name string
		fn   func(tx *Tx) error
		want string
	}{
		{"put without bucket", func(tx *Tx) error { return tx.Put(nil, "k", nil) }, "empty bucket path"},
		{"put empty key", func(tx *Tx) error { return tx.Put(flows, "", []byte("v")) }, `put "" in`},
		{"put over a bucket", func(tx *Tx) error { return tx.Put([]string{"bridges"}, "br-int", []byte("v")) }, `put "br-int"`},
		{"bucket over a value", func(tx *Tx) error { return tx.Put([]string{"bridges", "br-int", "flows", "k"}, "x", nil) }, `bucket "k"`},
		{"delete root", func(tx *Tx) error { return tx.DeleteBucket(nil) }, "empty bucket path"},
	}
	for _, tc := range tests {
		err := s.Update(tc.fn)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Update = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	err := s.View(func(tx *Tx) error { return tx.Put(flows, "k2", []byte("v")) })
	if err == nil {
		t.Errorf("Put in View succeeded")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRollback(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	must(t, s.Update(func(tx *Tx) error { return tx.Put(flows, "keep", []byte("1")) }))
	boom := errors.New("boom")
	err := s.Update(func(tx *Tx) error {
		must(t, tx.Put(flows, "new", []byte("2")))
		must(t, tx.Put(ports, "p", []byte("3")))
		must(t, tx.Delete(flows, "keep"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	must(t, s.View(func(tx *Tx) error {
		if tx.Get(flows, "new") != nil || tx.Get(ports, "p") != nil || tx.Get(flows, "keep") == nil {
			t.Errorf("after rollback: new=%q p=%q keep=%q; want nil, nil, 1",
				tx.Get(flows, "new"), tx.Get(ports, "p"), tx.Get(flows, "keep"))
		}
		if b := tx.Buckets([]string{"bridges", "br-int"}); !slices.Equal(b, []string{"flows"}) {
			t.Errorf("after rollback: buckets %q, want [flows]", b)
		}
		return nil
	}))
}

func TestJSON(t *testing.T) {
	type port struct {
		Name   string `json:"name"`
		OFPort int    `json:"ofport"`
	}
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	must(t, s.Update(func(tx *Tx) error { return tx.PutJSON(ports, "tap0", port{"tap0", 1}) }))
	must(t, s.Update(func(tx *Tx) error { return tx.Put(ports, "bad", []byte("{")) }))
	must(t, s.View(func(tx *Tx) error {
		var p port
		if ok, err := tx.GetJSON(ports, "tap0", &p); !ok || err != nil || p != (port{"tap0", 1}) {
			t.Errorf("GetJSON(tap0) = %v, %v, %+v; want true, nil, {tap0 1}", ok, err, p)
		}
		if ok, err := tx.GetJSON(ports, "tap9", &p); ok || err != nil {
			t.Errorf("GetJSON(tap9) = %v, %v; want false, nil", ok, err)
		}
		if _, err := tx.GetJSON(ports, "bad", &p); err == nil || !strings.Contains(err.Error(), `"bad"`) {
			t.Errorf("GetJSON(bad) = %v, want a decode error naming the key", err)
		}
		return nil
	}))
	if err := s.Update(func(tx *Tx) error { return tx.PutJSON(ports, "x", func() {}) }); err == nil {
		t.Errorf("PutJSON(func) succeeded")
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.Update(func(tx *Tx) error { return tx.Put(flows, "k", []byte("v")) }))
	must(t, s.Close())
	s = open(t, path)
	must(t, s.View(func(tx *Tx) error {
		if got := string(tx.Get(flows, "k")); got != "v" {
			t.Errorf("after reopen Get = %q, want v", got)
		}
		return nil
	}))
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	open(t, path)
	// flock locks are per open file, so a second Open in the same process
	// conflicts just as a second daemon would.
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatalf("second Open(%s) succeeded, want a lock error", path)
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Errorf("second Open = %v, want ErrLocked naming %s", err, path)
	}
}

// TestCrash has a child process commit transactions as fast as it can,
// reporting each one after Update returns, and kills it with SIGKILL
// mid-stream; every reported transaction must be in the file.
func TestCrash(t *testing.T) {
	if path := os.Getenv("TAPESTRY_STORE_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "s.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$")
	cmd.Env = append(os.Environ(), "TAPESTRY_STORE_CRASH_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	last := -1
	for lines.Scan() {
		n, err := strconv.Atoi(lines.Text())
		if err != nil {
			continue // test framework chatter
		}
		last = n
		if n == 200 {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if last != 200 {
		t.Fatalf("child reported %d commits before exiting, want 200", last)
	}
	s := open(t, path)
	must(t, s.View(func(tx *Tx) error {
		for i := 0; i <= last; i++ {
			key := fmt.Sprintf("%06d", i)
			if got, want := string(tx.Get(flows, key)), strings.Repeat(key, 10); got != want {
				t.Errorf("commit %d lost after SIGKILL: Get = %q, want %q", i, got, want)
			}
		}
		return nil
	}))
}

func crashChild(path string) {
	s, err := Open(path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		key := fmt.Sprintf("%06d", i)
		err := s.Update(func(tx *Tx) error {
			// Spread each commit over several buckets and pages.
			if err := tx.Put(flows, key, []byte(strings.Repeat(key, 10))); err != nil {
				return err
			}
			return tx.Put([]string{"hosts", key}, "x", make([]byte, 3000))
		})
		if err != nil {
			fmt.Println("update:", err)
			os.Exit(1)
		}
		fmt.Println(i)
	}
}

// flowKey is a key shaped like the daemon's flow keys: table, priority and
// the match text.
func flowKey(i int) string {
	return fmt.Sprintf("%04x:%04x:ip,nw_src=10.%d.%d.%d,nw_dst=192.168.0.1,tcp,tp_dst=%d", i%4, 0x8000-i%16, i>>16&255, i>>8&255, i&255, i%65536)
}

// BenchmarkUpdate100k is one Update putting 100,000 flows with ~100-byte
// values, as a bulk flow load (ovs-ofctl add-flows) does.
func BenchmarkUpdate100k(b *testing.B) {
	for _, order := range []string{"sorted", "shuffled"} {
		b.Run(order, func(b *testing.B) {
			keys := make([]string, 100_000)
			for i := range keys {
				keys[i] = flowKey(i)
			}
			if order == "sorted" {
				slices.Sort(keys)
			}
			value := []byte(strings.Repeat("actions=mod_dl_src:02:00:00:00:00:01,dec_ttl,output:2;", 2)[:100])
			b.ReportAllocs()
			// CPU time is reported too: on a shared machine wall time
			// includes waiting for a core.
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := open(b, filepath.Join(b.TempDir(), "s.db"))
				b.StartTimer()
				err := s.Update(func(tx *Tx) error {
					for _, k := range keys {
						if err := tx.Put(flows, k, value); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
