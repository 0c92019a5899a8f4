package lua

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpen(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, otherPriv, _ := ed25519.GenerateKey(nil)
	src := []byte("function on_switch_up(sw) end")
	plain, _ := Seal(src, "app", key(1), nil)
	signed, _ := Seal(src, "app", key(1), priv)
	gcm, _ := SealWith(AlgAES256GCM, src, "app", key(1), priv)
	byOther, _ := Seal(src, "app", key(1), otherPriv)
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	tests := []struct {
		name    string
		sealed  []byte
		app     string
		key     []byte
		trusted []ed25519.PublicKey
		want    error
	}{
		{"ok", plain, "app", key(1), nil, nil},
		{"ok signed unchecked", signed, "app", key(1), nil, nil},
		{"ok signed checked", signed, "app", key(1), []ed25519.PublicKey{otherPub, pub}, nil},
		{"ok gcm signed", gcm, "app", key(1), []ed25519.PublicKey{pub}, nil},
		{"wrong key", plain, "app", key(2), nil, ErrWrongKey},
		{"renamed", plain, "other", key(1), nil, ErrTampered},
		{"tampered body", flip(plain, len(plain)-3), "app", key(1), nil, ErrTampered},
		{"tampered nonce", flip(plain, 20), "app", key(1), nil, ErrTampered},
		{"tampered signed", flip(signed, 40), "app", key(1), []ed25519.PublicKey{pub}, ErrBadSignature},
		{"unsigned but required", plain, "app", key(1), []ed25519.PublicKey{pub}, ErrSignatureMissing},
		{"signed by untrusted", byOther, "app", key(1), []ed25519.PublicKey{pub}, ErrBadSignature},
		{"not sealed", src, "app", key(1), nil, ErrNotSealed},
		{"bad version", flip(plain, 4), "app", key(1), nil, ErrNotSealed},
		{"truncated", plain[:20], "app", key(1), nil, ErrTampered},
	}
	for _, tt := range tests {
		got, err := Open(tt.sealed, tt.app, tt.key, tt.trusted)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Open error = %v, want %v", tt.name, err, tt.want)
		}
		if tt.want == nil && !bytes.Equal(got, src) {
			t.Errorf("%s: Open = %q, want %q", tt.name, got, src)
		}
	}
}

func TestParseKey(t *testing.T) {
	k := key(0xab)
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"raw", string(k), true},
		{"hex", "abababababababababababababababababababababababababababababababab\n", true},
		{"base64", "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=", true},
		{"base64 raw", "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s", true},
		{"short hex", "abab", false},
		{"junk", "not a key at all", false},
	}
	for _, tt := range tests {
		got, err := ParseKey([]byte(tt.in))
		if (err == nil) != tt.ok || (tt.ok && !bytes.Equal(got, k)) {
			t.Errorf("%s: ParseKey = %x, %v; want ok=%v", tt.name, got, err, tt.ok)
		}
	}
	t.Setenv(KeyEnv, "abababababababababababababababababababababababababababababababab")
	if got, err := LoadKey(""); err != nil || !bytes.Equal(got, k) {
		t.Errorf("LoadKey from env = %x, %v", got, err)
	}
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, k, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadKey(p); err != nil || !bytes.Equal(got, k) {
		t.Errorf("LoadKey(file) = %x, %v", got, err)
	}
}

func FuzzOpen(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(nil)
	s1, _ := Seal([]byte("x=1"), "app", key(1), nil)
	s2, _ := SealWith(AlgAES256GCM, []byte("x=1"), "app", key(1), priv)
	f.Add(s1)
	f.Add(s2)
	f.Add([]byte("TLUA\x01\x01\x01\x00"))
	pub := priv.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Open(b, "app", key(1), nil)
		_, _ = Open(b, "app", key(1), []ed25519.PublicKey{pub})
	})
}
