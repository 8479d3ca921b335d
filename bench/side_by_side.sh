#!/usr/bin/env bash
# bench/side_by_side.sh: cdnsteer beside gdnsd and Knot in one run, for the performance table
# in README.md, plus reloads under load, instructions per query and resident memory.
#
#   bench/side_by_side.sh                     # full run (see "How long" below)
#   DUR=4 REPS=1 RELOAD_DUR=10 RELOAD_HUPS=20 bench/side_by_side.sh    # short smoke run
#   UNPINNED=1 bench/side_by_side.sh          # also the unpinned mode (server on 2 threads)
#   SKIP_PEERS=1 bench/side_by_side.sh        # keep target/peers/results.tsv, redo 3-5 only
#
# Everything is written to target/peers/ (OUT=...): the peer kit's results.tsv, results.md and
# verify.txt, then ratios.md (step 2) and summary.md (the final block).
#
# What it does and what each figure means
#   1. Builds the release binary (cargo build --release, honouring CARGO_TARGET_DIR), then runs
#      the peer kit (PEERS_DIR, default ../shared/peers beside the repository):
#        SERVERS="gdnsd knot cdnsteer" MODES=pinned CDNSTEER_BIN=<release binary>
#        CDNSTEER_DIR=<this checkout> OUT=target/peers bash $PEERS_DIR/bench.sh
#      The kit installs its Debian packages (dnsperf, gdnsd, knot, ...) and a country database
#      for the peers on first use, starts each server on 127.0.0.1 only, pinned to CPU 1 with
#      one thread, and runs dnsperf pinned to CPU 0 on three query sets:
#        www          www.example.com A          (a static record)
#        live         live.example.com A         (steered, no ECS: located by 127.0.0.1)
#        live-ecs-kr  live.example.com A + ECS 211.234.0.0/24 (steered by the client subnet)
#      cdnsteer is started as `cdnsteer serve` from this checkout (bundled zones/ and geoip/,
#      DNS on 127.0.0.1:5353, admin API on 127.0.0.1:8053, state in ./state); both ports must
#      be free. The kit's own knobs (IDLE_WAIT_S, TRIES, QSETS, NO_INSTALL, CLIENTS, ...) pass
#      through from the environment; see the top of its bench.sh.
#   2. Reads target/peers/results.tsv and prints, per query set and mode:
#        qps per server core   queries/s divided by the server's CPU share during the run
#                              (utime+stime of the server's process tree). One dnsperf on one
#                              core cannot keep most servers busy, so raw qps measures dnsperf
#                              as much as the server; this is the figure to compare. Mean of
#                              REPS.
#        vs gdnsd, vs Knot     cdnsteer's qps per server core divided by theirs, same run.
#                              Absolute numbers move between machines and runs; these hold.
#        lost                  dnsperf's lost queries, one figure per run ("a / b" for REPS=2),
#                              the kernel's UDP receive-buffer drops on the server's socket.
#                              With the kit's -q 500 they come in bursts, not from sustained
#                              load: dnsperf's first 500 queries at once overflow a socket with
#                              the default receive buffer (net.core.rmem_default, about 220
#                              small datagrams), about 300 are dropped; dnsperf gives them up
#                              together after its 5 s timeout and refills the 300 slots at once,
#                              which overflows again: about 300 per 5 s begun. cdnsteer asks for
#                              4 MiB buffers (udp.receive_buffer_bytes), so its figure is the
#                              one that shows whether it keeps up.
#        other CPU             the most CPU (% of a core) that other processes used during the
#                              cell's runs, from the kit's other_cpu% column; over 25 the
#                              cell's figures are flagged: something else ran on the machine.
#      The same table goes to target/peers/ratios.md.
#   3. Reloads under load: the release server on 127.0.0.1:RELOAD_PORT (bundled zones, admin
#      API off, state in a temporary directory), pinned to CPU 1, dnsperf pinned to CPU 0 at
#      a fixed rate below the ceiling (-Q RELOAD_QPS) on live.example.com A + ECS
#      211.234.0.0/24 (the kit's live-ecs-kr), for RELOAD_DUR seconds, while RELOAD_HUPS
#      SIGHUPs are sent at even intervals. dnsperf keeps at most RELOAD_OUTSTANDING=100
#      queries in flight: enough for 50k q/s at 2 ms per answer, and its first burst still
#      fits the server socket's default receive buffer (see "lost" above), so a loss here
#      is the server falling behind, during a reload or not. Reports:
#        lost                  dnsperf's lost queries (target: 0)
#        UdpRcvbufErrors       increase of the kernel's UDP receive-buffer overflow counter
#                              (/proc/net/snmp) over the run; it counts every UDP socket on the
#                              machine, dnsperf's own included, so it bounds the server's drops
#        server socket drops   the drops counter of the server's own UDP socket(s) on
#                              RELOAD_PORT (/proc/net/udp), the server's share of the above
#        reloads completed     "reload complete ... who=\"SIGHUP\"" lines in the server's log;
#                              signals that arrive while a reload runs are merged by the kernel
#                              and the runtime, so fewer than sent is possible without a fault
#   4. Instructions per steered query: the kit's tools/instr.py runs the whole release server
#      (unpinned, 127.0.0.1:INSTR_PORT) under valgrind/callgrind, answers INSTR_N steered
#      queries with ECS (a different /24 each) and 1 query, and prints
#      (Ir(N) - Ir(1)) / (N - 1): user-space instructions per query including the network
#      loop, not just the handler (bench/dnsperf.sh counts the handler alone). It does not
#      depend on the clock, but it is the difference of two whole-process runs, so the control
#      plane's own work during the longer run's extra second or so (an engine round, a history
#      write) falls on the queries. A brand-new history database's first checkpoint is the
#      largest of these (about 500 instructions per query at N=3000), so each run starts from
#      a copy of a state directory a server has already run on for INSTR_WARM seconds, as
#      any server's is; repeated runs then agree within about 30 instructions per query.
#      instr.py runs INSTR_RUNS=3 times and the median is reported, each run beside it.
#   5. Resident memory of the reload server (VmRSS, VmHWM from /proc/<pid>/status) before the
#      load and after the reload run.
#   6. A summary block with all figures, also written to target/peers/summary.md.
#
# Settings (environment):
#   PEERS_DIR=../shared/peers   the peer kit (relative paths are taken from the repo root)
#   DUR=10 REPS=2               seconds per dnsperf run / runs per cell in the kit
#   UNPINNED=0                  1: also MODES=unpinned (server 2 threads, nothing pinned)
#   SKIP_PEERS=0                1: skip the kit's run (step 1), reuse OUT/results.tsv
#   OUT=target/peers            where every result file goes
#   RELOAD_PORT=5397 RELOAD_DUR=30 RELOAD_HUPS=100 RELOAD_QPS=50000
#   RELOAD_CLIENTS=10 RELOAD_OUTSTANDING=100     dnsperf -c / -q for the reload run
#   INSTR_PORT=5396 INSTR_N=3000 INSTR_RUNS=3    instr.py's server port, queries, runs
#   INSTR_WARM=12               seconds the warm-up server runs before instr.py's runs
#   BENCH_VENV=target/bench-venv                 venv for dnspython if python3 lacks it
#   SERVER_CPU=1 CLIENT_CPU=0                    pinning of the reload run (as the kit)
#
# How long: on a quiet machine with the kit's packages installed, about 5.5 minutes (331 s
# measured): the kit 276 s (18 dnsperf runs of DUR=10 s, each after at least 2 s of waiting
# for an idle machine, plus starting each server), the reload run RELOAD_DUR + 3 s, instr.py
# 3 x 8 s. The first run adds the package installs and the peers' country database
# conversion (about 1 minute). Before each run the kit waits up to IDLE_WAIT_S=90 s for the machine to be idle
# and repeats a disturbed run up to TRIES=3 times, so beside a compile the same run can take
# an hour (DUR=4 REPS=1 took 15 minutes so): run it with nothing else going on.
#
# Safety: only 127.0.0.1 is queried; every loop is bounded in count and time; every process
# this script starts (the kit, the reload server, dnsperf, instr.py and the server it runs) is
# stopped by its pid on exit, whatever happens.

set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }
for arg in "$@"; do
    case "$arg" in
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DUR="${DUR:-10}"
REPS="${REPS:-2}"
UNPINNED="${UNPINNED:-0}"
SKIP_PEERS="${SKIP_PEERS:-0}"
OUT="${OUT:-target/peers}"
RELOAD_PORT="${RELOAD_PORT:-5397}"
RELOAD_DUR="${RELOAD_DUR:-30}"
RELOAD_HUPS="${RELOAD_HUPS:-100}"
RELOAD_QPS="${RELOAD_QPS:-50000}"
RELOAD_CLIENTS="${RELOAD_CLIENTS:-10}"
RELOAD_OUTSTANDING="${RELOAD_OUTSTANDING:-100}"
INSTR_PORT="${INSTR_PORT:-5396}"
INSTR_N="${INSTR_N:-3000}"
INSTR_RUNS="${INSTR_RUNS:-3}"
INSTR_WARM="${INSTR_WARM:-12}"
BENCH_VENV="${BENCH_VENV:-target/bench-venv}"
SERVER_CPU="${SERVER_CPU:-1}"
CLIENT_CPU="${CLIENT_CPU:-0}"
ECS_KR="8:00011800d3ea00"     # EDNS option 8: family 1, /24, scope 0, 211.234.0.0 (the kit's)
ADDR=127.0.0.1                # the only address this script queries

for v in DUR REPS RELOAD_PORT RELOAD_DUR RELOAD_HUPS RELOAD_QPS RELOAD_CLIENTS RELOAD_OUTSTANDING INSTR_PORT INSTR_N INSTR_RUNS INSTR_WARM SERVER_CPU CLIENT_CPU; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "error: $v must be a whole number (got '${!v}')" >&2; exit 2; }
done
(( DUR >= 4 )) || { echo "error: DUR must be >= 4 (the kit measures CPU over [1 s, DUR-1 s])" >&2; exit 2; }
(( RELOAD_DUR >= 2 && RELOAD_HUPS >= 1 && RELOAD_HUPS <= 10000 && INSTR_N >= 2 && INSTR_RUNS >= 1 && INSTR_RUNS <= 10 )) \
    || { echo "error: need RELOAD_DUR >= 2, 1 <= RELOAD_HUPS <= 10000, INSTR_N >= 2, 1 <= INSTR_RUNS <= 10" >&2; exit 2; }

abspath() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$ROOT" "$1" ;; esac; }
OUT="$(abspath "$OUT")"
BENCH_VENV="$(abspath "$BENCH_VENV")"
PEERS="$(abspath "${PEERS_DIR:-../shared/peers}")"
TARGET_DIR="$(abspath "${CARGO_TARGET_DIR:-target}")"
BIN="$TARGET_DIR/release/cdnsteer"

T_START="$(date +%s)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/cdnsteer-sbs.XXXXXX")"
KIT_PID="" SERVER_PID="" DNSPERF_PID="" INSTR_PID=""

tree_pids() { # a pid and its descendants, parents first
    local p="$1" c
    echo "$p"
    for c in $(pgrep -P "$p" 2>/dev/null || true); do tree_pids "$c"; done
}
stop_pid() { # stop one process by pid: TERM, up to 5 s, then KILL
    local p="$1" i
    [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null || return 0
    kill -TERM "$p" 2>/dev/null || true
    for (( i = 0; i < 50; i++ )); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
stop_tree() { # children first (the kit's and instr.py's servers), then the process itself
    local p="$1" pids c
    [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null || return 0
    pids="$(tree_pids "$p" | tail -n +2 | tac)"
    kill -TERM "$p" 2>/dev/null || true      # the kit stops its own server on TERM
    sleep 0.5
    for c in $pids; do stop_pid "$c"; done
    stop_pid "$p"
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_tree "$KIT_PID"
    stop_tree "$INSTR_PID"
    stop_pid "$DNSPERF_PID"
    stop_pid "$SERVER_PID"
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '\n== [%s] %s\n' "$(date +%T)" "$*"; }
die() { echo "error: $*" >&2; exit 1; }
elapsed() { echo $(( $(date +%s) - T_START )); }

[[ -d "$PEERS" && -f "$PEERS/bench.sh" && -f "$PEERS/tools/instr.py" ]] \
    || die "peer kit not found at $PEERS (bench.sh and tools/instr.py): set PEERS_DIR=/path/to/peers"
mkdir -p "$OUT"

port_busy() { ss -Hln "sport = :$1" 2>/dev/null | grep -q .; }

# ---------------------------------------------------------------------------------------------
# 1. Build, then the peer kit

log "building: cargo build --release (target dir $TARGET_DIR)"
cargo build --release
[[ -x "$BIN" ]] || die "no release binary at $BIN"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY="$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo ' (uncommitted changes)' || true)"

MODES="pinned"
[[ "$UNPINNED" == 1 ]] && MODES="pinned unpinned"
T_KIT=0
KIT_RUN="DUR=${DUR}s x REPS=$REPS per cell, -c ${CLIENTS:-10} -q ${OUTSTANDING:-500}"
if [[ "$SKIP_PEERS" == 1 ]]; then
    log "SKIP_PEERS=1: reusing $OUT/results.tsv"
    [[ -s "$OUT/results.tsv" ]] || die "SKIP_PEERS=1 but $OUT/results.tsv is missing"
    KIT_RUN="results.tsv of an earlier run ($(date -u -r "$OUT/results.tsv" '+%Y-%m-%d %H:%M UTC'), of the build then)"
else
    for p in 5301 5303 5353 8053; do
        port_busy "$p" && die "port $p on this machine is in use; the kit needs 5301 (gdnsd), 5303 (knot), 5353 and 8053 (cdnsteer DNS and admin)"
    done
    log "peer kit: SERVERS=\"gdnsd knot cdnsteer\" MODES=\"$MODES\" DUR=$DUR REPS=$REPS OUT=$OUT bash $PEERS/bench.sh"
    t0="$(date +%s)"
    # In the background and waited for, so that an interrupt reaches cleanup at once.
    SERVERS="gdnsd knot cdnsteer" MODES="$MODES" DUR="$DUR" REPS="$REPS" \
        CDNSTEER_BIN="$BIN" CDNSTEER_DIR="$ROOT" OUT="$OUT" bash "$PEERS/bench.sh" </dev/null &
    KIT_PID=$!
    rc=0; wait "$KIT_PID" || rc=$?
    KIT_PID=""
    (( rc == 0 )) || die "the peer kit failed (exit $rc); its log is above"
    T_KIT=$(( $(date +%s) - t0 ))
fi

# ---------------------------------------------------------------------------------------------
# 2. Ratios from results.tsv

log "ratios from $OUT/results.tsv"
QSETS_ORDER="${QSETS:-www live live-ecs-kr}"
# Columns are found by their header names, so a reordered or extended tsv still parses.
# One output line per query set and mode (tab-separated):
#   queries mode cd_core gd_core kn_core vs_gd vs_kn cd_lost gd_lost kn_lost cd_runs gd_runs kn_runs other_max
awk -F'\t' -v qorder="$QSETS_ORDER" -v morder="$MODES" '
    function need(name) { if (!(name in col)) { print "results.tsv has no column " name > "/dev/stderr"; bad = 1 } }
    NR == 1 {
        for (i = 1; i <= NF; i++) col[$i] = i
        need("server"); need("mode"); need("queries"); need("lost"); need("qps_per_server_core")
        if (bad) exit 3
        next
    }
    {
        s = $col["server"]; k = $col["queries"] SUBSEP $col["mode"] SUBSEP s
        pc = $col["qps_per_server_core"] + 0
        if (pc > 0) { sum[k] += pc; n[k]++ } else { failed[k]++ }
        lost[k] = lost[k] (lost[k] == "" ? "" : " / ") ($col["lost"] == "" ? "?" : $col["lost"])
        c = $col["queries"] SUBSEP $col["mode"]
        if ("other_cpu%" in col && $col["other_cpu%"] != "") {
            o = $col["other_cpu%"] + 0; if (!(c in other) || o > other[c]) other[c] = o
        }
    }
    function mean(k) { return (k in n) ? sum[k] / n[k] : 0 }
    function ratio(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "n/a" }
    function show(k) { return (k in lost) ? lost[k] : "-" }
    END {
        if (bad) exit 3
        nq = split(qorder, qs, " "); nm = split(morder, ms, " ")
        for (i = 1; i <= nq; i++) for (j = 1; j <= nm; j++) {
            b = qs[i] SUBSEP ms[j] SUBSEP
            c = mean(b "cdnsteer"); g = mean(b "gdnsd"); kn = mean(b "knot")
            oc = qs[i] SUBSEP ms[j]
            printf "%s\t%s\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", qs[i], ms[j], c, g, kn,
                ratio(c, g), ratio(c, kn), show(b "cdnsteer"), show(b "gdnsd"), show(b "knot"),
                n[b "cdnsteer"], n[b "gdnsd"], n[b "knot"], (oc in other) ? other[oc] : "?"
        }
    }' "$OUT/results.tsv" >"$TMP/ratios.tsv" || die "could not parse $OUT/results.tsv"

thousands() { # 302118 -> 302,118 ; 0 -> n/a
    awk -v v="$1" 'BEGIN { if (v + 0 <= 0) { print "n/a"; exit } s = sprintf("%.0f", v); o = "";
        while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'
}
xr() { [[ "$1" == n/a ]] && echo n/a || echo "${1}x"; }

OTHER_MAX="${OTHER_MAX:-25}"    # the kit's threshold for a disturbed run
busy() { [[ "$1" =~ ^[0-9]+$ ]] && (( $1 > OTHER_MAX )) && echo " (disturbed)" || true; }
{
    echo "| queries | mode | cdnsteer qps per server core | vs gdnsd | vs Knot | gdnsd qps per server core | Knot qps per server core | lost cdnsteer | lost gdnsd | lost Knot | other CPU % (max) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    while IFS=$'\t' read -r q m c g k rg rk lc lg lk _ _ _ om; do
        echo "| $q | $m | $(thousands "$c") | $(xr "$rg") | $(xr "$rk") | $(thousands "$g") | $(thousands "$k") | $lc | $lg | $lk | $om$(busy "$om") |"
    done <"$TMP/ratios.tsv"
} >"$OUT/ratios.md"

RATIO_HEAD="$(printf '%-12s %-9s %17s %9s %9s %12s %12s %6s   %s' queries mode "cdnsteer q/s/core" "vs gdnsd" "vs Knot" \
    "gdnsd" "Knot" "other" "lost per run: cdnsteer | gdnsd | Knot")"
RATIO_LINES=()
DISTURBED=0
echo "$RATIO_HEAD"
while IFS=$'\t' read -r q m c g k rg rk lc lg lk nc ng nk om; do
    line="$(printf '%-12s %-9s %17s %9s %9s %12s %12s %5s%%   %s | %s | %s' "$q" "$m" "$(thousands "$c")" "$(xr "$rg")" "$(xr "$rk")" \
        "$(thousands "$g")" "$(thousands "$k")" "$om" "$lc" "$lg" "$lk")"
    (( nc == 0 || ng == 0 || nk == 0 )) && line+="   (missing runs: cdnsteer $nc, gdnsd $ng, knot $nk)"
    [[ -n "$(busy "$om")" ]] && { line+="   DISTURBED"; DISTURBED=1; }
    RATIO_LINES+=("$line")
    echo "$line"
done <"$TMP/ratios.tsv"
RATIO_NOTE="other = most CPU other processes used during a cell's runs (% of a core); over $OTHER_MAX the cell is DISTURBED: rerun on a quiet machine"
(( DISTURBED )) && echo "$RATIO_NOTE"
echo "(table written to $OUT/ratios.md)"

# ---------------------------------------------------------------------------------------------
# Tools for steps 3-4 (the kit installs dnsperf and dig; SKIP_PEERS may have skipped it)

apt_install() {
    command -v apt-get >/dev/null || die "$1 is missing and apt-get is not available; install it yourself"
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    log "installing $*"
    $sudo apt-get install -y -q "$@" >/dev/null || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "$@" >/dev/null; }
}
command -v dnsperf >/dev/null || apt_install dnsperf
command -v valgrind >/dev/null || apt_install valgrind
command -v dig >/dev/null || apt_install bind9-dnsutils
for tool in taskset timeout ss pgrep; do command -v "$tool" >/dev/null || die "$tool is missing"; done

# ---------------------------------------------------------------------------------------------
# 3. Reloads under load (and 5. memory)

answers() { # port: does something answer www.example.com with an address?
    dig +short +norec +time=1 +tries=1 -p "$1" @"$ADDR" www.example.com A 2>/dev/null \
        | grep -q -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$'
}
mem_of() { awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { printf "VmRSS %.1f MiB, VmHWM %.1f MiB", r / 1024, h / 1024 }' "/proc/$1/status"; }
rcvbuf_errors() { # the Udp RcvbufErrors counter, found by its name in the header line
    awk '$1 == "Udp:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else { print $c; exit } }' /proc/net/snmp
}
socket_drops() { # port: drops of the UDP sockets bound to 127.0.0.1:port (/proc/net/udp, last column)
    awk -v a="$(printf '0100007F:%04X' "$1")" 'NR > 1 && $2 == a { d += $NF } END { print d + 0 }' /proc/net/udp
}
now_ns() { date +%s%N; }

port_busy "$RELOAD_PORT" && die "port $RELOAD_PORT is in use; set RELOAD_PORT=..."
log "reload under load: server on CPU $SERVER_CPU at $ADDR:$RELOAD_PORT, dnsperf on CPU $CLIENT_CPU -Q $RELOAD_QPS for ${RELOAD_DUR}s, $RELOAD_HUPS SIGHUPs"
mkdir -p "$TMP/reload-state"
# taskset execs the server, so $! is the server's own pid.
taskset -c "$SERVER_CPU" "$BIN" serve --listen "$ADDR:$RELOAD_PORT" --admin-listen off \
    --state-dir "$TMP/reload-state" </dev/null >"$TMP/reload-server.log" 2>&1 &
SERVER_PID=$!
for (( i = 0; i < 300; i++ )); do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/reload-server.log" >&2; die "server exited during start-up"; }
    answers "$RELOAD_PORT" && break
    sleep 0.1
done
answers "$RELOAD_PORT" || { cat "$TMP/reload-server.log" >&2; die "server did not answer on $ADDR:$RELOAD_PORT within 30 s"; }
MEM_BEFORE="$(mem_of "$SERVER_PID")"
echo "server pid $SERVER_PID answers; memory before load: $MEM_BEFORE"

echo "live.example.com A" >"$TMP/live.txt"
RB0="$(rcvbuf_errors)"
SD0="$(socket_drops "$RELOAD_PORT")"
timeout $(( RELOAD_DUR + 30 )) taskset -c "$CLIENT_CPU" dnsperf -s "$ADDR" -p "$RELOAD_PORT" -d "$TMP/live.txt" \
    -l "$RELOAD_DUR" -Q "$RELOAD_QPS" -c "$RELOAD_CLIENTS" -q "$RELOAD_OUTSTANDING" -E "$ECS_KR" \
    </dev/null >"$TMP/reload-dnsperf.txt" 2>&1 &
DNSPERF_PID=$!
# The signals go out evenly over [0.2 s, RELOAD_DUR - 0.5 s] after dnsperf's start, so that
# every one of them lands while dnsperf sends.
T0=$(( $(now_ns) + 200000000 ))
STEP_NS=$(( (RELOAD_DUR * 1000000000 - 700000000) / RELOAD_HUPS ))
HUPS_SENT=0
for (( i = 0; i < RELOAD_HUPS; i++ )); do
    # SIGHUP i at (i + 1/2) steps into the run: evenly spread, none at the very edges
    target=$(( T0 + i * STEP_NS + STEP_NS / 2 ))
    now="$(now_ns)"
    (( now - T0 > (RELOAD_DUR + 5) * 1000000000 )) && break     # time bound
    if (( target > now )); then sleep "$(awk -v d=$(( target - now )) 'BEGIN { printf "%.3f", d / 1e9 }')"; fi
    kill -0 "$DNSPERF_PID" 2>/dev/null || break
    kill -HUP "$SERVER_PID" 2>/dev/null || break
    HUPS_SENT=$(( HUPS_SENT + 1 ))
done
rc=0; wait "$DNSPERF_PID" || rc=$?
DNSPERF_PID=""
RB1="$(rcvbuf_errors)"
SD1="$(socket_drops "$RELOAD_PORT")"
sleep 0.5    # let a reload triggered by the last signal finish and log
kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/reload-server.log" >&2; die "server died during the reload run"; }
MEM_AFTER="$(mem_of "$SERVER_PID")"
(( rc == 0 )) || { cat "$TMP/reload-dnsperf.txt" >&2; die "dnsperf failed in the reload run (exit $rc)"; }
sed -n '/Statistics:/,$p' "$TMP/reload-dnsperf.txt" | sed 's/^/    /'

R_SENT="$(awk '/Queries sent:/ { print $3 }' "$TMP/reload-dnsperf.txt")"
R_LOST="$(awk '/Queries lost:/ { print $3 }' "$TMP/reload-dnsperf.txt")"
R_QPS="$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$TMP/reload-dnsperf.txt")"
R_LAT="$(awk '/Average Latency/ { v = $8; gsub(/[(),]/, "", v); printf "avg %.3f ms, max %.3f ms", $4 * 1000, v * 1000 }' "$TMP/reload-dnsperf.txt")"
[[ -n "$R_SENT" && -n "$R_LOST" && -n "$R_QPS" ]] || { cat "$TMP/reload-dnsperf.txt" >&2; die "could not parse dnsperf's output"; }
R_RCVBUF=$(( RB1 - RB0 ))
R_SOCKDROPS=$(( SD1 - SD0 ))
RELOADS_OK="$(grep -c 'reload complete.*who="SIGHUP"' "$TMP/reload-server.log" || true)"
RELOADS_BAD="$(grep -c -E 'reload failed|change pending, frozen' "$TMP/reload-server.log" || true)"
stop_pid "$SERVER_PID"
SERVER_PID=""
if grep -q -E ' (ERROR|WARN) ' "$TMP/reload-server.log"; then
    echo "server log has warnings or errors:" >&2
    grep -E ' (ERROR|WARN) ' "$TMP/reload-server.log" | head -20 | sed 's/^/    /' >&2
fi
cp "$TMP/reload-server.log" "$OUT/reload-server.log"
cp "$TMP/reload-dnsperf.txt" "$OUT/reload-dnsperf.txt"
RELOAD_LINE="$HUPS_SENT SIGHUPs in ${RELOAD_DUR}s at -Q $RELOAD_QPS: $RELOADS_OK reloads completed ($RELOADS_BAD failed or held); dnsperf sent $R_SENT, lost $R_LOST ($R_QPS q/s, $R_LAT); UdpRcvbufErrors +$R_RCVBUF (all UDP sockets, dnsperf's too), server socket drops +$R_SOCKDROPS"
echo "  -> $RELOAD_LINE"
(( HUPS_SENT == RELOAD_HUPS )) || echo "warning: only $HUPS_SENT of $RELOAD_HUPS SIGHUPs were sent (dnsperf or the server ended early)" >&2
echo "  -> memory: before load $MEM_BEFORE; after the reload run $MEM_AFTER"

# ---------------------------------------------------------------------------------------------
# 4. Instructions per steered query (instr.py under callgrind)

PY=python3
if ! python3 -c 'import dns.message, dns.edns' 2>/dev/null; then
    if ! "$BENCH_VENV/bin/python" -c 'import dns.message, dns.edns' 2>/dev/null; then
        log "installing dnspython into $BENCH_VENV"
        python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
        python3 -m venv "$BENCH_VENV"
        "$BENCH_VENV/bin/pip" install -q dnspython
    fi
    PY="$BENCH_VENV/bin/python"
fi
port_busy "$INSTR_PORT" && die "port $INSTR_PORT is in use; set INSTR_PORT=..."
# A state directory as a running server has it (the history database created and
# checkpointed once), copied for each run: a brand-new database's first checkpoint lands in
# one of instr.py's two runs or the other, about 500 instructions per query either way.
log "warming a state directory for instr.py (the server runs for ${INSTR_WARM}s)"
rm -rf "$TMP/instr-warm"; mkdir -p "$TMP/instr-warm"
"$BIN" serve --listen "$ADDR:$INSTR_PORT" --admin-listen off --state-dir "$TMP/instr-warm" >"$TMP/instr-warm.log" 2>&1 &
SERVER_PID=$!
for (( i = 0; i < 100; i++ )); do answers "$INSTR_PORT" && break; sleep 0.2; done
answers "$INSTR_PORT" || die "the warm-up server did not answer; log: $TMP/instr-warm.log"
sleep "$INSTR_WARM"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
INSTR_ALL=() INSTR_WARN=""
for (( r = 1; r <= INSTR_RUNS; r++ )); do
    log "instructions per steered query ($r/$INSTR_RUNS): instr.py $INSTR_PORT $INSTR_N -- cdnsteer serve (unpinned, under callgrind)"
    rm -rf "$TMP/instr-state"; cp -a "$TMP/instr-warm" "$TMP/instr-state"
    t0="$(date +%s)"
    # TMPDIR: instr.py leaves its callgrind files in a temporary directory; make it ours
    TMPDIR="$TMP" timeout 1200 "$PY" "$PEERS/tools/instr.py" "$INSTR_PORT" "$INSTR_N" -- \
        "$BIN" serve --listen "$ADDR:$INSTR_PORT" --admin-listen off --state-dir "$TMP/instr-state" \
        </dev/null >"$TMP/instr.txt" 2>&1 &
    INSTR_PID=$!
    rc=0; wait "$INSTR_PID" || rc=$?
    INSTR_PID=""
    cat "$TMP/instr.txt"
    (( rc == 0 )) || die "instr.py failed (exit $rc)"
    v="$(awk '/per query/ { print $NF }' "$TMP/instr.txt")"
    [[ "$v" =~ ^[0-9]+$ ]] || die "could not parse instr.py's output"
    echo "  -> $v instructions per query ($(( $(date +%s) - t0 )) s)"
    INSTR_ALL+=("$v")
    INSTR_WARN+="$(grep '^warning' "$TMP/instr.txt" || true)"
done
INSTR="$(printf '%s\n' "${INSTR_ALL[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
INSTR_TEXT="$INSTR"
(( INSTR_RUNS > 1 )) && INSTR_TEXT+=" (median of $INSTR_RUNS runs: ${INSTR_ALL[*]})"

# ---------------------------------------------------------------------------------------------
# 6. Summary

ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
TOTAL_S="$(elapsed)"
MODES_TEXT="pinned = server on CPU 1 (1 thread), dnsperf on CPU 0"
[[ "$UNPINNED" == 1 ]] && MODES_TEXT+="; unpinned = server 2 threads, nothing pinned"
HEAD_LINES=(
    "cdnsteer $COMMIT$DIRTY beside gdnsd $(ver gdnsd) and Knot $(ver knot) (Debian packages), $(date -u '+%Y-%m-%d %H:%M UTC'), $(getconf _NPROCESSORS_ONLN) CPUs"
    "peer kit: dnsperf $(ver dnsperf); $KIT_RUN; $MODES_TEXT"
)
{
    echo
    echo "=================================================================================================="
    for l in "${HEAD_LINES[@]}"; do echo "$l"; done
    echo
    echo "qps per server core (mean of runs) and cdnsteer's ratio to the peers, same run:"
    echo "$RATIO_HEAD"
    for l in "${RATIO_LINES[@]}"; do echo "$l"; done
    (( DISTURBED )) && echo "$RATIO_NOTE"
    echo
    echo "reload under load (steered + ECS 211.234.0.0/24, dnsperf -c $RELOAD_CLIENTS -q $RELOAD_OUTSTANDING, server pinned to CPU $SERVER_CPU):"
    echo "  $RELOAD_LINE"
    echo "instructions per steered query (instr.py, whole server under callgrind, N=$INSTR_N): $INSTR_TEXT"
    [[ -n "$INSTR_WARN" ]] && echo "  $INSTR_WARN"
    echo "resident memory (bundled zones and GeoIP): before load $MEM_BEFORE; after the reload run $MEM_AFTER"
    echo
    echo "total ${TOTAL_S}s (peer kit ${T_KIT}s); files in $OUT: results.tsv results.md ratios.md summary.md"
    echo "=================================================================================================="
} | tee "$TMP/summary.txt"

{
    echo "# cdnsteer beside gdnsd and Knot"
    echo
    for l in "${HEAD_LINES[@]}"; do echo "$l  "; done
    echo
    cat "$OUT/ratios.md"
    echo
    echo "qps per server core = queries/s divided by the server's CPU share (mean of the runs); lost: one figure per run;"
    echo "other CPU: the most CPU other processes used during the cell's runs (over $OTHER_MAX: disturbed, rerun on a quiet machine)."
    echo
    echo "| figure | value |"
    echo "|---|---|"
    echo "| reload under load ($HUPS_SENT SIGHUPs, ${RELOAD_DUR}s at -Q $RELOAD_QPS -q $RELOAD_OUTSTANDING, steered + ECS) | $RELOADS_OK reloads completed, $RELOADS_BAD failed or held; $R_SENT queries, $R_LOST lost; UdpRcvbufErrors +$R_RCVBUF (all UDP sockets, dnsperf's too), server socket drops +$R_SOCKDROPS |"
    echo "| instructions per steered query (instr.py, N=$INSTR_N, whole server under callgrind) | $INSTR_TEXT |"
    echo "| resident memory, before load / after the reload run | $MEM_BEFORE / $MEM_AFTER |"
} >"$OUT/summary.md"
