#!/usr/bin/env bash
# Side by side, against the same simulated Cloud site (TLS, legacy search on, latency, rate limit):
# `jiralink sync` and airbyte-source-jira 4.0.0 reading issues, comments, worklogs and changelogs.
# Usage: bench/vs-airbyte.sh [ISSUES] [LATENCY_MS] [RATE_LIMIT]   (default 5000 100 50)
set -euo pipefail
cd "$(dirname "$0")/.."
issues=${1:-5000}; latency=${2:-100}; rate=${3:-50}
scripts/setup-venv.sh
cargo build --release -q -p jiralink
bin=$PWD/target/release/jiralink
work=$(mktemp -d)
certifi=$(.venv-airbyte/bin/python -c 'import certifi; print(certifi.where())')
cp "$certifi" "$work/certifi.orig"
trap 'cp "$work/certifi.orig" "$certifi"; kill $sim 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" sim --deployment cloud --issues "$issues" --latency-ms "$latency" --rate-limit "$rate" --tls --legacy-search > "$work/sim.json" &
sim=$!
while [ ! -s "$work/sim.json" ]; do sleep 0.2; done
py() { python3 -c "import json; d=json.loads(open('$work/sim.json').readline()); a=[x for x in d['identities'] if x['name']=='admin'][0]; $1"; }
base=$(py "print(d['base_url'])"); ca=$(py "print(d['ca_cert'])"); email=$(py "print(a['email'])")
stats() { curl -s --cacert "$ca" "$base/__sim/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['requests'])"; }

# jiralink
export JIRALINK_HOME=$work/home
py "print(a['secret'])" | "$bin" credential add b --url "$base" --auth cloud-token --email "$email" --ca-bundle "$ca" --secret-stdin --no-test > /dev/null
r0=$(stats); t0=$(date +%s.%N)
"$bin" --json sync b --concurrency 8 > "$work/jl.json"
t1=$(date +%s.%N); r1=$(stats)
jl=$(python3 - "$work/home/jiralink.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
q = lambda s: c.execute(s).fetchone()[0]
print(q("select count(*) from issues where deleted_at is null"), q("select count(*) from comments where deleted_at is null"), q("select count(*) from worklogs where deleted_at is null"), q("select count(distinct change_id) from issue_changes"))
PY
)

# airbyte-source-jira: trusts only its certifi bundle, so the sim's CA is appended for the run.
cat "$work/certifi.orig" "$ca" > "$certifi"
python3 - "$work" "$base" "$email" "$(py "print(a['secret'])")" <<'PY'
import json, sys
work, base, email, token = sys.argv[1:5]
json.dump({"domain": base.removeprefix("https://"), "email": email, "api_token": token, "start_date": "2000-01-01T00:00:00Z", "projects": [], "issues_stream_expand_with": ["changelog"]}, open(f"{work}/ab-config.json", "w"))
PY
(cd "$work" && "$OLDPWD/.venv-airbyte/bin/source-jira" discover --config ab-config.json > ab-discover.json)
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
cat = next(json.loads(l)["catalog"] for l in open(f"{work}/ab-discover.json") if l.startswith("{") and json.loads(l).get("type") == "CATALOG")
streams = [{"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"} for s in cat["streams"] if s["name"] in ("issues", "issue_comments", "issue_worklogs")]
json.dump({"streams": streams}, open(f"{work}/ab-catalog.json", "w"))
PY
r2=$(stats); t2=$(date +%s.%N)
(cd "$work" && "$OLDPWD/.venv-airbyte/bin/source-jira" read --config ab-config.json --catalog ab-catalog.json > ab-read.json 2> ab-err.log)
t3=$(date +%s.%N); r3=$(stats)
ab=$(python3 - "$work/ab-read.json" <<'PY'
import json, sys, collections
c = collections.Counter(); changes = 0
for l in open(sys.argv[1]):
    if not l.startswith("{"): continue
    m = json.loads(l)
    if m.get("type") == "RECORD":
        c[m["record"]["stream"]] += 1
        if m["record"]["stream"] == "issues":
            changes += len((m["record"]["data"].get("changelog") or {}).get("histories") or [])
print(c["issues"], c["issue_comments"], c["issue_worklogs"], changes)
PY
)
echo "| client | seconds | requests | issues | comments | worklogs | changelog histories |"
echo "|---|---:|---:|---:|---:|---:|---:|"
read -r a b c d <<< "$jl"; printf '| jiralink sync | %.1f | %s | %s | %s | %s | %s |\n' "$(echo "$t1 - $t0" | bc -l)" "$((r1 - r0))" "$a" "$b" "$c" "$d"
read -r a b c d <<< "$ab"; printf '| airbyte-source-jira 4.0.0 | %.1f | %s | %s | %s | %s | %s |\n' "$(echo "$t3 - $t2" | bc -l)" "$((r3 - r2))" "$a" "$b" "$c" "$d"
python3 -c "print(f'jiralink is {($t3-$t2)/($t1-$t0):.1f}x faster in wall time and makes {($r3-$r2)/max(1,$r1-$r0):.1f}x fewer requests')"
