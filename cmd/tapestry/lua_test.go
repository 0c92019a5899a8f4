package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLuaSealOpen seals an app with a key from keygen, opens it again, and
// checks that another key is refused with a message that says so.
func TestLuaSealOpen(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := runTapestry(args, &out, &errb)
		return out.String() + errb.String(), code
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key, code := run("lua", "keygen")
	if code != 0 || len(strings.TrimSpace(key)) != 64 {
		t.Fatalf("lua keygen = %q, exit %d; want 64 hex digits", key, code)
	}
	keyFile := write("key", key)
	app := write("dropicmp.lua", "function on_packet_in(sw, pkt) end\n")
	sealed := filepath.Join(dir, "dropicmp.tlua")
	if out, code := run("lua", "seal", "--key-file", keyFile, app, "-o", sealed); code != 0 {
		t.Fatalf("lua seal: exit %d: %s", code, out)
	}
	if b, _ := os.ReadFile(sealed); bytes.Contains(b, []byte("on_packet_in")) {
		t.Fatalf("sealed file contains the source in clear")
	}
	if out, code := run("lua", "open", "--key-file", keyFile, sealed); code != 0 || out != "function on_packet_in(sw, pkt) end\n" {
		t.Fatalf("lua open = %q, exit %d", out, code)
	}
	other, _ := run("lua", "keygen")
	out, code := run("lua", "open", "--key-file", write("other", other), sealed)
	if code == 0 || !strings.Contains(out, "wrong key") {
		t.Fatalf("lua open with another key = %q, exit %d; want a wrong-key error", out, code)
	}
}
