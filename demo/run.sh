#!/usr/bin/env bash
# The match-night demo on one machine, in about five minutes: cdnsteer serves the bundled zones
# and GeoIP data with an event whose window is live now (change freeze and event policy in
# force), `cdnsteer feed` plays four minutes of player telemetry and resolver queries in which
# cloudfront degrades in KR, the NOC annotates and drains, and `cdnsteer report` writes the
# post-event report. Open http://127.0.0.1:8053/dashboard while it runs.
#
#   bash demo/run.sh              # writes target/demo/report.html
#   bash demo/run.sh --publish    # also copies it to docs/demo-report.html
#
# Ports: DNS_PORT (default 5353) and ADMIN_PORT (default 8053). Everything it writes is under
# target/demo/ (state, history database, event file, server log).
set -euo pipefail
cd "$(dirname "$0")/.."

DNS_PORT=${DNS_PORT:-5353}
ADMIN_PORT=${ADMIN_PORT:-8053}
FEED=${FEED:-4m}            # how long the stream plays
DEGRADE_AT=${DEGRADE_AT:-90s}
DEGRADE_FOR=${DEGRADE_FOR:-2m}
DIR=target/demo
BIN=${CARGO_TARGET_DIR:-target}/release/cdnsteer   # where `cargo build --release` puts it
ADMIN=http://127.0.0.1:$ADMIN_PORT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "build"
cargo build --release --quiet

rm -rf "$DIR" && mkdir -p "$DIR/state" "$DIR/events"
start=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
say "an event live now: $start to $end ($DIR/events/demo.yaml)"
cat > "$DIR/events/demo.yaml" <<YAML
version: 1
event: demo
customer: Example Broadcasting
start: $start
end: $end
names: [live.example.com]
policy:
  example.com:
    max_change_per_tick: 0.15
    min_dwell_secs: 20
    min_warm_share: 0.03
    max_share: 0.6
    fast_ttl_secs: 5
freeze: true
YAML
cat "$DIR/events/demo.yaml"

say "serve: DNS on 127.0.0.1:$DNS_PORT, dashboard on $ADMIN/dashboard (log: $DIR/serve.log)"
"$BIN" serve --events "$DIR/events" --state-dir "$DIR/state" \
  --listen "127.0.0.1:$DNS_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" >"$DIR/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$ADMIN/ready" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$DIR/serve.log"; exit 1; }
  sleep 0.1
done
curl -fsS "$ADMIN/ready" >/dev/null

ops=(--admin "$ADMIN" --state-dir "$DIR/state")
"$BIN" annotate kickoff --author noc "${ops[@]}"

say "feed: $FEED of telemetry and 100 queries/s; cloudfront degrades in KR at $DEGRADE_AT for $DEGRADE_FOR"
"$BIN" feed "${ops[@]}" --dns "127.0.0.1:$DNS_PORT" --duration "$FEED" \
  --degrade cloudfront:KR --at "$DEGRADE_AT" --for "$DEGRADE_FOR" &
feed=$!

secs() { local v=$1; case $v in *m) echo $(( ${v%m} * 60 ));; *s) echo "${v%s}";; *) echo "$v";; esac; }
at=$(secs "$DEGRADE_AT"); lasting=$(secs "$DEGRADE_FOR")

sleep $(( at + 30 ))
say "the NOC reacts: an annotation and a drain of cloudfront in KR"
"$BIN" annotate "cloudfront KR ticket #123" --author noc "${ops[@]}"
"$BIN" override add --drain cloudfront --region KR --expires 30m --author noc \
  --reason "ticket #123: KR players rebuffering on cloudfront" "${ops[@]}" | tee "$DIR/drain.txt"
"$BIN" explain live.example.com --ecs 211.234.10.0/24 --admin "$ADMIN" || true

sleep $(( lasting - 30 + 15 ))
say "cloudfront recovered: the NOC removes the drain"
id=$(grep -o 'ovr-[0-9]*' "$DIR/drain.txt" | head -1)
"$BIN" override remove "$id" "${ops[@]}"

wait "$feed"
"$BIN" annotate "final whistle" --author noc "${ops[@]}"
sleep 3   # the last answers interval and decisions reach the history

say "report"
"$BIN" report --event demo --from-annotation kickoff --to-annotation "final whistle" \
  --state-dir "$DIR/state" --events "$DIR/events" --out "$DIR/report.html"
# The per-CDN x region table (some columns of the CSV; empty cells shown as -).
"$BIN" report --event demo --state-dir "$DIR/state" --events "$DIR/events" --format csv \
  | cut -d, -f1,2,4,6,7,10,14,15,16 | sed -e 's/,,/,-,/g; s/,,/,-,/g; s/,$/,-/' | column -s, -t
if [[ ${1:-} == --publish ]]; then
  cp "$DIR/report.html" docs/demo-report.html
  echo "copied to docs/demo-report.html"
fi
echo "open $DIR/report.html"
