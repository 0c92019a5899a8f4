package controller

import (
	"encoding/binary"
	"log/slog"
	"net"
	"testing"
	"time"

	"tapestry/openflow"
)

// TestHelloFromNewerVersion is Open vSwitch 3.x's opening: a hello in
// OpenFlow 1.5 (0x06) with a bitmap of 1.0-1.5. The controller must read
// it and settle on 1.3, not refuse the version.
func TestHelloFromNewerVersion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint8
		bitmap  uint32 // 0: no bitmap element
		want    uint8
	}{
		{"ovs 3.x, 1.0-1.5", 0x06, 0x7e, openflow.Version13},
		{"1.4 and 1.0 only", 0x05, 1<<0x05 | 1<<0x01, openflow.Version10},
		{"1.5 header, no bitmap", 0x06, 0, openflow.Version13},
		{"1.0 header, no bitmap", 0x01, 0, openflow.Version10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{Logger: slog.New(slog.DiscardHandler)})
			local, remote := net.Pipe()
			defer remote.Close()
			s := newSwitch(c, local)
			defer s.Close()
			errc := make(chan error, 1)
			go func() { errc <- s.handshake(make([]byte, maxMessage), 5*time.Second) }()
			hello := []byte{tc.version, 0, 0, 8, 0, 0, 0, 9}
			if tc.bitmap != 0 {
				hello = append(hello, 0, 1, 0, 8, 0, 0, 0, 0)
				binary.BigEndian.PutUint32(hello[12:], tc.bitmap)
			}
			binary.BigEndian.PutUint16(hello[2:], uint16(len(hello)))
			go func() { _, _ = remote.Write(hello) }()
			buf := make([]byte, maxMessage)
			if _, err := openflow.ReadMessage(remote, buf); err != nil { // our hello
				t.Fatal(err)
			}
			m, err := openflow.ReadMessage(remote, buf)
			if err != nil {
				t.Fatalf("no features request after the hello: %v", err)
			}
			if m[0] != tc.want || m[1] != 5 {
				t.Errorf("after the hello: version 0x%02x type %d, want a features request in 0x%02x", m[0], m[1], tc.want)
			}
			remote.Close()
			<-errc // the features reply never comes: the pipe is closed
			if s.Version != tc.want {
				t.Errorf("negotiated 0x%02x, want 0x%02x", s.Version, tc.want)
			}
		})
	}
}

// TestNarrowICMPMask: icmp_type/icmp_code from ovs-ofctl text encode as
// OXM for OpenFlow 1.3 (they did not before: the 16-bit tp_src mask had
// no 8-bit TLV to carry it).
func TestNarrowICMPMask(t *testing.T) {
	for _, tc := range []struct {
		text string
		ok   bool
	}{
		{"priority=100,icmp,nw_src=10.8.0.1,icmp_type=8,actions=drop", true},
		{"icmp,icmp_type=3,icmp_code=1,actions=drop", true},
		{"icmp6,icmp_type=135,actions=drop", true},
		{"udp,tp_src=53,actions=drop", true},
		{"icmp,icmp_type=300,actions=drop", false},
	} {
		fm, err := parseFlowMod(tc.text, openflow.FlowAdd)
		if err == nil {
			_, err = fm.Append(nil, openflow.Version13, 1)
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.text, err, tc.ok)
		}
	}
}
