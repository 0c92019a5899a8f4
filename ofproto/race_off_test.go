//go:build !race

package ofproto

const raceEnabled = false
