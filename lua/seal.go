package lua

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealed Lua file format (version 1), all integers big-endian:
//
//	magic   "TLUA"  4 bytes
//	version 1       1 byte
//	alg             1 byte: 1 XChaCha20-Poly1305, 2 AES-256-GCM
//	flags           1 byte: bit 0 = signed
//	reserved 0      1 byte
//	key id          8 bytes: SHA-256("tapestry lua key id" || key)[:8]
//	nonce           24 (XChaCha) or 12 (GCM) bytes
//	ciphertext+tag
//	signature       64 bytes, when signed: Ed25519 over everything before it
//
// The AEAD's associated data is the header (magic through nonce) followed
// by the app name, so a file renamed to another app, or with a changed
// header, does not open. The key id lets Open tell a wrong key from a
// tampered file without trying to decrypt.

const (
	magic       = "TLUA"
	version1    = 1
	flagSigned  = 1
	fixedHeader = 16 // magic..key id
)

// Algorithms.
const (
	AlgXChaCha20Poly1305 byte = 1
	AlgAES256GCM         byte = 2
)

// KeySize is the size of a sealing key.
const KeySize = 32

// Errors Open returns (wrapped, with detail).
var (
	ErrNotSealed        = errors.New("lua: not a sealed Lua file")
	ErrWrongKey         = errors.New("lua: wrong key")
	ErrTampered         = errors.New("lua: sealed file tampered with or sealed for another app name")
	ErrSignatureMissing = errors.New("lua: signature required but file is not signed")
	ErrBadSignature     = errors.New("lua: bad signature")
)

func keyID(key []byte) [8]byte {
	h := sha256.Sum256(append([]byte("tapestry lua key id"), key...))
	return [8]byte(h[:8])
}

func aead(alg byte, key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("lua: key is %d bytes, want %d", len(key), KeySize)
	}
	switch alg {
	case AlgXChaCha20Poly1305:
		return chacha20poly1305.NewX(key)
	case AlgAES256GCM:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	}
	return nil, fmt.Errorf("%w: unknown algorithm %d", ErrNotSealed, alg)
}

// Seal encrypts a Lua app for appName with XChaCha20-Poly1305, signing it
// with signer when signer is not nil.
func Seal(plaintext []byte, appName string, key []byte, signer ed25519.PrivateKey) ([]byte, error) {
	return SealWith(AlgXChaCha20Poly1305, plaintext, appName, key, signer)
}

// SealWith is Seal with a chosen algorithm.
func SealWith(alg byte, plaintext []byte, appName string, key []byte, signer ed25519.PrivateKey) ([]byte, error) {
	a, err := aead(alg, key)
	if err != nil {
		return nil, err
	}
	var flags byte
	if signer != nil {
		if len(signer) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("lua: signing key is %d bytes, want %d", len(signer), ed25519.PrivateKeySize)
		}
		flags |= flagSigned
	}
	id := keyID(key)
	out := append([]byte(magic), version1, alg, flags, 0)
	out = append(out, id[:]...)
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	ad := append(append([]byte(nil), out...), appName...)
	out = a.Seal(out, nonce, plaintext, ad)
	if signer != nil {
		out = append(out, ed25519.Sign(signer, out)...)
	}
	return out, nil
}

// Open checks and decrypts a sealed app. With trusted keys given, the file
// must carry a valid signature by one of them. The errors say which check
// failed: ErrNotSealed, ErrWrongKey, ErrTampered, ErrSignatureMissing,
// ErrBadSignature.
func Open(sealed []byte, appName string, key []byte, trusted []ed25519.PublicKey) ([]byte, error) {
	if len(sealed) < fixedHeader || string(sealed[:4]) != magic {
		return nil, fmt.Errorf("%w: no %q magic", ErrNotSealed, magic)
	}
	if v := sealed[4]; v != version1 {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrNotSealed, v)
	}
	alg, flags := sealed[5], sealed[6]
	if flags&^flagSigned != 0 || sealed[7] != 0 {
		return nil, fmt.Errorf("%w: unknown flags 0x%02x", ErrNotSealed, flags)
	}
	a, err := aead(alg, key)
	if err != nil {
		return nil, err
	}
	hlen := fixedHeader + a.NonceSize()
	body := sealed
	signed := flags&flagSigned != 0
	if signed {
		if len(sealed) < hlen+a.Overhead()+ed25519.SignatureSize {
			return nil, fmt.Errorf("%w: truncated", ErrTampered)
		}
		body = sealed[:len(sealed)-ed25519.SignatureSize]
	}
	if len(body) < hlen+a.Overhead() {
		return nil, fmt.Errorf("%w: truncated", ErrTampered)
	}
	if len(trusted) > 0 {
		if !signed {
			return nil, ErrSignatureMissing
		}
		sig := sealed[len(body):]
		ok := false
		for _, pk := range trusted {
			if len(pk) == ed25519.PublicKeySize && ed25519.Verify(pk, body, sig) {
				ok = true
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("%w: not signed by any of the %d trusted keys", ErrBadSignature, len(trusted))
		}
	}
	if id := keyID(key); string(id[:]) != string(sealed[8:16]) {
		return nil, fmt.Errorf("%w: file sealed with key id %x, ours is %x", ErrWrongKey, sealed[8:16], id)
	}
	ad := append(append([]byte(nil), body[:hlen]...), appName...)
	pt, err := a.Open(nil, body[fixedHeader:hlen], body[hlen:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w (app %q)", ErrTampered, appName)
	}
	return pt, nil
}

// KeyEnv is the environment variable a key may come from.
const KeyEnv = "TAPESTRY_LUA_KEY"

// ParseKey reads a key: 32 raw bytes, or 64 hex digits, or base64 (std or
// URL alphabet, padded or not), surrounding white space ignored.
func ParseKey(b []byte) ([]byte, error) {
	if len(b) == KeySize {
		return append([]byte(nil), b...), nil
	}
	s := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("lua: key is neither %d raw bytes, %d hex digits nor base64 of %d bytes", KeySize, 2*KeySize, KeySize)
}

// LoadKey reads a key from path, or from $TAPESTRY_LUA_KEY when path is "".
func LoadKey(path string) ([]byte, error) {
	if path == "" {
		v, ok := os.LookupEnv(KeyEnv)
		if !ok {
			return nil, fmt.Errorf("lua: no key file given and %s is not set", KeyEnv)
		}
		k, err := ParseKey([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", KeyEnv, err)
		}
		return k, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lua: %w", err)
	}
	k, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}
