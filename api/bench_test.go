package api

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
)

func flowLines(n int) []byte {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "in_port=1,nw_dst=10.%d.%d.%d,ip,actions=output:2\n", i>>16, (i>>8)&255, i&255)
	}
	return []byte(sb.String())
}

// BenchmarkFlowModsTransfer100k measures what the API adds to add-flows:
// 100,000 lines through the client, the unix socket, the server and the
// line splitter (the backend does nothing).
func BenchmarkFlowModsTransfer100k(b *testing.B) {
	fb := &fakeBackend{}
	c := startServer(b, fb)
	body := flowLines(100000)
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := c.FlowMods(ctx, "br0", FlowCmdAdd, "", body)
		if err != nil || res.Added != 100000 {
			b.Fatalf("FlowMods = %+v, %v", res, err)
		}
	}
}

// BenchmarkDumpFlowsTransfer100k measures 100,000 dump-flows lines coming
// back through the socket.
func BenchmarkDumpFlowsTransfer100k(b *testing.B) {
	var sb strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&sb, " cookie=0x0, duration=1.000s, table=0, n_packets=0, n_bytes=0, ip,in_port=1,nw_dst=10.%d.%d.%d actions=output:2\n", i>>16, (i>>8)&255, i&255)
	}
	fb := &fakeBackend{flowLines: sb.String()}
	c := startServer(b, fb)
	ctx := context.Background()
	b.SetBytes(int64(sb.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := c.DumpFlows(ctx, "br0", DumpFlowsRequest{}, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
