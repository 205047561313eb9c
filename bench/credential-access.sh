#!/usr/bin/env bash
# Requests and wall time of `credential test` and `access` against a simulated Cloud site with 500
# projects and 100 ms latency per request. Usage: bench/credential-access.sh [PROJECTS] [LATENCY_MS]
set -euo pipefail
cd "$(dirname "$0")/.."
projects=${1:-500}
latency=${2:-100}
cargo build --release -q -p jiralink
bin=$PWD/target/release/jiralink
work=$(mktemp -d)
trap 'kill $sim 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" sim --deployment cloud --issues 5000 --projects "$projects" --latency-ms "$latency" > "$work/sim.json" &
sim=$!
while [ ! -s "$work/sim.json" ]; do sleep 0.1; done
field() { python3 -c "import json,sys; d=json.loads(open('$work/sim.json').readline()); i=[x for x in d['identities'] if x['name']=='$1'][0] if '$1' else d; print(i['$2'])"; }
base=$(field "" base_url)
export JIRALINK_HOME=$work/home
field admin secret | "$bin" credential add admin --url "$base" --auth cloud-token --email "$(field admin email)" --secret-stdin --no-test > /dev/null
echo "| command | projects | latency (ms) | requests | wall (ms) |"
echo "|---|---:|---:|---:|---:|"
t0=$(date +%s%N); out=$("$bin" --json credential test admin); t1=$(date +%s%N)
req=$(echo "$out" | python3 -c "import json,sys; print(json.load(sys.stdin)['timings']['requests'])")
echo "| credential test | $projects | $latency | $req | $(( (t1 - t0) / 1000000 )) |"
t0=$(date +%s%N); out=$("$bin" --json access admin); t1=$(date +%s%N)
req=$(echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); assert len(d['projects'])==$projects, len(d['projects']); print(d['requests'])")
echo "| access | $projects | $latency | $req | $(( (t1 - t0) / 1000000 )) |"
