// Command ofstream streams N OpenFlow 1.3 flow mods over one connection to
// a switch (Open vSwitch or tapestry), then a barrier, and prints how long
// the switch took to answer the barrier: the flow-mod rate a controller
// pushing flows as fast as it can sees. bench/flowmods.sh runs it against
// both on the same machine.
//
//	ofstream -n 200000 unix:/run/tapestry/br0.mgmt
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"tapestry/flow"
	"tapestry/ofconn"
	"tapestry/openflow"
)

func main() {
	n := flag.Int("n", 200000, "flow mods to send")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: ofstream [-n N] unix:PATH|tcp:IP:PORT")
		os.Exit(2)
	}
	rate, err := run(flag.Arg(0), *n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ofstream:", err)
		os.Exit(1)
	}
	fmt.Printf("%d flowmods in %.3f s: %.0f flowmods/s\n", *n, float64(*n)/rate, rate)
}

// barrierXID marks the barrier that ends the stream.
const barrierXID = 0xbeef

// stream encodes n adds (priority 100, ip, nw_dst counting up, output:2)
// and the closing barrier, as one buffer written at once.
func stream(n int) ([]byte, error) {
	fm := &openflow.FlowMod{Command: openflow.FlowAdd, Priority: 100, BufferID: openflow.NoBuffer,
		OutPort: openflow.PortAny, OutGroup: openflow.GroupAny,
		Actions: []openflow.Action{{Type: openflow.ActOutput, Port: 2}}}
	fm.Match.Set(flow.FieldDlType, flow.U64(0x0800))
	var b []byte
	for i := 0; i < n; i++ {
		fm.Match.Set(flow.FieldNwDst, flow.Bytes([]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		var err error
		if b, err = fm.Append(b, openflow.Version13, uint32(i+1)); err != nil {
			return nil, err
		}
	}
	return (&openflow.BarrierRequest{}).Append(b, openflow.Version13, barrierXID)
}

// run sends the stream to target and returns flow mods per second up to
// the barrier reply. Any other reply (an OFPT_ERROR) fails the run.
func run(target string, n int) (float64, error) {
	network, addr, ok, err := ofconn.ParseTarget(target)
	if err != nil || !ok {
		return 0, fmt.Errorf("bad target %q: %v", target, err)
	}
	buf, err := stream(n)
	if err != nil {
		return 0, err
	}
	nc, err := net.Dial(network, addr)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := ofconn.Handshake(ctx, nc, ofconn.Bitmap(openflow.Version13))
	if err != nil {
		return 0, err
	}
	start := time.Now()
	werr := make(chan error, 1)
	go func() { _, err := nc.Write(buf); werr <- err }()
	for {
		m, xid, err := c.Receive(ctx)
		if err != nil {
			return 0, fmt.Errorf("waiting for the barrier reply: %w", err)
		}
		if m.Type() == openflow.TypeBarrierReply && xid == barrierXID {
			break
		}
		if m.Type() == openflow.TypeError {
			return 0, fmt.Errorf("the switch answered xid %d with %+v", xid, m)
		}
	}
	elapsed := time.Since(start)
	if err := <-werr; err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}
