#!/usr/bin/env bash
# Write-back benchmark: N new issues with one comment each applied to a simulated site with latency
# and a rate limit, then the same file again (a no-change run). Prints records/s, requests per
# record and the share of the rate budget used.
# Usage: [DEPLOYMENT=cloud|datacenter] [PROFILE=release|debug] bench/apply.sh [RECORDS] [LATENCY_MS]
#        [RATE_LIMIT] [CONCURRENCY]   (default cloud, release, 10000 100 50 8)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-10000}; latency=${2:-100}; rate=${3:-50}; conc=${4:-8}
. bench/lib.sh
build_jiralink
work=$(mktemp -d)
trap 'kill $sim 2>/dev/null || true; rm -rf "$work"' EXIT
deployment=${DEPLOYMENT:-cloud}
"$bin" sim --deployment "$deployment" --issues 200 --latency-ms "$latency" --rate-limit "$rate" > "$work/sim.json" &
sim=$!
while [ ! -s "$work/sim.json" ]; do sleep 0.2; done
base=$(python3 -c "import json; print(json.loads(open('$work/sim.json').readline())['base_url'])")
project=$(curl -s "$base/__sim/snapshot" | python3 -c "import json,sys; print([p['key'] for p in json.load(sys.stdin)['projects'] if p['type']=='software'][0])")
export JIRALINK_HOME=$work/home
if [ "$deployment" = cloud ]; then
  field secret | "$bin" credential add b --url "$base" --auth cloud-token --email "$(field email)" --secret-stdin --no-test > /dev/null
else
  field secret | "$bin" credential add b --url "$base" --auth basic --username "$(field username)" --secret-stdin --no-test > /dev/null
fi
write_records "$records" "$project"
run() { "$bin" --json -q apply b "$work/records.jsonl" --concurrency "$conc" > "$work/out.jsonl" || true; }
row() {
  python3 - "$1" "$work/out.jsonl" "$records" "$rate" <<'PY'
import json, sys
label, path, records, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = [json.loads(l) for l in open(path) if '"summary":true' in l.replace(' ', '')][-1]
secs = s["duration_ms"] / 1000
print(f"| {label} | {records} | {s['created']} | {s['failed']} | {secs:.1f} | {records/secs if secs else 0:.1f} | {s['requests']} | {s['requests']/records:.2f} | {s['writes']} | {100*s['requests']/(secs*rate) if secs else 0:.0f}% |")
PY
}
echo "| run | records | created | failed | seconds | records/s | requests | requests per record | writes | rate budget used |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
run; row "first apply"
run; row "same file again"
