package store

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	berrors "go.etcd.io/bbolt/errors"
)

// TestPutBytes checks PutBytes against Put: keys from one shared buffer,
// written out of order and repeated (the last write of a key wins, across
// both calls), read back in key order; an empty key is refused.
func TestPutBytes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "tapestry.db"))
	buf := []byte("00/0064/ip00/0001/arp00/0064/ip")
	err := s.Update(func(tx *Tx) error {
		for _, w := range []struct {
			key   []byte // PutBytes when set
			skey  string // else Put
			value string
		}{
			{key: buf[0:10], value: "first"},
			{key: buf[10:21], value: "arp"},
			{skey: "00/0064/ip", value: "second"},
			{key: buf[21:31], value: "third"},
			{skey: "00/0002/tcp", value: "tcp"},
		} {
			var err error
			if w.key != nil {
				err = tx.PutBytes(flows, w.key, []byte(w.value))
			} else {
				err = tx.Put(flows, w.skey, []byte(w.value))
			}
			if err != nil {
				return err
			}
		}
		if err := tx.PutBytes(flows, nil, []byte("x")); !errors.Is(err, berrors.ErrKeyRequired) {
			t.Errorf("PutBytes(empty key) = %v, want ErrKeyRequired", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	var got []string
	s.View(func(tx *Tx) error {
		return tx.ForEach(flows, func(k string, v []byte) error {
			got = append(got, k+"="+string(v))
			return nil
		})
	})
	want := []string{"00/0001/arp=arp", "00/0002/tcp=tcp", "00/0064/ip=third"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored after Put and PutBytes (-want +got):\n%s", diff)
	}
}
