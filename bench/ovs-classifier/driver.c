/* Times Open vSwitch's flow classifier (lib/classifier.c) on a workload that
 * tapestry's BenchmarkLookup20Masks wrote out (TAPESTRY_CLS_WORKLOAD), so
 * that both classifiers look up the very same keys in the very same rules.
 *
 * Usage: driver RULES KEYS LOOKUPS [nowc] [notries]
 *
 * nowc passes no wildcards to the lookups; notries leaves out the prefix
 * tries (what "prefixes=none" on a Flow_Table row does), to show what they
 * cost.
 *
 * RULES: a line per rule, "PRIORITY field=0xVALUE/0xMASK ...".
 * KEYS:  a line per key, "field=0xVALUE ..."; a power-of-two count.
 * Hex is big-endian and exactly the field's width.
 *
 * The classifier is set up as ovs-vswitchd sets up an OpenFlow table
 * (ofproto.c, oftable_init): staged lookup on flow_segment_u64s and prefix
 * tries on the default fields, ip_dst and ip_src. Rules and keys are
 * written straight into struct match and struct flow, not through the
 * flow-text parser: the workload's rules match tp_dst with a random
 * nw_proto, which that parser would refuse for lacking its prerequisites.
 *
 * Prints one line:
 *   ns_per_lookup=X cpu_ns_per_lookup=Y hits=H lookups=N key_hits=K keys=n
 *   lines=L rules=R subtables=S tries=T flow_bytes=B max_rss_kb=M
 * key_hits counts the hits of the warm-up pass, which looks up each key
 * once. */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "classifier.h"
#include "cmap.h"
#include "flow.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "ovs-rcu.h"
#include "pvector.h"
#include "util.h"
#include "versions.h"

/* How a field is stored in struct flow: as big-endian bytes (ovs_be16/32/64,
 * struct eth_addr, uint8_t) or as a host-order uint32_t (registers and the
 * 32-bit odp_port member of in_port, which keeps all 32 bits where the
 * OpenFlow ofp_port member would keep 16). */
enum order { BE, HOST32 };

struct field {
    const char *name;
    size_t offset;              /* In struct flow (and so in wc.masks). */
    int bytes;
    enum order order;
};

#define F(NAME, MEMBER, BYTES, ORDER) \
    { NAME, offsetof(struct flow, MEMBER), BYTES, ORDER }
#define REG(N) F("reg" #N, regs[N], 4, HOST32)

static const struct field fields[] = {
    F("in_port", in_port.odp_port, 4, HOST32),
    F("metadata", metadata, 8, BE),
    REG(0), REG(1), REG(2), REG(3), REG(4), REG(5), REG(6), REG(7),
    REG(8), REG(9), REG(10), REG(11), REG(12), REG(13), REG(14), REG(15),
    F("dl_dst", dl_dst, 6, BE),
    F("dl_type", dl_type, 2, BE),
    F("vlan_tci", vlans[0].tci, 2, BE),
    F("nw_src", nw_src, 4, BE),
    F("nw_dst", nw_dst, 4, BE),
    F("nw_proto", nw_proto, 1, BE),
    F("tp_src", tp_src, 2, BE),
    F("tp_dst", tp_dst, 2, BE),
};

static void
die(const char *what, const char *file, long line)
{
    fprintf(stderr, "driver: %s: line %ld: %s\n", file, line, what);
    exit(1);
}

static const struct field *
find_field(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
        if (!strncmp(fields[i].name, name, len) && !fields[i].name[len]) {
            return &fields[i];
        }
    }
    return NULL;
}

/* Parses "0x" and exactly 2*bytes hex digits into out[0..bytes-1], most
 * significant first; returns the text after them, or NULL. */
static const char *
parse_hex(const char *s, int bytes, uint8_t *out)
{
    if (s[0] != '0' || s[1] != 'x') {
        return NULL;
    }
    s += 2;
    for (int i = 0; i < bytes; i++) {
        int hi = hexit_value(s[2 * i]), lo = hexit_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return NULL;
        }
        out[i] = hi << 4 | lo;
    }
    s += 2 * bytes;
    return isxdigit((unsigned char) *s) ? NULL : s;
}

/* Stores big-endian 'be' into the field's place in 'f'. */
static void
put(struct flow *f, const struct field *fd, const uint8_t *be)
{
    uint8_t *p = (uint8_t *) f + fd->offset;
    if (fd->order == HOST32) {
        uint32_t v = (uint32_t) be[0] << 24 | be[1] << 16 | be[2] << 8 | be[3];
        memcpy(p, &v, 4);
    } else {
        memcpy(p, be, fd->bytes);
    }
}

/* Parses one "name=0xV" or "name=0xV/0xM" token of 'len' bytes. Returns the
 * field, with the value in 'v' and the mask in 'm' (all ones when absent),
 * the value already ANDed with the mask. */
static const struct field *
parse_token(const char *tok, size_t len, uint8_t *v, uint8_t *m, bool masked,
            const char *file, long line)
{
    const char *eq = memchr(tok, '=', len);
    if (!eq) {
        die("token without '='", file, line);
    }
    const struct field *fd = find_field(tok, eq - tok);
    if (!fd) {
        die("unknown field", file, line);
    }
    const char *s = parse_hex(eq + 1, fd->bytes, v);
    if (!s) {
        die("bad value", file, line);
    }
    memset(m, 0xff, fd->bytes);
    if (masked) {
        if (*s != '/' || !(s = parse_hex(s + 1, fd->bytes, m))) {
            die("bad or missing mask", file, line);
        }
    }
    if (s != tok + len) {
        die("trailing text in token", file, line);
    }
    for (int i = 0; i < fd->bytes; i++) {
        v[i] &= m[i];
    }
    return fd;
}

/* Runs the body for each space-separated token of LINE, with TOK pointing
 * at it and LEN its length. */
#define FOR_EACH_TOKEN(TOK, LEN, LINE)                                      \
    for (const char *TOK = (LINE) + strspn((LINE), " \n"), *end_ = NULL;    \
         *TOK && (end_ = TOK + strcspn(TOK, " \n"), true);                  \
         TOK = end_ + strspn(end_, " \n"))                                  \
        for (size_t LEN = end_ - TOK, once_ = 1; once_; once_ = 0)

static FILE *
open_or_die(const char *file)
{
    FILE *fp = fopen(file, "r");
    if (!fp) {
        fprintf(stderr, "driver: %s: %s\n", file, strerror(errno));
        exit(1);
    }
    return fp;
}

/* Loads RULES into 'cls'; returns the number of lines. */
static long
load_rules(struct classifier *cls, const char *file)
{
    FILE *fp = open_or_die(file);
    char *buf = NULL;
    size_t cap = 0;
    long n = 0;

    /* One publication at the end, not one per insert: loading is not
     * what is measured. */
    classifier_defer(cls);
    while (getline(&buf, &cap, fp) > 0) {
        n++;
        char *rest;
        long prio = strtol(buf, &rest, 10);
        if (rest == buf || prio < 0) {
            die("bad priority", file, n);
        }
        struct match match;
        match_init_catchall(&match);
        FOR_EACH_TOKEN (tok, len, rest) {
            uint8_t v[8], m[8];
            const struct field *fd = parse_token(tok, len, v, m, true, file, n);
            put(&match.flow, fd, v);
            put(&match.wc.masks, fd, m);
        }
        struct cls_rule *rule = xmalloc(sizeof *rule);
        cls_rule_init(rule, &match, prio);
        /* classifier_insert() asserts there is no identical rule; replace
         * instead and report duplicates through the rule count. */
        const struct cls_rule *old = classifier_replace(cls, rule,
                                                        OVS_VERSION_MIN,
                                                        NULL, 0);
        if (old) {
            fprintf(stderr, "driver: %s: line %ld duplicates an earlier rule\n",
                    file, n);
        }
        if (n % 1024 == 0) {
            /* Single-threaded, this runs the postponed frees right away. */
            ovsrcu_quiesce();
        }
    }
    classifier_publish(cls);
    ovsrcu_quiesce();
    free(buf);
    fclose(fp);
    return n;
}

/* Loads KEYS into a zeroed array of flows; returns it, count in '*np'. */
static struct flow *
load_keys(const char *file, size_t *np)
{
    FILE *fp = open_or_die(file);
    char *buf = NULL;
    size_t cap = 0, n = 0, alloc = 0;
    struct flow *flows = NULL;

    while (getline(&buf, &cap, fp) > 0) {
        if (n == alloc) {
            alloc = alloc ? 2 * alloc : 1024;
            flows = xrealloc(flows, alloc * sizeof *flows);
        }
        struct flow *f = &flows[n++];
        memset(f, 0, sizeof *f);
        FOR_EACH_TOKEN (tok, len, buf) {
            uint8_t v[8], m[8];
            const struct field *fd = parse_token(tok, len, v, m, false, file, n);
            put(f, fd, v);
        }
    }
    free(buf);
    fclose(fp);
    if (!n || (n & (n - 1))) {
        fprintf(stderr, "driver: %s: %zu keys, want a power of two\n", file, n);
        exit(1);
    }
    *np = n;
    return flows;
}

static double
now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int
main(int argc, char *argv[])
{
    bool use_wc = true, use_tries = true;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "nowc")) {
            use_wc = false;
        } else if (!strcmp(argv[i], "notries")) {
            use_tries = false;
        } else {
            argc = 0;
        }
    }
    long long lookups = argc >= 4 ? atoll(argv[3]) : 0;
    if (lookups <= 0) {
        fprintf(stderr, "usage: %s RULES KEYS LOOKUPS [nowc] [notries]\n",
                argv[0]);
        return 2;
    }

    struct classifier cls;
    /* As oftable_init() does for every OpenFlow table: staged lookup
     * segments, and the default "prefixes" (ofproto.c's
     * default_prefix_fields; vswitch.xml: prefixes=ip_dst,ip_src). */
    static const enum mf_field_id prefixes[] = { MFF_IPV4_DST, MFF_IPV4_SRC };
    classifier_init(&cls, flow_segment_u64s);
    if (use_tries
        && !classifier_set_prefix_fields(&cls, prefixes, ARRAY_SIZE(prefixes))) {
        fprintf(stderr, "driver: setting prefix fields changed nothing\n");
        return 1;
    }

    long lines = load_rules(&cls, argv[1]);
    size_t n;
    struct flow *flows = load_keys(argv[2], &n);

    /* One wildcard set for the whole run, never cleared, each lookup ORing
     * into it: what tapestry's benchmark does with its mask. */
    struct flow_wildcards wc;
    flow_wildcards_init_catchall(&wc);
    struct flow_wildcards *wcp = use_wc ? &wc : NULL;

    /* Warm-up: each key once, which also checks the workload. */
    long key_hits = 0;
    for (size_t i = 0; i < n; i++) {
        key_hits += classifier_lookup(&cls, OVS_VERSION_MAX, &flows[i], wcp)
                    != NULL;
    }

    long long hits = 0;
    double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    for (long long i = 0; i < lookups; i++) {
        hits += classifier_lookup(&cls, OVS_VERSION_MAX, &flows[i & (n - 1)],
                                  wcp) != NULL;
    }
    double t1 = now(CLOCK_MONOTONIC), c1 = now(CLOCK_PROCESS_CPUTIME_ID);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("ns_per_lookup=%.2f cpu_ns_per_lookup=%.2f hits=%lld lookups=%lld "
           "key_hits=%ld keys=%zu rules=%d lines=%ld subtables=%d tries=%u "
           "flow_bytes=%zu max_rss_kb=%ld\n",
           (t1 - t0) / lookups, (c1 - c0) / lookups, hits, lookups,
           key_hits, n, classifier_count(&cls), lines,
           (int) cmap_count(&cls.subtables_map), cls.n_tries,
           sizeof(struct flow),
           ru.ru_maxrss);
    return 0;
}
