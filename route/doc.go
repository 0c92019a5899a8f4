// Package route is Linux's IPv4 routing policy database (RPDB) and routing
// tables, in userspace, following the kernel's semantics exactly.
//
// The model mirrors net/ipv4/fib_trie.c, net/ipv4/fib_rules.c and
// net/core/fib_rules.c:
//
//   - A Route lives in a table (local=255, main=254, default=253 or any
//     other id). Routes with the same prefix are kept in the kernel's alias
//     order: TOS descending, then metric ascending, then insertion order
//     (prepend/append/replace as NLM_F_* flags would do).
//   - A Rule selects traffic (from/to prefixes, tos, fwmark/mask, iif, oif,
//     ipproto, port ranges, not) and acts: lookup a table, goto a later
//     priority, nop, or fail with blackhole/unreachable/prohibit.
//   - Lookup walks the rules by priority like fib_rules_lookup; a table
//     lookup is a longest-prefix match that backtracks to shorter prefixes
//     when no alias of the longest prefix is eligible (TOS, scope or output
//     interface mismatch), exactly like fib_table_lookup. A throw route or a
//     table without a match continues with the next rule (-EAGAIN in the
//     kernel), suppress_prefixlength rejects short results.
//   - Output and Input emulate ip_route_output_key and ip_route_input_slow
//     on top of Lookup: local delivery via lo, source address selection
//     (inet_select_addr), the on-link fallback when an output interface is
//     given, martian and reverse-path source validation. Together they
//     answer what `ip route get` answers.
//
// Readers never lock: every change builds a new immutable snapshot (tables
// are copy-on-write tries) that is published with an atomic pointer swap;
// writers are serialised by a mutex. A lookup allocates nothing.
//
// Each table keeps its routes in github.com/gaissmai/bart, a compressed
// multibit trie (Knuth's ART) with copy-on-write "Persist" updates, which
// gives cheap immutable snapshots. A table of 64 prefixes or more also
// gets a fib (fib.go) when a transaction commits: a 12-8-4-8 multibit
// trie that answers the longest prefix in a few array loads, updated
// copy-on-write for small changes and rebuilt for bulk ones. Lookups
// start there and backtrack through bart. While only the default rules
// exist, a snapshot also carries a precompiled fast path (fast.go): a
// guard on the local table's prefixes, then main's fib walk and its
// entry, without the rule walk; anything else falls back to the walk.
//
// iproute2.go parses the arguments of `ip route` and `ip rule` commands and
// format.go prints routes, rules and `ip route get` answers in iproute2's
// text format, so the same text can be applied to the kernel and to an RPDB
// (see the differential test in linux_test.go).
package route
