// Package store keeps the daemon's desired state (bridges, ports, flows,
// hosts, routes, rules, cloud objects) in one bbolt file under the state
// dir, so that a restart restores it.
//
// Values live in nested buckets named by a path, e.g.
// []string{"bridges", "br-int", "flows"}. Every Update is one atomic
// transaction that is on disk (fsync) before Update returns; an error from
// the callback rolls all of it back. Runtime state (MAC tables, neighbour
// caches, conntrack, counters) is rebuilt, never stored here.
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Store is an open state file. It holds an exclusive lock on the file so two
// daemons cannot share one state dir. Its methods are safe for concurrent
// use: Updates run one at a time, Views alongside them.
type Store struct {
	db   *bolt.DB
	path string
}

// ErrLocked is wrapped by Open when another process holds the state file.
var ErrLocked = errors.New("locked by another process")

// Open opens the state file at path, creating it and its directory if they
// do not exist, and takes an exclusive lock (flock) on it. If another
// process has it open, Open fails at once with an error that names the path
// and wraps ErrLocked.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		// Any non-zero timeout shorter than bbolt's 50 ms retry interval
		// means one non-blocking flock attempt: fail fast, never hang.
		Timeout: time.Nanosecond,
		// The freelist is rebuilt by scanning on open instead of being
		// written with every commit; commits of large flow tables get
		// cheaper and the file stays consistent (the meta page does not
		// point at a freelist page at all).
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Reserve address space up front. When the file outgrows the
		// mapping, bbolt remaps it and first copies every key and value
		// the open transaction touched out of the old mapping; a bulk load
		// of 100,000 flows did that over and over and spent most of its
		// time there. Only touched pages become resident.
		InitialMmapSize: 1 << 30,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is %w (is another tapestry daemon using this state dir?)", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Path returns the file the store was opened on.
func (s *Store) Path() string { return s.path }

// Close releases the file and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// Update runs fn in one read-write transaction and commits it durably: when
// Update returns nil, the changes are on disk (bbolt fsyncs the data and
// meta pages on commit) and survive a crash or kill -9. If fn returns an
// error or panics, nothing fn did is kept and the error is returned as is.
func (s *Store) Update(fn func(tx *Tx) error) error {
	return s.db.Update(func(btx *bolt.Tx) error {
		tx := &Tx{tx: btx}
		if err := fn(tx); err != nil {
			return err
		}
		return tx.flush()
	})
}

// View runs fn in a read-only transaction that sees one consistent snapshot.
func (s *Store) View(fn func(tx *Tx) error) error {
	return s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx}) })
}

// Tx is a transaction passed to Update or View. It must not be used after
// the callback returns, and byte slices it returns are valid only until
// then.
type Tx struct {
	tx *bolt.Tx

	// The last bucket looked up, so that many Puts into one bucket walk the
	// path once, and its index in buckets.
	lastPath []string
	last     *bolt.Bucket
	lastID   int

	// Puts not yet applied, and the buckets they go to. bbolt keeps every
	// key a transaction writes to one page in a sorted slice until commit,
	// so inserting n keys out of order costs O(n²) moves (100,000 shuffled
	// flows took seconds); applying them sorted makes each an append.
	// Every read or delete applies them first, so the transaction always
	// sees its own writes.
	pending []pendingPut
	buckets []*bolt.Bucket
}

type pendingPut struct {
	bucket int // index in Tx.buckets
	seq    int // order of the Put, so that the last of equal keys wins
	key    []byte
	value  []byte
}

// errEmptyPath is returned for a key without a bucket: bbolt keeps only
// buckets at the top level.
var errEmptyPath = errors.New("store: empty bucket path")

// bucket returns the bucket at path, creating it and its parents when
// create is set; without create a missing bucket is nil.
func (tx *Tx) bucket(path []string, create bool) (*bolt.Bucket, error) {
	if len(path) == 0 {
		return nil, errEmptyPath
	}
	if tx.last != nil && slices.Equal(path, tx.lastPath) {
		return tx.last, nil
	}
	var b *bolt.Bucket
	for i, name := range path {
		var next *bolt.Bucket
		var err error
		switch {
		case i == 0 && create:
			next, err = tx.tx.CreateBucketIfNotExists([]byte(name))
		case i == 0:
			next = tx.tx.Bucket([]byte(name))
		case create:
			next, err = b.CreateBucketIfNotExists([]byte(name))
		default:
			next = b.Bucket([]byte(name))
		}
		if err != nil {
			return nil, fmt.Errorf("store: bucket %q in %q: %w", name, path[:i+1], err)
		}
		if next == nil {
			return nil, nil
		}
		b = next
	}
	// Desired state is mostly written in key order (flows sorted by table
	// and priority); fuller pages make the file smaller and the commit
	// cheaper. Random inserts only split pages a little sooner.
	b.FillPercent = 0.9
	tx.lastPath = append(tx.lastPath[:0], path...)
	tx.last = b
	tx.lastID = -1
	return b, nil
}

// bucketID returns the index of the bucket last returned by bucket in
// tx.buckets, adding it on first use.
func (tx *Tx) bucketID() int {
	if tx.lastID < 0 {
		tx.buckets = append(tx.buckets, tx.last)
		tx.lastID = len(tx.buckets) - 1
	}
	return tx.lastID
}

// flush applies the pending Puts in key order, bucket by bucket; among
// Puts of the same key the last one wins.
func (tx *Tx) flush() error {
	if len(tx.pending) == 0 {
		return nil
	}
	p := tx.pending
	tx.pending = tx.pending[:0]
	slices.SortFunc(p, func(a, b pendingPut) int {
		if a.bucket != b.bucket {
			return a.bucket - b.bucket
		}
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	// bbolt keeps the key slices until commit: Put copied string keys,
	// PutBytes callers promised not to touch theirs.
	for i := range p {
		w := &p[i]
		if i+1 < len(p) && p[i+1].bucket == w.bucket && bytes.Equal(p[i+1].key, w.key) {
			continue // a later Put of the same key wins
		}
		if err := tx.buckets[w.bucket].Put(w.key, w.value); err != nil {
			return fmt.Errorf("store: put %q: %w", w.key, err)
		}
	}
	clear(p) // drop the references for the collector
	return nil
}

// Put stores value under key in the bucket at path, creating the buckets
// along the path. The value is copied when the transaction commits, so the
// caller must not modify it before then.
func (tx *Tx) Put(path []string, key string, value []byte) error {
	return tx.put(path, []byte(key), value)
}

// PutBytes is Put with a key in bytes, for bulk writers that format keys
// and values into one buffer (100,000 flows): neither key nor value is
// copied, so the caller must not modify either before the transaction
// commits.
func (tx *Tx) PutBytes(path []string, key, value []byte) error {
	return tx.put(path, key, value)
}

// put checks and queues one write.
func (tx *Tx) put(path []string, key, value []byte) error {
	switch {
	case !tx.tx.Writable():
		return fmt.Errorf("store: put %q in %q: %w", key, path, berrors.ErrTxNotWritable)
	case len(key) == 0:
		return fmt.Errorf("store: put %q in %q: %w", key, path, berrors.ErrKeyRequired)
	case len(key) > bolt.MaxKeySize:
		return fmt.Errorf("store: put %.20q... in %q: %w", key, path, berrors.ErrKeyTooLarge)
	case len(value) > bolt.MaxValueSize:
		return fmt.Errorf("store: put %q in %q: %w", key, path, berrors.ErrValueTooLarge)
	}
	if _, err := tx.bucket(path, true); err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // bbolt stores nil as a zero-length value too
	}
	tx.pending = append(tx.pending, pendingPut{bucket: tx.bucketID(), seq: len(tx.pending), key: key, value: value})
	return nil
}

// Grow makes room for n more Puts in this transaction, so that a large batch
// (100,000 flows) does not repeatedly copy its pending writes as it grows.
func (tx *Tx) Grow(n int) { tx.pending = slices.Grow(tx.pending, n) }

// Get returns the value of key in the bucket at path, or nil if either is
// missing. The slice is valid only inside the transaction; copy it to keep
// it.
func (tx *Tx) Get(path []string, key string) []byte {
	if tx.flush() != nil {
		return nil
	}
	b, err := tx.bucket(path, false)
	if err != nil || b == nil {
		return nil
	}
	return b.Get([]byte(key))
}

// Delete removes key from the bucket at path. A missing key or bucket is
// not an error.
func (tx *Tx) Delete(path []string, key string) error {
	if err := tx.flush(); err != nil {
		return err
	}
	b, err := tx.bucket(path, false)
	if err != nil || b == nil {
		return err
	}
	if err := b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("store: delete %q in %q: %w", key, path, err)
	}
	return nil
}

// DeleteBucket removes the bucket at path with everything under it. A
// missing bucket is not an error.
func (tx *Tx) DeleteBucket(path []string) error {
	if len(path) == 0 {
		return errEmptyPath
	}
	if err := tx.flush(); err != nil {
		return err
	}
	tx.last, tx.lastPath = nil, tx.lastPath[:0]
	name := []byte(path[len(path)-1])
	var err error
	if len(path) == 1 {
		err = tx.tx.DeleteBucket(name)
	} else {
		parent, perr := tx.bucket(path[:len(path)-1], false)
		if perr != nil || parent == nil {
			return perr
		}
		tx.last, tx.lastPath = nil, tx.lastPath[:0]
		err = parent.DeleteBucket(name)
	}
	if err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return fmt.Errorf("store: delete bucket %q: %w", path, err)
	}
	return nil
}

// ForEach calls fn for every key of the bucket at path in byte order of
// the keys, skipping nested buckets. A missing bucket has no keys. An error
// from fn stops the walk and is returned.
func (tx *Tx) ForEach(path []string, fn func(key string, value []byte) error) error {
	if err := tx.flush(); err != nil {
		return err
	}
	b, err := tx.bucket(path, false)
	if err != nil || b == nil {
		return err
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			continue // a nested bucket
		}
		if err := fn(string(k), v); err != nil {
			return err
		}
	}
	return nil
}

// Buckets returns the names of the buckets directly under path, sorted; an
// empty path lists the top-level buckets.
func (tx *Tx) Buckets(path []string) []string {
	if tx.flush() != nil {
		return nil
	}
	var names []string
	if len(path) == 0 {
		tx.tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
		return names
	}
	b, err := tx.bucket(path, false)
	if err != nil || b == nil {
		return nil
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			names = append(names, string(k))
		}
	}
	return names
}

// PutJSON stores v encoded as JSON.
func (tx *Tx) PutJSON(path []string, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %q in %q: %w", key, path, err)
	}
	return tx.Put(path, key, b)
}

// GetJSON decodes the JSON value of key into v and reports whether the key
// exists.
func (tx *Tx) GetJSON(path []string, key string, v any) (bool, error) {
	b := tx.Get(path, key)
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("store: decode %q in %q: %w", key, path, err)
	}
	return true, nil
}
