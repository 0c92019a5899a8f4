package daemon

import (
	"strings"
	"sync"

	"tapestry/api"
	"tapestry/ofctl"
	"tapestry/ofproto"
	"tapestry/openflow"
	"tapestry/store"
)

// add-flows in chunks.
//
// A 100,000-line add-flows used to parse every line before applying any:
// 100,000 FlowMods (44 MB) and as many action slices (36 MB) alive at
// once, on top of the request and the flows themselves. On a VM where a
// first-touch page fault costs ~18 µs a page, that peak was most of the
// request's time. Now the lines go through the pipeline addChunkLines at a
// time, through two reused chunks, with one bridge batch (ofproto.FlowTx)
// and one store transaction around the whole request:
//
//	parse+format chunk k+1 (both CPUs)  |  bridge applies chunk k
//	                                    |  store queues chunk k's records
//
// What the one-shot path guaranteed still holds:
//   - All or nothing: the bridge batch rolls back and the store
//     transaction is not committed when any line fails to parse or the
//     bridge refuses any flow mod.
//   - The same error: a parse error anywhere wins (the one-shot path parsed
//     every line first), so after the bridge refuses a chunk the rest is
//     still parsed; among bridge errors FlowTx reports the one FlowMods
//     would have for the whole batch.
//   - The store commits only after the bridge accepted every chunk.

// addChunkLines is how many lines are parsed and applied at a time: large
// enough that the per-chunk hand-offs cost nothing, small enough that two
// chunks of FlowMods (~450 B each) stay under 4 MB.
const addChunkLines = 4096

// addOnly reports whether every line of an add-flows request is an add:
// a line may start with another command keyword (lineCommand), and a batch
// that mixes in deletes or modifies goes the general way.
func addOnly(lines []api.FlowLine) bool {
	for i := range lines {
		if _, c := lineCommand(lines[i].Text, openflow.FlowAdd); c != openflow.FlowAdd {
			return false
		}
	}
	return true
}

// addChunk is one chunk of add-flows lines, parsed and formatted as store
// records. Its buffers are reused from chunk to chunk.
type addChunk struct {
	fms  []openflow.FlowMod
	acts [2][]openflow.Action // one action buffer per parsing worker
	keys [][]byte
	vals [][]byte
	errs [2]error // the first parse error of each worker's half
	bad  [2]int   // the index in the chunk of errs' lines
}

// parse parses lines into c in two halves at once and,
// if format, formats their store records. It returns the first parse error,
// as the request reports it.
func (c *addChunk) parse(lines []api.FlowLine, names ofctl.PortNamer, source string, format bool) error {
	// Two parsers, not GOMAXPROCS: they run beside the bridge applying
	// the previous chunk and the store queueing its records, and each
	// needs its own action buffer (acts, errs and bad are per parser).
	n := len(lines)
	c.fms = growLen(c.fms, n)
	c.keys, c.vals = growLen(c.keys, n), growLen(c.vals, n)
	mid := n / 2
	if n < 64 {
		mid = n // not worth a goroutine
	}
	var wg sync.WaitGroup
	if mid < n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.parseRange(1, lines, mid, n, names, format)
		}()
	}
	c.parseRange(0, lines, 0, mid, names, format)
	wg.Wait()
	for w := range c.errs {
		if err := c.errs[w]; err != nil {
			i := c.bad[w]
			return api.BadRequest("%s%s", linePrefix(lines, i, source), strings.TrimPrefix(err.Error(), "ofctl: "))
		}
	}
	return nil
}

// parseRange is worker w's share of parse: lines [lo, hi).
func (c *addChunk) parseRange(w int, lines []api.FlowLine, lo, hi int, names ofctl.PortNamer, format bool) {
	c.errs[w] = nil
	acts := c.acts[w][:0]
	var a recordArena
	for i := lo; i < hi; i++ {
		text, _ := lineCommand(lines[i].Text, openflow.FlowAdd)
		var err error
		c.fms[i], acts, err = ofctl.ParseFlowModBuf(text, openflow.FlowAdd, names, acts)
		if err != nil {
			c.errs[w], c.bad[w] = err, i
			break // later lines of this half cannot come first
		}
		if format {
			fm := &c.fms[i]
			c.keys[i] = a.key(fm.Table, fm.Priority, &fm.Match)
			c.vals[i] = a.text(fm)
		}
	}
	c.acts[w] = acts
}

// growLen returns s with length n, reusing its array when it is big enough.
func growLen[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// addLines adds the flows of lines, which are all adds (addOnly), to the
// bridge and the store, chunk by chunk (see above). A parse error comes
// back as an *api.Error, a refusal by the bridge as a *bridgeErr, and any
// other error is the store's (the bridge may then hold flows the store
// does not: the caller reloads it).
func (d *Daemon) addLines(rt *bridgeRT, lines []api.FlowLine, source string) (ofproto.FlowChanges, error) {
	tx := rt.br.BeginFlowMods()
	defer tx.Abort()
	tx.Grow(len(lines))
	var ch ofproto.FlowChanges
	err := d.st.Update(func(stx *store.Tx) error {
		path := flowsPath(rt.name)
		stx.Grow(len(lines))
		var chunks [2]addChunk
		cur, next := &chunks[0], &chunks[1]
		hi := min(addChunkLines, len(lines))
		if err := cur.parse(lines[:hi], rt, source, true); err != nil {
			return err
		}
		refused := false
		for lo := 0; lo < len(lines); lo, hi = hi, min(hi+addChunkLines, len(lines)) {
			nextLines := lines[hi:min(hi+addChunkLines, len(lines))]
			var applyErr, putErr, parseErr error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				applyErr = tx.Apply(cur.fms)
			}()
			go func() {
				defer wg.Done()
				if !refused {
					putErr = putRecords(stx, path, cur)
				}
			}()
			// A refused batch is parsed to the end only to find a parse
			// error that would win over the bridge's.
			if len(nextLines) > 0 {
				parseErr = next.parse(nextLines, rt, source, !refused)
			}
			wg.Wait()
			switch {
			case parseErr != nil:
				return parseErr
			case putErr != nil:
				return putErr
			}
			refused = refused || applyErr != nil
			cur, next = next, cur
		}
		var err error
		if ch, err = tx.Commit(); err != nil {
			return &bridgeErr{err}
		}
		// Adds remove nothing, but stay exact if the bridge says otherwise.
		for i := range ch.Removed {
			fs := &ch.Removed[i]
			if err := stx.Delete(path, flowKey(fs.Table, fs.Priority, &fs.Match)); err != nil {
				return err
			}
		}
		return nil
	})
	return ch, err
}

// putRecords queues a chunk's store records in stx, and drops the chunk's
// references to them (the transaction keeps them until it commits).
func putRecords(stx *store.Tx, path []string, c *addChunk) error {
	for i, k := range c.keys {
		if err := stx.PutBytes(path, k, c.vals[i]); err != nil {
			return err
		}
	}
	clear(c.keys)
	clear(c.vals)
	return nil
}
