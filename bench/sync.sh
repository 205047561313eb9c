#!/usr/bin/env bash
# Sync benchmark: a full sync of a simulated site with latency and a rate limit, then a no-change
# re-sync. Prints issues/s, requests per 1,000 issues, share of the rate budget used, peak RSS.
# Usage: [DEPLOYMENT=cloud|datacenter] [STORE=postgres://USER@HOST/DB] [PROJECTS=N] bench/sync.sh [ISSUES]
#        [LATENCY_MS] [RATE_LIMIT] [CONCURRENCY]   (default cloud, a fresh SQLite store, 100000 100 50 8)
# With STORE, the database should be empty (a fresh one: the first run is a full sync).
set -euo pipefail
cd "$(dirname "$0")/.."
issues=${1:-100000}; latency=${2:-100}; rate=${3:-50}; conc=${4:-8}
cargo build --release -q -p jiralink
bin=$PWD/target/release/jiralink
work=$(mktemp -d)
trap 'kill $sim 2>/dev/null || true; rm -rf "$work"' EXIT
deployment=${DEPLOYMENT:-cloud}
projects=()
if [ -n "${PROJECTS:-}" ]; then projects=(--projects "$PROJECTS"); fi
"$bin" sim --deployment "$deployment" --issues "$issues" "${projects[@]}" --latency-ms "$latency" --rate-limit "$rate" > "$work/sim.json" &
sim=$!
while [ ! -s "$work/sim.json" ]; do sleep 0.2; done
field() { python3 -c "import json; d=json.loads(open('$work/sim.json').readline()); print([x for x in d['identities'] if x['name']=='admin'][0]['$1'])"; }
base=$(python3 -c "import json; print(json.loads(open('$work/sim.json').readline())['base_url'])")
export JIRALINK_HOME=$work/home
if [ "$deployment" = cloud ]; then
  field secret | "$bin" credential add b --url "$base" --auth cloud-token --email "$(field email)" --secret-stdin --no-test > /dev/null
else
  field secret | "$bin" credential add b --url "$base" --auth basic --username "$(field username)" --secret-stdin --no-test > /dev/null
fi
store=()
if [ -n "${STORE:-}" ]; then store=(--store "$STORE"); fi
run() { /usr/bin/time -f '%M' -o "$work/rss" "$bin" "${store[@]}" --json sync b --concurrency "$conc" > "$work/out.json"; }
row() {
  python3 - "$1" "$work/out.json" "$(cat "$work/rss")" "$issues" "$rate" <<'PY'
import json, sys
label, path, rss_kb, issues, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = json.load(open(path))
secs = s["duration_ms"] / 1000
print(f"| {label} | {issues} | {s['issues_written']} | {secs:.1f} | {s['issues_written']/secs if secs else 0:.0f} | {s['requests']} | {s['requests']*1000/issues:.1f} | {100*s['requests']/(secs*rate) if secs else 0:.0f}% | {rss_kb//1024} |")
PY
}
echo "| run | site issues | issues written | seconds | issues/s | requests | requests per 1,000 issues | rate budget used | peak RSS (MiB) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
run; row "full sync"
run; row "no-change re-sync"
