package ofctl

import (
	"strconv"
	"sync"

	"tapestry/flow"
)

// suggest returns ` (did you mean "x"?)` for the word closest to w by edit
// distance, when one is close enough to be a likely typo, else "".
func suggest(w string, words []string) string {
	best, bestD := "", 3
	if len(w) <= 3 {
		bestD = 2
	}
	for _, c := range words {
		if d := editDistance(w, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + strconv.Quote(best) + "?)"
}

// editDistance is the Damerau-Levenshtein distance (optimal string
// alignment): insertions, deletions, substitutions and swaps of two adjacent
// characters each cost one, so "outptu" is one step from "output".
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

var matchWordsOnce = sync.OnceValue(func() []string {
	w := flow.Names()
	for _, p := range protos {
		w = append(w, p.name)
	}
	return append(w, flowModWords...)
})

// matchWords is every word a match or flow-mod accepts before "actions=".
func matchWords() []string { return matchWordsOnce() }

// flowModWords are the flow-mod keywords that are not match fields.
var flowModWords = []string{
	"priority", "table", "cookie", "idle_timeout", "hard_timeout", "importance",
	"send_flow_rem", "check_overlap", "reset_counts", "no_packet_counts",
	"no_byte_counts", "out_port", "out_group", "buffer_id", "actions",
}
