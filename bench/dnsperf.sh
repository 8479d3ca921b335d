#!/usr/bin/env bash
# bench/dnsperf.sh: end-to-end throughput, latency, CPU, memory and instruction cost of
# cdnsteer on the bundled zones/ and geoip/ database.
#
#   bench/dnsperf.sh            # full run: 10 s per dnsperf run, about 1-2 minutes in all
#   bench/dnsperf.sh --quick    # smoke test: 2 s per run
#
# What it measures
#   1. Over the network (UDP on loopback), with dnsperf, three query mixes:
#        static    example.com A                  (a plain record from the zone table)
#        steered   live.example.com A + ECS 211.234.10.0/24
#                                                  (GeoIP lookup, region, rendezvous pick, CNAME)
#        spread    live.example.com A + ECS over 4096 different /24s across the IPv4 space
#                                                  (same path, but the GeoIP lookups and the
#                                                  picks no longer sit in one cache line)
#      For each: queries per second, average and max latency, lost queries (from dnsperf's
#      summary), the server's CPU use during the run (utime+stime from /proc/<pid>/stat,
#      as a fraction of one core) and qps per server core = qps / that fraction.
#   2. Resident memory of the server (VmRSS, VmHWM from /proc/<pid>/status) with the bundled
#      database loaded, before and after the load.
#   3. User-space instructions per query in the handler (bytes in -> bytes out, no syscalls),
#      counted by valgrind/callgrind on examples/query_cost:
#        (instructions(N queries) - instructions(0 queries)) / N
#      This number does not depend on the machine's load or clock, so it is the one to compare
#      across commits.
#
# Why the two processes are pinned to different cores
#   The server runs on CPU 0 (taskset -c 0) and dnsperf on CPU 1 (taskset -c 1). On a
#   2-core machine dnsperf itself uses a whole core and saturates at roughly 150k q/s, which
#   can be below what the server could answer; letting both float would also have them fight
#   for the same core. So the raw qps may be a measure of dnsperf rather than of cdnsteer, and
#   the comparable figure is qps per server core: qps divided by the server's measured CPU
#   share. "client cpu" in the table shows how busy dnsperf was (near 1.00 = client-bound).
#   Pinning to one core also means the server runs one UDP thread and one control-plane
#   runtime worker (both default to the number of usable CPUs), so the numbers are per core
#   by construction.
#
# Wall-clock numbers (qps, latency, CPU share) are skewed by anything else running on the
# machine (e.g. a cargo build); the load average is printed at the start and the end.
#
# Settings (environment):
#   PORT=5399           UDP/TCP port the server listens on (127.0.0.1)
#   DURATION=10         seconds per dnsperf run (--quick: 2)
#   CLIENTS=4           dnsperf -c (client sockets)
#   OUTSTANDING=64      dnsperf -q (queries in flight)
#   MAX_QPS=0           dnsperf -Q (0 = unlimited)
#   ECS_SUBNET=211.234.10.0/24   client subnet sent with the steered run (a KR network)
#   SPREAD_SUBNETS=4096 number of /24s in the spread run
#   QUERY_COST_N=20000  queries for the callgrind run (--quick: 2000)
#   SERVER_CPU=0 CLIENT_CPU=1
#
# Everything stops by itself: each dnsperf run is bounded by -l (and a timeout around it),
# callgrind runs are bounded by timeout, and the server is killed on exit, whatever happens.
# Needs apt-get (Debian/Ubuntu) if dnsperf or valgrind are missing.

set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }

QUICK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

PORT="${PORT:-5399}"
if [[ $QUICK == 1 ]]; then
    DURATION="${DURATION:-2}"
    QUERY_COST_N="${QUERY_COST_N:-2000}"
else
    DURATION="${DURATION:-10}"
    QUERY_COST_N="${QUERY_COST_N:-20000}"
fi
CLIENTS="${CLIENTS:-4}"
OUTSTANDING="${OUTSTANDING:-64}"
MAX_QPS="${MAX_QPS:-0}"
ECS_SUBNET="${ECS_SUBNET:-211.234.10.0/24}"
SPREAD_SUBNETS="${SPREAD_SUBNETS:-4096}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SERVER_PID=""
TMP="$(mktemp -d "${TMPDIR:-/tmp}/cdnsteer-bench.XXXXXX")"

cleanup() {
    local rc=$?
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '\n== %s\n' "$*"; }
die() { echo "error: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Tools

SUDO=""
if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo: install dnsperf and valgrind yourself"
    SUDO="sudo"
fi
apt_install() {
    command -v apt-get >/dev/null || die "$1 is missing and apt-get is not available; install $1 yourself"
    log "installing $1"
    $SUDO apt-get install -y "$1" || { $SUDO apt-get update && $SUDO apt-get install -y "$1"; }
}
command -v dnsperf >/dev/null || apt_install dnsperf
command -v valgrind >/dev/null || apt_install valgrind
for tool in taskset timeout getconf; do
    command -v "$tool" >/dev/null || die "$tool is missing (util-linux / coreutils)"
done

NCPU="$(getconf _NPROCESSORS_ONLN)"
if (( NCPU < 2 )); then
    echo "warning: only $NCPU CPU; server and dnsperf share CPU 0, qps per server core is still reported" >&2
    SERVER_CPU=0
    CLIENT_CPU=0
fi
CLK_TCK="$(getconf CLK_TCK)"

# ---------------------------------------------------------------------------------------------
# Build

log "building (cargo build --release --bin cdnsteer --example query_cost)"
cargo build --release --bin cdnsteer --example query_cost
SERVER_BIN="$ROOT/target/release/cdnsteer"
COST_BIN="$ROOT/target/release/examples/query_cost"

# ---------------------------------------------------------------------------------------------
# Query files

# ECS option value (RFC 7871) for an IPv4 subnet: family 1, source prefix, scope 0, then only
# the address bytes the prefix covers.
ecs_hex() {
    local subnet="$1" addr prefix nbytes i hex
    addr="${subnet%/*}"
    prefix="${subnet#*/}"
    IFS=. read -r -a octets <<<"$addr"
    nbytes=$(( (prefix + 7) / 8 ))
    hex="$(printf '0001%02x00' "$prefix")"
    for (( i = 0; i < nbytes; i++ )); do hex+="$(printf '%02x' "${octets[$i]}")"; done
    printf '%s' "$hex"
}

echo "example.com A" >"$TMP/static.txt"
echo "live.example.com A" >"$TMP/steered.txt"
STEERED_ECS="8:$(ecs_hex "$ECS_SUBNET")"

# dnsperf's -E puts the same option on every query, so the spread run uses dnsperf's binary
# input (-B): length-prefixed wire-format queries, one per client /24, written here. Each is
# live.example.com A, EDNS payload 1232, ECS a.b.c.0/24. The /24s come from a fixed
# pseudo-random sequence over 1.0.0.0-223.255.255.0 (skipping 10/8 and 127/8), so every run
# sends the same mix of countries and continents.
write_spread() {
    local out="$1" n="$2" i x a b c msg
    # length 56 = header 12 + question 22 + OPT 11 + ECS option 11
    local head='\x00\x38\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01'
    local question='\x04live\x07example\x03com\x00\x00\x01\x00\x01'
    local opt='\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x0b\x00\x08\x00\x07\x00\x01\x18\x00'
    x=12345
    : >"$out"
    for (( i = 0; i < n; i++ )); do
        x=$(( (x * 1103515245 + 12345) & 0x7fffffff ))
        a=$(( 1 + (x >> 8) % 223 ))
        if (( a == 10 || a == 127 )); then a=$(( a + 1 )); fi
        b=$(( (x >> 3) & 255 ))
        c=$(( (x >> 16) & 255 ))
        msg="$head$question$opt$(printf '\\x%02x\\x%02x\\x%02x' "$a" "$b" "$c")"
        printf "$msg" >>"$out"
    done
}
write_spread "$TMP/spread.bin" "$SPREAD_SUBNETS"

# ---------------------------------------------------------------------------------------------
# Server

# Is something already answering on the port? Then our numbers would be someone else's.
probe() {
    if command -v dig >/dev/null; then
        # dig prints network errors on stdout too, so look for an address in the answer.
        local reply
        reply="$(dig +short +norec +time=1 +tries=1 -p "$PORT" @127.0.0.1 example.com A 2>/dev/null || true)"
        grep -q -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' <<<"$reply"
    else
        # example.com A, ID 0x4142 so the reply starts with a printable byte.
        local q='\x41\x42\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01'
        local ch=""
        {
            exec 3<>"/dev/udp/127.0.0.1/$PORT" || return 1
            printf "$q" >&3
            IFS= read -r -t 1 -n 1 -u 3 ch || true
            exec 3<&-
        } 2>/dev/null
        [[ "$ch" == A ]]
    fi
}
if probe; then
    die "something already answers DNS on 127.0.0.1:$PORT; set PORT=..."
fi

log "starting server on CPU $SERVER_CPU: $SERVER_BIN serve --listen 127.0.0.1:$PORT (from $ROOT)"
# taskset execs the server, so $! is the server's own pid.
taskset -c "$SERVER_CPU" "$SERVER_BIN" serve --listen "127.0.0.1:$PORT" \
    </dev/null >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

for (( i = 0; i < 300; i++ )); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$TMP/server.log" >&2
        die "server exited during start-up (log above)"
    fi
    probe && break
    sleep 0.1
done
probe || { cat "$TMP/server.log" >&2; die "server did not answer on 127.0.0.1:$PORT within 30 s"; }
echo "server pid $SERVER_PID answers on 127.0.0.1:$PORT"

# utime+stime of the server, in clock ticks (fields 14 and 15; comm may contain spaces).
server_ticks() {
    local stat rest
    stat="$(<"/proc/$SERVER_PID/stat")"
    rest="${stat##*) }"
    read -r -a f <<<"$rest"
    # rest starts at field 3 (state), so utime = f[11], stime = f[12]
    echo $(( f[11] + f[12] ))
}
server_mem() {
    awk '/^VmRSS:/ { rss = $2 " " $3 } /^VmHWM:/ { hwm = $2 " " $3 } END { printf "VmRSS %s, VmHWM %s", rss, hwm }' "/proc/$SERVER_PID/status"
}
now_ns() { date +%s%N; }

MEM_BEFORE="$(server_mem)"
echo "memory before load: $MEM_BEFORE"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)  (nproc $NCPU)"

# ---------------------------------------------------------------------------------------------
# dnsperf runs

declare -a ROWS=()

# run_dnsperf LABEL DESCRIPTION dnsperf-args...
run_dnsperf() {
    local label="$1" desc="$2"
    shift 2
    local out="$TMP/$label.out" t0 t1 n0 n1 rc=0
    local qcap=() qdesc=""
    if (( MAX_QPS > 0 )); then qcap=(-Q "$MAX_QPS"); qdesc=" -Q $MAX_QPS"; fi
    log "$label: $desc (dnsperf on CPU $CLIENT_CPU, ${DURATION}s, -c $CLIENTS -q $OUTSTANDING$qdesc)"
    n0="$(server_ticks)"
    t0="$(now_ns)"
    # bash's `time` gives dnsperf's own CPU use (user, sys, real).
    {
        TIMEFORMAT='%U %S %R'
        time timeout $(( DURATION + 30 )) taskset -c "$CLIENT_CPU" dnsperf \
            -s 127.0.0.1 -p "$PORT" -m udp -l "$DURATION" -t 2 \
            -c "$CLIENTS" -q "$OUTSTANDING" "${qcap[@]}" "$@" >"$out" 2>&1 || rc=$?
    } 2>"$TMP/$label.time"
    t1="$(now_ns)"
    n1="$(server_ticks)"
    if (( rc != 0 )); then
        cat "$out" >&2
        die "dnsperf failed for $label (exit $rc)"
    fi
    sed -n '/Statistics:/,$p' "$out" | sed 's/^/    /'

    local qps avg max lost sent cpu per_core client
    qps="$(awk -F: '/Queries per second:/ { gsub(/ /, "", $2); print $2 }' "$out")"
    sent="$(awk -F: '/Queries sent:/ { gsub(/ /, "", $2); print $2 }' "$out")"
    lost="$(awk '/Queries lost:/ { print $3, $4 }' "$out")"
    avg="$(awk '/Average Latency/ { print $4 }' "$out")"
    max="$(awk '/Average Latency/ { for (i = 1; i <= NF; i++) if ($i == "max") { v = $(i + 1); gsub(/[),]/, "", v); print v } }' "$out")"
    [[ -n "$qps" && -n "$avg" && -n "$max" ]] || { cat "$out" >&2; die "could not parse dnsperf output for $label"; }
    cpu="$(awk -v d="$(( n1 - n0 ))" -v ns="$(( t1 - t0 ))" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d / hz / (ns / 1e9) }')"
    per_core="$(awk -v q="$qps" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", q / c; else print "n/a" }')"
    client="$(awk '{ if ($3 > 0) printf "%.2f", ($1 + $2) / $3; else print "n/a" }' "$TMP/$label.time")"
    printf '  -> %s q/s, latency avg %.3f ms max %.3f ms, lost %s of %s, server CPU %s core, %s q/s per server core, dnsperf CPU %s core\n' \
        "$qps" "$(awk -v v="$avg" 'BEGIN { print v * 1000 }')" "$(awk -v v="$max" 'BEGIN { print v * 1000 }')" \
        "$lost" "$sent" "$cpu" "$per_core" "$client"
    ROWS+=("$(printf '%-8s %10.0f %9.3f %9.3f %16s %8s %13s %8s' "$label" "$qps" \
        "$(awk -v v="$avg" 'BEGIN { print v * 1000 }')" "$(awk -v v="$max" 'BEGIN { print v * 1000 }')" \
        "$lost" "$cpu" "$per_core" "$client")")
}

run_dnsperf static "example.com A, EDNS, no ECS" -d "$TMP/static.txt" -e
run_dnsperf steered "live.example.com A, ECS $ECS_SUBNET (-E $STEERED_ECS)" -d "$TMP/steered.txt" -E "$STEERED_ECS"
run_dnsperf spread "live.example.com A, ECS over $SPREAD_SUBNETS /24s (binary input -B)" -d "$TMP/spread.bin" -B

MEM_AFTER="$(server_mem)"
echo
echo "memory after load:  $MEM_AFTER"
if grep -q -i -E 'panic|error' "$TMP/server.log"; then
    echo "server log has errors:" >&2
    sed 's/^/    /' "$TMP/server.log" >&2
fi

# ---------------------------------------------------------------------------------------------
# Instruction count (valgrind callgrind): does not depend on load or clock speed.

log "instruction count: valgrind --tool=callgrind $COST_BIN {static,steered} {0,$QUERY_COST_N}"
callgrind_total() {
    local kind="$1" n="$2" err="$TMP/cg-$1-$2.err"
    # Callgrind's "Collected : N" line is the program's total instruction count.
    timeout 900 valgrind --tool=callgrind --callgrind-out-file="$TMP/cg-$kind-$n.out" \
        "$COST_BIN" "$kind" "$n" >/dev/null 2>"$err" || { cat "$err" >&2; die "callgrind failed ($kind $n)"; }
    awk '/Collected :/ { print $NF }' "$err"
}
declare -a COST_ROWS=()
for kind in static steered; do
    base="$(callgrind_total "$kind" 0)"
    total="$(callgrind_total "$kind" "$QUERY_COST_N")"
    per="$(( (total - base) / QUERY_COST_N ))"
    printf '  %-8s total(0) = %s, total(%s) = %s -> %s instructions per query\n' "$kind" "$base" "$QUERY_COST_N" "$total" "$per"
    COST_ROWS+=("$(printf '%-8s %8s' "$kind" "$per")")
done

# ---------------------------------------------------------------------------------------------
# Summary

echo
echo "================================================================================================"
echo "cdnsteer on the bundled zones/ and geoip/; server pinned to CPU $SERVER_CPU, dnsperf to CPU $CLIENT_CPU"
echo "dnsperf ${DURATION}s per run, -c $CLIENTS -q $OUTSTANDING$( (( MAX_QPS > 0 )) && echo " -Q $MAX_QPS"), UDP on loopback"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)  (nproc $NCPU)"
echo
printf '%-8s %10s %9s %9s %16s %8s %13s %8s\n' run "q/s" "avg ms" "max ms" "lost" "srv cpu" "q/s/srv core" "cli cpu"
for row in "${ROWS[@]}"; do echo "$row"; done
echo
echo "server memory (bundled database loaded):"
echo "  before load: $MEM_BEFORE"
echo "  after load:  $MEM_AFTER"
echo
echo "user-space instructions per query in the handler (bytes in → bytes out, no syscalls), N = $QUERY_COST_N:"
for row in "${COST_ROWS[@]}"; do echo "  $row"; done
echo "================================================================================================"
