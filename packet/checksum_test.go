package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// slowSum is the RFC 1071 definition, one 16-bit word at a time, folded at
// the end: the oracle for Sum's 64-bit loop.
func slowSum(b []byte, initial uint16) uint16 {
	acc := uint32(initial)
	for i := 0; i+1 < len(b); i += 2 {
		acc += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		acc += uint32(b[len(b)-1]) << 8
	}
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

func TestSumMatchesOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		if n%7 == 0 {
			for i := range b {
				b[i] = 0xff // all-ones words stress the carries
			}
		}
		init := uint16(r.UintN(1 << 16))
		if got, want := Sum(b, init), slowSum(b, init); got != want {
			t.Fatalf("Sum(len %d, %#x) = %#x, want %#x", n, init, got, want)
		}
	}
}

func TestChecksumKnownValue(t *testing.T) {
	// RFC 1071 section 3 example: the sum of 0001 f203 f4f5 f6f7 is ddf2.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Sum(b, 0); got != 0xddf2 {
		t.Errorf("Sum(RFC 1071 example) = %#x, want 0xddf2", got)
	}
	if got := Checksum(b); got != 0x220d {
		t.Errorf("Checksum(RFC 1071 example) = %#x, want 0x220d", got)
	}
}

// TestChecksumUpdate changes random words of random data and checks that the
// incrementally updated checksum verifies, as a full recomputation does.
func TestChecksumUpdate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		b := make([]byte, 2+2*int(r.UintN(20)+2))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		binary.BigEndian.PutUint16(b, 0)
		binary.BigEndian.PutUint16(b, Checksum(b))
		check := binary.BigEndian.Uint16(b)
		switch r.UintN(3) {
		case 0:
			off := 2 + 2*int(r.UintN(uint(len(b)/2-1)))
			from := binary.BigEndian.Uint16(b[off:])
			to := uint16(r.UintN(1 << 16))
			binary.BigEndian.PutUint16(b[off:], to)
			check = ChecksumUpdate16(check, from, to)
		case 1:
			off := 2 + 2*int(r.UintN(uint(len(b)/2-2)))
			from := binary.BigEndian.Uint32(b[off:])
			to := r.Uint32()
			binary.BigEndian.PutUint32(b[off:], to)
			check = ChecksumUpdate32(check, from, to)
		default:
			off := 2 + 2*int(r.UintN(uint(len(b)/2-2)))
			from := append([]byte(nil), b[off:off+4]...)
			to := []byte{byte(r.UintN(256)), byte(r.UintN(256)), byte(r.UintN(256)), byte(r.UintN(256))}
			copy(b[off:], to)
			check = ChecksumUpdateBytes(check, from, to)
		}
		binary.BigEndian.PutUint16(b, check)
		if s := Sum(b, 0); s != 0xffff {
			t.Fatalf("after incremental update %x sums to %#x, want 0xffff", b, s)
		}
	}
}

func TestSCTPChecksumKnownValue(t *testing.T) {
	// RFC 3720 appendix B.4: the CRC-32C of 32 zero bytes is 0x8a9136aa,
	// transmitted as aa 36 91 8a; SCTP stores it the same way (RFC 9260
	// appendix A). A zero buffer has a zero checksum field already.
	pkt := make([]byte, 32)
	c := SCTPChecksum(pkt)
	if c != 0x8a9136aa {
		t.Fatalf("SCTPChecksum(32 zero bytes) = %#x, want 0x8a9136aa", c)
	}
	SCTP(pkt).SetChecksum(c)
	if got := pkt[8:12]; got[0] != 0xaa || got[1] != 0x36 || got[2] != 0x91 || got[3] != 0x8a {
		t.Errorf("stored checksum bytes = % x, want aa 36 91 8a", got)
	}
	if got := SCTPChecksum(pkt); got != c {
		t.Errorf("SCTPChecksum after storing = %#x, want %#x (field is skipped)", got, c)
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		Sum(buf, 0)
	}
}
