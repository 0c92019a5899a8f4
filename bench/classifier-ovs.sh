#!/usr/bin/env bash
# Open vSwitch's flow classifier (lib/classifier.c) against tapestry's, on the
# same workload: tapestry's BenchmarkLookup20Masks (classifier/bench_test.go)
# writes its rules and keys out, and bench/ovs-classifier/driver.c loads them
# into OVS's classifier and times the same lookups.
# Usage: sudo bench/classifier-ovs.sh     Results: bench/results/classifier-ovs.tsv
# OVS_BUILD_DIR (default /tmp/ovsbuild) holds the OVS build, made from
# Debian's openvswitch-source when its libopenvswitch.a is missing. ROUNDS (5)
# rounds, LOOKUPS (2621440 = 40 passes over the 65,536 keys, over a second
# even for the fastest case) lookups per OVS run, one lookup thread on each side.
#
# What is compared: 100,000 rules over 20 masks, priorities random
# ("randprio": every subtable is probed) or one band per mask ("bymask"),
# and 1,000,000 exact 5-tuple-plus-in_port rules ("exact1m",
# BenchmarkLookupExact1M); 65,536 keys that each match a rule ("hit") or none ("miss"), cycled through
# in order; one wildcard mask for the whole run, never cleared, that every
# lookup ORs into. ns/lookup is wall time over the timed loop; insertion is
# not timed. OVS's classifier is set up as ovs-vswitchd sets up an OpenFlow
# table: staged lookup, prefix tries on ip_dst and ip_src (the default
# "prefixes"). Extra OVS columns: no wildcards ("nowc"), and wildcards
# without the prefix tries ("notries", as prefixes=none).
# Not `ovstest test-classifier benchmark`: its rules all share one mask
# whatever subtable count it is given, so it measures one subtable.
# Each round runs tapestry, then OVS, so a round's figures come from the same
# minute: this VM drifts between a fast and a ~1.5x slower state.
. "$(dirname "$0")/lib.sh"
OVS_BUILD_DIR=${OVS_BUILD_DIR:-/tmp/ovsbuild}
SRC=$OVS_BUILD_DIR/openvswitch
OVSLIBS=("$SRC/lib/.libs/libopenvswitch.a" "$SRC/lib/.libs/libopenvswitchavx512.a")
DRIVER_SRC=$BENCH_DIR/ovs-classifier/driver.c
DRIVER=$OVS_BUILD_DIR/ovs-classifier/driver
ROUNDS=${ROUNDS:-5}
LOOKUPS=${LOOKUPS:-2621440}
TMP=$WORK/classifier-ovs
T0=$(now)

build_ovs() {
  need_root
  local pkgs=(openvswitch-source build-essential autoconf automake libtool python3)
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${pkgs[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "${pkgs[@]}" >/dev/null; }
  local tarball
  tarball=$(ls /usr/src/openvswitch*/openvswitch*.tar.* | head -n1)
  rm -rf "$SRC"; mkdir -p "$SRC"
  tar xf "$tarball" -C "$SRC" --strip-components=1
  cd "$SRC"
  [ -x configure ] || ./boot.sh
  # Only the classifier is wanted: no SSL, AF_XDP or capabilities libraries.
  nice -n 19 ./configure --disable-ssl --disable-afxdp --disable-libcapng >configure.log
  # A lone library target skips BUILT_SOURCES (odp-netlink.h and friends).
  local built
  built=$(make -s -f Makefile -f <(printf 'print-bs:\n\t@echo $(BUILT_SOURCES)\n') print-bs | tail -n1)
  # shellcheck disable=SC2086
  nice -n 19 make -j"$(nproc)" $built >make.log
  nice -n 19 make -j"$(nproc)" lib/libopenvswitch.la lib/libopenvswitchavx512.la >>make.log
  cd - >/dev/null
}

if [ ! -f "${OVSLIBS[0]}" ] || [ ! -f "${OVSLIBS[1]}" ]; then
  echo "building OVS in $SRC (a few minutes)" >&2
  t0=$(now); build_ovs; echo "built in $(secs "$t0" "$(now)") s" >&2
fi
if [ ! -x "$DRIVER" ] || [ "$DRIVER_SRC" -nt "$DRIVER" ]; then
  mkdir -p "$(dirname "$DRIVER")"
  gcc -O2 -Wall -I"$SRC" -I"$SRC/include" -I"$SRC/lib" -o "$DRIVER" "$DRIVER_SRC" \
    "${OVSLIBS[@]}" -latomic -lm -lpthread
fi

# tapestry's side, and the workload both sides use.
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
rm -rf "$TMP"; mkdir -p "$TMP/wl"
(cd "$ROOT" && go test -c -o "$TMP/classifier.test" ./classifier)
# One iteration of one case each: the benchmarks write their workloads first.
for b in 'Lookup20Masks/randprio/hit$' 'LookupExact1M/hit$'; do
  (cd "$ROOT/classifier" && TAPESTRY_CLS_WORKLOAD=$TMP/wl "$TMP/classifier.test" \
    -test.run '^$' -test.bench "$b" -test.benchtime 1x >>"$TMP/workload.log")
done
for w in randprio bymask exact1m; do
  for f in rules hit miss; do
    [ -s "$TMP/wl/$w-$f.txt" ] || { echo "$0: workload file $w-$f.txt missing" >&2; exit 1; }
  done
done

cases=(randprio/hit randprio/miss bymask/hit bymask/miss exact1m/hit exact1m/miss)
load() { cut -d' ' -f1 /proc/loadavg; }
median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
kv() { tr ' ' '\n' | awk -F= -v k="$1" '$1==k{print $2}'; }
# "randprio/hit ns cpu_ns" per case, from `go test -bench` output
# (BenchmarkLookupExact1M's cases become exact1m/...).
parse_go() {
  awk '$1 ~ /^BenchmarkLookup(20Masks|Exact1M)\// {
         n=$1; sub(/^BenchmarkLookup20Masks\//, "", n); sub(/^BenchmarkLookupExact1M\//, "exact1m/", n)
         sub(/-[0-9]+$/, "", n)
         ns=cpu=""
         for (i = 3; i <= NF; i++) { if ($i == "ns/op") ns=$(i-1); if ($i == "cpu-ns/op") cpu=$(i-1) }
         print n, ns, cpu }'
}
# Runs the driver on case $1 with extra flags; checks the workload behaved
# (every hit key hits, no miss key does, every rule went in) and prints its line.
ovs_run() {
  local c=$1 w=${1%/*} k=${1#*/} res lines; shift
  res=$("$DRIVER" "$TMP/wl/$w-rules.txt" "$TMP/wl/$w-$k.txt" "$LOOKUPS" "$@")
  lines=$(wc -l <"$TMP/wl/$w-rules.txt")
  local want_keys=0 want_hits=0
  [ "$k" = hit ] && want_keys=$(kv keys <<<"$res") want_hits=$LOOKUPS
  if [ "$(kv key_hits <<<"$res")" != "$want_keys" ] || [ "$(kv hits <<<"$res")" != "$want_hits" ] ||
     [ "$(kv rules <<<"$res")" != "$lines" ]; then
    echo "$0: OVS $c $*: workload check failed: $res" >&2; exit 1
  fi
  echo "$res"
}

declare -A tap tapcpu ovs ovscpu nowc notries ratios
loads="" rss="" subtables=""
for r in $(seq "$ROUNDS"); do
  loads+=" $(load)"
  res=$(cd "$ROOT/classifier" && for b in 'Lookup20Masks/(randprio|bymask)/(hit|miss)$' 'LookupExact1M/(hit|miss)$'; do
    "$TMP/classifier.test" -test.run '^$' -test.bench "$b" -test.cpu 1 -test.count 1; done | parse_go)
  for c in "${cases[@]}"; do
    read -r _ ns cpu < <(grep "^$c " <<<"$res") || { echo "$0: no tapestry figure for $c" >&2; exit 1; }
    tap[$c]+=" $ns" tapcpu[$c]+=" $cpu"
  done
  for c in "${cases[@]}"; do
    res=$(ovs_run "$c")
    ovs[$c]+=" $(kv ns_per_lookup <<<"$res")" ovscpu[$c]+=" $(kv cpu_ns_per_lookup <<<"$res")"
    ratios[$c]+=" $(awk -v o="$(kv ns_per_lookup <<<"$res")" -v t="${tap[$c]##* }" 'BEGIN{printf "%.2f", o/t}')"
    rss+=" $(kv max_rss_kb <<<"$res")" subtables+=" $(kv subtables <<<"$res")"
    nowc[$c]+=" $(ovs_run "$c" nowc | kv ns_per_lookup)"
    notries[$c]+=" $(ovs_run "$c" notries | kv ns_per_lookup)"
  done
  echo "round $r/$ROUNDS done at $(secs "$T0" "$(now)") s" >&2
done

out=$RESULTS/classifier-ovs.tsv
csv() { echo $1 | tr ' ' ,; }
printf 'case\ttapestry_ns_rounds\ttapestry_ns\ttapestry_cpu_ns\tovs_ns_rounds\tovs_ns\tovs_cpu_ns\tovs/tapestry\tround_ratios\tovs_nowc_ns\tovs_notries_ns\tloadavg_rounds\n' >"$out"
for c in "${cases[@]}"; do
  tm=$(echo ${tap[$c]} | median) om=$(echo ${ovs[$c]} | median)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" \
    "$(csv "${tap[$c]}")" "$tm" "$(echo ${tapcpu[$c]} | median)" \
    "$(csv "${ovs[$c]}")" "$om" "$(echo ${ovscpu[$c]} | median)" \
    "$(awk -v o="$om" -v t="$tm" 'BEGIN{printf "%.2f", o/t}')" "$(csv "${ratios[$c]}")" \
    "$(echo ${nowc[$c]} | median)" "$(echo ${notries[$c]} | median)" "$(csv "$loads")" >>"$out"
done
column -t -s $'\t' "$out"
echo "medians over $ROUNDS rounds; ns per lookup; OVS: $(echo $subtables | tr ' ' '\n' | sort -u | tr '\n' ' ')subtables," \
  "max RSS $(echo $rss | median) kB per driver run; total $(secs "$T0" "$(now)") s"
