package flow

import (
	"reflect"
	"testing"
	"unsafe"
)

// TestKeyLayout guards the word view in key_words.go: a Key must have no
// padding and a size that is a multiple of 8.
func TestKeyLayout(t *testing.T) {
	typ := reflect.TypeOf(Key{})
	var sum uintptr
	for i := 0; i < typ.NumField(); i++ {
		sum += typ.Field(i).Type.Size()
	}
	if size := unsafe.Sizeof(Key{}); sum != size || size%8 != 0 {
		t.Fatalf("Key: fields sum to %d bytes, struct is %d; want equal and a multiple of 8", sum, size)
	}
}

func TestFieldGetSet(t *testing.T) {
	for _, f := range All() {
		var k Key
		full := f.FullMask()
		f.Set(&k, full)
		got := f.Get(&k)
		if f == FieldArpOp { // stored in the 8-bit nw_proto, as OVS does
			full = U64(0xff)
		}
		if got != full {
			t.Errorf("%v: Set(all ones) then Get = %x, want %x", f, got, full)
		}
		f.Set(&k, Value{})
		if got := f.Get(&k); !got.IsZero() {
			t.Errorf("%v: Set(0) then Get = %x, want 0", f, got)
		}
	}
}

func TestFieldViews(t *testing.T) {
	var k Key
	FieldVlanTCI.Set(&k, U64(0xb00a)) // pcp 5, CFI, vid 10
	if got := FieldDlVlan.Get(&k).Uint64(); got != 10 {
		t.Errorf("dl_vlan = %d, want 10", got)
	}
	if got := FieldVlanPCP.Get(&k).Uint64(); got != 5 {
		t.Errorf("dl_vlan_pcp = %d, want 5", got)
	}
	if got := FieldVlanVID.Get(&k).Uint64(); got != 0x100a {
		t.Errorf("vlan_vid = %#x, want 0x100a", got)
	}
	FieldIPDSCP.Set(&k, U64(46))
	FieldNwECN.Set(&k, U64(1))
	if k.NwTos != 46<<2|1 {
		t.Errorf("NwTos = %#x, want %#x", k.NwTos, 46<<2|1)
	}
}

func TestMatch(t *testing.T) {
	var m Match
	m.SetMasked(FieldNwDst, U64(0x0a000001), U64(0xffffff00))
	m.Set(FieldDlType, U64(EthTypeIPv4))
	var k Key
	k.DlType = EthTypeIPv4
	k.NwDst = [4]byte{10, 0, 0, 77}
	if !m.Matches(&k) {
		t.Errorf("10.0.0.0/24 does not match 10.0.0.77")
	}
	k.NwDst = [4]byte{10, 0, 1, 77}
	if m.Matches(&k) {
		t.Errorf("10.0.0.0/24 matches 10.0.1.77")
	}
	if v, _ := m.Get(FieldNwDst); v.Uint64() != 0x0a000000 {
		t.Errorf("key not normalized: %x", v)
	}
}

func TestLookup(t *testing.T) {
	for name, want := range map[string]Field{"dl_src": FieldDlSrc, "eth_src": FieldDlSrc, "NXM_NX_REG3": FieldReg3, "ip_dst": FieldNwDst, "reg15": FieldReg15} {
		if got, ok := Lookup(name); !ok || got != want {
			t.Errorf("Lookup(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
}
