#!/usr/bin/env bash
# bench/confined.sh: cdnsteer, gdnsd and Knot each held to one core by a cpuset cgroup, under
# the same dnsperf load, one after the other in one run: queries/s per server core.
#
#   bench/confined.sh                 # after bench/side_by_side.sh (it reuses the peer kit's
#                                     # rendered configs in /tmp/peers-run)
#   RUNS=1 DUR=5 bench/confined.sh    # quicker
#
# Why: the peer kit pins each server with `taskset -c 1`, but Knot sets the CPU affinity of
# its UDP worker itself and so moves it to CPU 0, the core dnsperf runs on (check with
# `taskset -p` on its threads). Its "pinned" figure is then half a core shared with the
# client, not one server core. A cpuset cgroup holds every thread of the server on CPU 1
# whatever affinity it asks for.
#
# What it does, for each server: start it inside a cpuset cgroup of CPU 1 with one UDP thread,
# run dnsperf on CPU 0 (steered name with ECS 211.234.0.0/24, the kit's live-ecs-kr, -c 10
# -q 500, DUR seconds, RUNS times), and report queries/s, lost queries, the server's user and
# kernel CPU time per query (utime/stime of all its threads) and queries/s per server core.
# Needs root (the cgroup), dnsperf, gdnsd and knotd (installed by the peer kit), and cgroup v1
# cpuset at /sys/fs/cgroup/cpuset or cgroup v2 with the cpuset controller.
#
# Settings: DUR=10 RUNS=2 RUN=/tmp/peers-run (the kit's scratch dir) PEERS_DIR=../shared/peers
#           OUT=target/peers (confined.md is written there)
# Safety: only 127.0.0.1 is queried; every server is stopped by its pid; the cgroup is removed
# on exit; every loop is bounded.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DUR="${DUR:-10}"
RUNS="${RUNS:-2}"
RUN="${RUN:-/tmp/peers-run}"
PEERS="${PEERS_DIR:-../shared/peers}"
[[ "$PEERS" = /* ]] || PEERS="$ROOT/$PEERS"
OUT="${OUT:-target/peers}"
[[ "$OUT" = /* ]] || OUT="$ROOT/$OUT"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/cdnsteer"
ECS_KR="8:00011800d3ea00"
HZ="$(getconf CLK_TCK)"

die() { echo "error: $*" >&2; exit 1; }
[[ "$(id -u)" -eq 0 ]] || die "needs root for the cpuset cgroup"
[[ -x "$BIN" ]] || die "no release binary at $BIN: cargo build --release"
[[ -f "$RUN/knot/knot.conf" && -f "$RUN/gdnsd/cfg/config" ]] || die "no peer configs in $RUN: run bench/side_by_side.sh first"
for c in dnsperf gdnsd knotd; do command -v "$c" >/dev/null || die "$c missing: run bench/side_by_side.sh first"; done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/cdnsteer-confined.XXXXXX")"
# cgroup v1 cpuset, else v2 with the cpuset controller enabled for children.
if [[ -d /sys/fs/cgroup/cpuset ]]; then
    CG=/sys/fs/cgroup/cpuset/cdnsteer-bench-$$
    mkdir "$CG"; echo 1 >"$CG/cpuset.cpus"; echo 0 >"$CG/cpuset.mems"; TASKS="$CG/tasks"
elif grep -qw cpuset /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    echo +cpuset >/sys/fs/cgroup/cgroup.subtree_control
    CG=/sys/fs/cgroup/cdnsteer-bench-$$
    mkdir "$CG"; echo 1 >"$CG/cpuset.cpus"; echo 0 >"$CG/cpuset.mems"; TASKS="$CG/cgroup.procs"
else
    die "no cpuset cgroup controller found"
fi
SRV=""
cleanup() {
    [[ -n "$SRV" ]] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
    rmdir "$CG" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# One UDP thread each, as the kit's pinned mode asks for.
mkdir -p "$TMP/gdnsd" "$TMP/knot/db" "$TMP/state"
cp -r "$RUN/gdnsd/cfg/zones" "$TMP/gdnsd/"
sed -e 's/udp_threads = [0-9]*/udp_threads = 1/' -e "s|$RUN/gdnsd/run|$TMP/gdnsd/run|" -e "s|$RUN/gdnsd/state|$TMP/gdnsd/state|" "$RUN/gdnsd/cfg/config" >"$TMP/gdnsd/config"
mkdir -p "$TMP/gdnsd/run" "$TMP/gdnsd/state"
sed -e 's/udp-workers: [0-9]*/udp-workers: 1/' -e "s|rundir: \"$RUN/knot\"|rundir: \"$TMP/knot\"|" -e "s|storage: \"$RUN/knot/db\"|storage: \"$TMP/knot/db\"|" "$RUN/knot/knot.conf" >"$TMP/knot/knot.conf"
printf 'version: 1\nudp:\n  workers: 1\n' >"$TMP/cdnsteer.yaml"

cpu_ticks() { # pid -> "utime stime" summed over its threads
    local u=0 s=0 t
    for t in /proc/"$1"/task/*/stat; do
        read -r tu ts < <(awk '{print $14, $15}' "$t") || continue
        u=$((u + tu)); s=$((s + ts))
    done
    echo "$u $s"
}

ROWS=()
measure() { # name port command...
    local name=$1 port=$2; shift 2
    local r
    for (( r = 1; r <= RUNS; r++ )); do
        sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$TASKS" "$@" >"$TMP/$name.log" 2>&1 &
        SRV=$!
        local i
        for (( i = 0; i < 100; i++ )); do
            dig +short +norec +time=1 +tries=1 -p "$port" @127.0.0.1 www.example.com A 2>/dev/null | grep -q -E '^[0-9.]+$' && break
            sleep 0.2
        done
        sleep 1
        read -r u0 s0 < <(cpu_ticks "$SRV")
        timeout $((DUR + 20)) taskset -c 0 dnsperf -s 127.0.0.1 -p "$port" -d "$PEERS/queries/live.txt" -l "$DUR" -c 10 -q 500 -E "$ECS_KR" >"$TMP/$name.dnsperf" 2>&1 || true
        read -r u1 s1 < <(cpu_ticks "$SRV")
        kill "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=""
        local qps lost
        qps="$(awk '/Queries per second/ { print $4 }' "$TMP/$name.dnsperf")"
        lost="$(awk '/Queries lost/ { print $3 }' "$TMP/$name.dnsperf")"
        [[ -n "$qps" ]] || die "$name: dnsperf gave no figure; $(tail -3 "$TMP/$name.dnsperf")"
        local row
        row="$(awk -v n="$name" -v r="$r" -v q="$qps" -v l="$lost" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v d="$DUR" -v hz="$HZ" 'BEGIN {
            queries = q * d; core = (u + s) / hz / d
            printf "| %s | %d | %.0f | %s | %.2f | %.2f | %.2f | %.0f |", n, r, q, l, core, u / hz / queries * 1e6, s / hz / queries * 1e6, q / core }')"
        echo "$row"
        ROWS+=("$row")
    done
}

echo "cpuset $CG: CPU 1 for the server, dnsperf on CPU 0; live.example.com A + ECS 211.234.0.0/24, -c 10 -q 500, ${DUR}s x $RUNS"
measure gdnsd 5301 gdnsd -c "$TMP/gdnsd" start
measure knot 5303 knotd -c "$TMP/knot/knot.conf"
measure cdnsteer 5390 "$BIN" serve --config "$TMP/cdnsteer.yaml" --listen 127.0.0.1:5390 --admin-listen off --state-dir "$TMP/state" --zones "$ROOT/zones" --geoip "$ROOT/geoip/iptoasn-country.mmdb"
mkdir -p "$OUT"
{
    echo "| server | run | q/s | lost | server cores | user us/query | kernel us/query | q/s per server core |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
} | tee "$OUT/confined.md"
