package cloud

import (
	"crypto/rand"
	"fmt"
)

// Env is where operations get the identities they invent: object ids and
// port MAC addresses. Production uses RandomEnv; tests pass a counter.
type Env struct {
	NewID  func() string // a UUID, lowercase 8-4-4-4-12
	NewMAC func() string // fa:16:3e:xx:xx:xx
}

// RandomEnv returns an Env with random version 4 UUIDs (RFC 9562 section
// 5.4) and random MACs under Neutron's default base_mac fa:16:3e:00:00:00.
func RandomEnv() Env {
	return Env{NewID: randomUUID, NewMAC: randomMAC}
}

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])  // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant 10
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randomMAC() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", b[0], b[1], b[2])
}
