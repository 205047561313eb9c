#!/usr/bin/env bash
# Web app load benchmark: 50 concurrent clients on loopback against the credentials list (1,000
# credentials, as an admin who sees them all) and the insights dashboard on a synced store, then
# p50/p99 latency and requests/s. Goals (issue 16): p99 < 50 ms for the list, < 1 s for a dashboard.
# Usage: [PROFILE=release|dev] bench/serve.sh [ISSUES] [CREDENTIALS] [CLIENTS] [SECONDS]
#        (default release, 100000 1000 50 20; a small run: PROFILE=dev bench/serve.sh 2000 100 10 3)
set -euo pipefail
cd "$(dirname "$0")/.."
issues=${1:-100000}; creds=${2:-1000}; clients=${3:-50}; secs=${4:-20}
profile=${PROFILE:-release}
if [ "$profile" = release ]; then flag=--release; dir=release; else flag=; dir=debug; fi
cargo build $flag -q -p jiralink
cargo build $flag -q -p jiralink-web --example load
target=${CARGO_TARGET_DIR:-$PWD/target}
bin=$target/$dir/jiralink
load=$target/$dir/examples/load
work=$(mktemp -d)
trap 'kill $sim $app 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" sim --deployment cloud --issues "$issues" > "$work/sim.json" &
sim=$!
while [ ! -s "$work/sim.json" ]; do sleep 0.2; done
field() { python3 -c "import json; d=json.loads(open('$work/sim.json').readline()); print([x for x in d['identities'] if x['name']=='admin'][0]['$1'])"; }
base=$(python3 -c "import json; print(json.loads(open('$work/sim.json').readline())['base_url'])")
export JIRALINK_HOME=$work/home
email=$(field email); secret=$(field secret)
printf '%s\n' "$secret" | "$bin" credential add c0 --url "$base" --auth cloud-token --email "$email" --secret-stdin --no-test > /dev/null
t0=$(date +%s)
"$bin" -q sync c0 > /dev/null
echo "synced $issues issues in $(( $(date +%s) - t0 )) s" >&2
# The other credentials, added as a user adds them (each sealed under its own name).
for i in $(seq 1 $((creds - 1))); do
  printf '%s\n' "$secret" | "$bin" credential add "c$i" --url "$base" --auth cloud-token --email "$email" --secret-stdin --no-test > /dev/null
done
password=bench-password-$$
printf '%s\n' "$password" | "$bin" user add bench --role admin --password-stdin > /dev/null
: > "$work/serve.log"
"$bin" serve --bind 127.0.0.1:0 > "$work/serve.log" 2>&1 &
app=$!
while ! grep -q listening "$work/serve.log"; do sleep 0.2; done
url=$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" | sed 's/listening on //')
cookie=$(curl -s -i -H 'content-type: application/json' -d "{\"name\":\"bench\",\"password\":\"$password\"}" "$url/api/session" | tr -d '\r' | sed -n 's/^set-cookie: \([^;]*\).*/\1/p')
export JIRALINK_COOKIE=$cookie
n=$(curl -s -H "cookie: $cookie" "$url/api/credentials" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['credentials']))")
echo "| endpoint ($n credentials, $issues issues, $profile) | clients | requests | errors | p50 (ms) | p99 (ms) | requests/s |"
echo "|---|---:|---:|---:|---:|---:|---:|"
# One request each first: the views and dashboards are built once and then served from the cache
# while nothing changes (the figures are the steady state; the first request's time is printed).
for path in /api/credentials /credentials /api/insights /insights; do
  curl -s -o /dev/null -w "first GET $path: %{time_total} s\n" -H "cookie: $cookie" "$url$path" >&2
done
"$load" "$url/api/credentials" "$clients" "$secs" "GET /api/credentials"
"$load" "$url/credentials" "$clients" "$secs" "GET /credentials (page)"
"$load" "$url/api/insights" "$clients" "$secs" "GET /api/insights"
"$load" "$url/insights" "$clients" "$secs" "GET /insights (dashboard page)"
