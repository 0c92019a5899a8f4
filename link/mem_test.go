package link

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// frame returns an n-byte frame whose bytes encode id, so a test can tell
// frames apart after they crossed the wire.
func frame(n int, id byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = id + byte(i)
	}
	return b
}

func readBufs(n int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, FrameSize)
	}
	return bufs, make([]int, n)
}

func TestPipeRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		sizes  []int
		batch  int // read batch size
		offset int
	}{
		{"one frame", []int{60}, 64, Headroom},
		{"min and max", []int{14, 1514 + 8}, 64, Headroom},
		{"batch larger than reader", []int{60, 61, 62, 63, 64}, 2, 0},
		{"full batch", repeat(64, 100), 64, Headroom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := Pipe("a", "b", PipeOptions{})
			defer a.Close()
			defer b.Close()
			var pkts [][]byte
			for i, n := range tc.sizes {
				pkts = append(pkts, frame(n, byte(i)))
			}
			if n, err := a.Write(pkts); n != len(pkts) || err != nil {
				t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(pkts))
			}
			bufs, sizes := readBufs(tc.batch)
			var got int
			for got < len(pkts) {
				n, err := b.Read(bufs, sizes, tc.offset)
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				for i := 0; i < n; i++ {
					if f := bufs[i][tc.offset : tc.offset+sizes[i]]; !bytes.Equal(f, pkts[got]) {
						t.Fatalf("frame %d: got %d bytes % x..., want %d bytes", got, len(f), f[:min(8, len(f))], len(pkts[got]))
					}
					got++
				}
			}
			st := b.Stats()
			if st.RxPackets != uint64(len(pkts)) || a.Stats().TxPackets != uint64(len(pkts)) {
				t.Errorf("Stats: b rx %d, a tx %d; want %d", st.RxPackets, a.Stats().TxPackets, len(pkts))
			}
		})
	}
}

func repeat(n, count int) []int {
	s := make([]int, count)
	for i := range s {
		s[i] = n
	}
	return s
}

func TestPipeDrops(t *testing.T) {
	a, b := Pipe("a", "b", PipeOptions{QueueLen: 4, MTU: 100})
	defer a.Close()
	defer b.Close()
	pkts := [][]byte{frame(60, 1), frame(60, 2), frame(123, 3), frame(122, 4), frame(60, 5), frame(60, 6), frame(60, 7)}
	n, err := a.Write(pkts)
	if err != nil || n != 4 {
		t.Fatalf("Write = %d, %v; want 4, nil", n, err)
	}
	want := Stats{TxPackets: 4, TxBytes: 60*3 + 122, TxDropped: 2, TxErrors: 1}
	if got := a.Stats(); got != want {
		t.Errorf("a.Stats() = %+v, want %+v", got, want)
	}
	bufs, sizes := readBufs(8)
	n, err = b.Read(bufs, sizes, 0)
	if err != nil || n != 4 {
		t.Fatalf("Read = %d, %v; want 4, nil", n, err)
	}
	for i, want := range [][]byte{pkts[0], pkts[1], pkts[3], pkts[4]} {
		if !bytes.Equal(bufs[i][:sizes[i]], want) {
			t.Errorf("frame %d = %d bytes, want %d", i, sizes[i], len(want))
		}
	}
	// The queue drained, so the next batch fits again.
	if n, _ := a.Write(pkts[5:]); n != 2 {
		t.Errorf("Write after drain = %d, want 2", n)
	}
}

func TestPipeShortBuffer(t *testing.T) {
	a, b := Pipe("a", "b", PipeOptions{})
	defer a.Close()
	defer b.Close()
	a.Write([][]byte{frame(200, 1), frame(50, 2)})
	bufs := [][]byte{make([]byte, 100)}
	sizes := make([]int, 1)
	n, err := b.Read(bufs, sizes, 10)
	if n != 1 || err != nil || sizes[0] != 50 {
		t.Fatalf("Read = %d, %v, size %d; want 1, nil, 50", n, err, sizes[0])
	}
	if got := b.Stats(); got.RxDropped != 1 || got.RxPackets != 1 {
		t.Errorf("b.Stats() = %+v, want RxDropped 1, RxPackets 1", got)
	}
}

func TestPipeCloseUnblocksRead(t *testing.T) {
	a, b := Pipe("a", "b", PipeOptions{})
	errc := make(chan error)
	go func() {
		bufs, sizes := readBufs(4)
		_, err := b.Read(bufs, sizes, 0)
		errc <- err
	}()
	b.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if _, err := b.Write([][]byte{frame(60, 0)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write on closed end = %v, want ErrClosed", err)
	}
	// The peer's writes now go nowhere and are counted as dropped.
	if n, err := a.Write([][]byte{frame(60, 0)}); n != 0 || err != nil {
		t.Errorf("Write toward closed end = %d, %v; want 0, nil", n, err)
	}
	if got := a.Stats().TxDropped; got != 1 {
		t.Errorf("a TxDropped = %d, want 1", got)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	a.Close()
}

func TestPipeCloseDiscardsQueued(t *testing.T) {
	a, b := Pipe("a", "b", PipeOptions{})
	a.Write([][]byte{frame(60, 0), frame(60, 1)})
	b.Close()
	if got := a.Stats().TxDropped; got != 2 {
		t.Errorf("a TxDropped after peer Close = %d, want 2", got)
	}
	bufs, sizes := readBufs(4)
	if _, err := b.Read(bufs, sizes, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Read on closed end = %v, want ErrClosed", err)
	}
	a.Close()
}

// TestPipeConcurrentWriters checks that frames from several writers all
// arrive intact and that each writer's frames keep their order.
func TestPipeConcurrentWriters(t *testing.T) {
	const writers, perWriter = 4, 2000
	a, b := Pipe("a", "b", PipeOptions{QueueLen: writers * perWriter})
	defer a.Close()
	defer b.Close()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i += 8 {
				batch := make([][]byte, 8)
				for j := range batch {
					batch[j] = []byte(fmt.Sprintf("w%d-%06d", w, i+j))
				}
				if n, err := a.Write(batch); n != 8 || err != nil {
					t.Errorf("Write = %d, %v", n, err)
					return
				}
			}
		}()
	}
	next := make([]int, writers)
	bufs, sizes := readBufs(BatchSize)
	for total := 0; total < writers*perWriter; {
		n, err := b.Read(bufs, sizes, 0)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for i := 0; i < n; i++ {
			var w, seq int
			if _, err := fmt.Sscanf(string(bufs[i][:sizes[i]]), "w%d-%d", &w, &seq); err != nil {
				t.Fatalf("frame %q: %v", bufs[i][:sizes[i]], err)
			}
			if seq != next[w] {
				t.Fatalf("writer %d: got seq %d, want %d", w, seq, next[w])
			}
			next[w]++
		}
		total += n
	}
	wg.Wait()
}

// roundTrip writes a batch into a and reads it all back from b.
func roundTrip(a, b *Mem, pkts, bufs [][]byte, sizes []int) int {
	a.Write(pkts)
	got := 0
	for got < len(pkts) {
		n, _ := b.Read(bufs, sizes, Headroom)
		got += n
	}
	return got
}

func TestPipeAllocs(t *testing.T) {
	a, b := Pipe("a", "b", PipeOptions{})
	defer a.Close()
	defer b.Close()
	pkts := make([][]byte, BatchSize)
	for i := range pkts {
		pkts[i] = frame(64, byte(i))
	}
	bufs, sizes := readBufs(BatchSize)
	allocs := testing.AllocsPerRun(100, func() {
		if n := roundTrip(a, b, pkts, bufs, sizes); n != BatchSize {
			t.Fatalf("round trip moved %d frames, want %d", n, BatchSize)
		}
	})
	if allocs != 0 {
		t.Errorf("Write+Read of %d frames: %v allocs, want 0", BatchSize, allocs)
	}
}

// BenchmarkPipe measures one Write of a batch plus the Reads that drain it;
// ns/frame is the cost of moving one frame across the wire.
func BenchmarkPipe(b *testing.B) {
	for _, size := range []int{64, 1500} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			x, y := Pipe("a", "b", PipeOptions{})
			defer x.Close()
			defer y.Close()
			pkts := make([][]byte, BatchSize)
			for i := range pkts {
				pkts[i] = frame(size, byte(i))
			}
			bufs, sizes := readBufs(BatchSize)
			b.ReportAllocs()
			b.SetBytes(int64(size * BatchSize))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				roundTrip(x, y, pkts, bufs, sizes)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*BatchSize), "ns/frame")
		})
	}
}

// BenchmarkPipeConcurrent has a writer and a reader goroutine, as a bridge
// port and a userspace host would.
func BenchmarkPipeConcurrent(b *testing.B) {
	x, y := Pipe("a", "b", PipeOptions{QueueLen: 4096})
	pkts := make([][]byte, BatchSize)
	for i := range pkts {
		pkts[i] = frame(64, byte(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan int)
	go func() {
		bufs, sizes := readBufs(BatchSize)
		total := 0
		for {
			n, err := y.Read(bufs, sizes, Headroom)
			if err != nil {
				done <- total
				return
			}
			total += n
		}
	}()
	for i := 0; i < b.N; i++ {
		x.Write(pkts)
	}
	b.StopTimer()
	y.Close()
	got := <-done
	x.Close()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*BatchSize), "ns/frame")
	b.ReportMetric(float64(got)/float64(b.N*BatchSize), "delivered")
}
