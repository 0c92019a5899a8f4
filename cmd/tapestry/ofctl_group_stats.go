package main

import (
	"encoding/binary"
	"fmt"

	"tapestry/openflow"
)

// The openflow codec keeps group-stats reply bodies raw (MultipartReply.
// Body), so the CLI reads them here: a sequence of struct ofp_group_stats
// (OpenFlow 1.3 §7.3.5.9).
const (
	gsLength   = 0  // uint16: this entry's length, buckets included
	gsGroupID  = 4  // uint32
	gsRefCount = 8  // uint32
	gsPackets  = 16 // uint64
	gsBytes    = 24 // uint64
	gsDurSec   = 32 // uint32
	gsDurNsec  = 36 // uint32
	gsLen      = 40 // fixed part; then 16 bytes (packets, bytes) per bucket
	gsBucket   = 16
)

// decodeGroupStats parses a group-stats reply body, refusing an entry whose
// length is short, not a whole number of bucket counters, or past the end.
func decodeGroupStats(b []byte) ([]openflow.GroupStats, error) {
	var out []openflow.GroupStats
	for len(b) > 0 {
		if len(b) < gsLen {
			return nil, fmt.Errorf("group stats entry truncated to %d bytes", len(b))
		}
		n := int(binary.BigEndian.Uint16(b[gsLength:]))
		if n < gsLen || (n-gsLen)%gsBucket != 0 || n > len(b) {
			return nil, fmt.Errorf("group stats entry length %d", n)
		}
		gs := openflow.GroupStats{
			ID:       binary.BigEndian.Uint32(b[gsGroupID:]),
			RefCount: binary.BigEndian.Uint32(b[gsRefCount:]),
			Packets:  binary.BigEndian.Uint64(b[gsPackets:]),
			Bytes:    binary.BigEndian.Uint64(b[gsBytes:]),
			Duration: uint64(binary.BigEndian.Uint32(b[gsDurSec:]))<<32 | uint64(binary.BigEndian.Uint32(b[gsDurNsec:])),
			Buckets:  make([][2]uint64, (n-gsLen)/gsBucket),
		}
		for i := range gs.Buckets {
			bc := b[gsLen+i*gsBucket:]
			gs.Buckets[i] = [2]uint64{binary.BigEndian.Uint64(bc), binary.BigEndian.Uint64(bc[8:])}
		}
		out = append(out, gs)
		b = b[n:]
	}
	return out, nil
}
