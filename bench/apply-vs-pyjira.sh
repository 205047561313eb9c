#!/usr/bin/env bash
# Side by side: the same 2,000-record file (new issues with one comment each) written to the same
# simulated site with only the "applied, then the answer is lost" fault on (the write commits,
# then a 504 or a connection reset), by a plain script on PyPI `jira` (create_issues 50 at a time,
# then add_comment, retrying a failed call as such scripts do) and by `jiralink apply`. Each tool
# gets a fresh simulator with the same seed. Prints wall time, requests and writes (the
# simulator's /__sim/stats) and duplicates created (from /__sim/snapshot: issues and comments
# beyond one per record).
# Usage: [PROFILE=release|debug] bench/apply-vs-pyjira.sh [RECORDS] [FAULT_RATE] [LATENCY_MS]
#        (default release, 2000 0.01 20). The venv comes from scripts/setup-venv.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-2000}; faults=${2:-0.01}; latency=${3:-20}
. bench/lib.sh
build_jiralink
[ -x .venv/bin/python ] || scripts/setup-venv.sh
work=$(mktemp -d)
sim=
trap '[ -n "$sim" ] && kill $sim 2>/dev/null; rm -rf "$work"' EXIT

start_sim() {
  : > "$work/sim.json"
  "$bin" sim --deployment cloud --issues 200 --seed 5 --latency-ms "$latency" \
    --fault-rate "$faults" --fault-kinds lost > "$work/sim.json" &
  sim=$!
  while [ ! -s "$work/sim.json" ]; do kill -0 $sim 2>/dev/null || { echo "the simulator did not start" >&2; exit 1; }; sleep 0.2; done
  base=$(python3 -c "import json; print(json.loads(open('$work/sim.json').readline())['base_url'])")
  project=$(curl -s "$base/__sim/snapshot" | python3 -c "import json,sys; print([p['key'] for p in json.load(sys.stdin)['projects'] if p['type']=='software'][0])")
  curl -s "$base/__sim/snapshot" > "$work/before.json"
}
stop_sim() { kill $sim 2>/dev/null || true; wait $sim 2>/dev/null || true; sim=; }

# One row: tool, seconds, then what the simulator saw.
row() {
  curl -s "$base/__sim/stats" > "$work/stats.json"
  curl -s "$base/__sim/snapshot" > "$work/after.json"
  python3 - "$1" "$2" "$records" "$work" <<'PY'
import json, sys
tool, secs, records, work = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
stats = json.load(open(f"{work}/stats.json"))
before = json.load(open(f"{work}/before.json"))
after = json.load(open(f"{work}/after.json"))
old = {i["id"] for i in before["issues"]}
new = [i for i in after["issues"] if i["id"] not in old]
comments = sum(len(i["comment_ids"]) for i in new)
missing_comments = sum(1 for i in new if not i["comment_ids"])
print(f"| {tool} | {records} | {secs:.1f} | {stats['requests']} | {stats['writes']} | {len(new)} | {max(0, len(new) - records)} | {comments} | {max(0, comments - len(new))} | {missing_comments} |")
PY
}

echo "| tool | records | seconds | requests | write requests | issues created | duplicate issues | comments created | duplicate comments | issues without their comment |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"

# PyPI jira: a plain script.
start_sim
cat > "$work/pyjira.py" <<'PY'
import sys, time
from jira import JIRA
base, email, token, project, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
jira = JIRA(server=base, basic_auth=(email, token))

def again(call, tries=5):
    # What integration scripts do about a 5xx or a reset: call again.
    for t in range(tries):
        try:
            return call()
        except Exception:
            if t == tries - 1:
                raise

records = [{"project": {"key": project}, "issuetype": {"name": "Task"},
            "summary": f"Bench record {i}", "description": f"Record {i} of the benchmark."}
           for i in range(n)]
created = []
for k in range(0, n, 50):
    out = again(lambda: jira.create_issues(records[k:k + 50], prefetch=False))
    created.extend(r["issue"] for r in out if r["status"] == "Success")
for i, issue in enumerate(created):
    again(lambda: jira.add_comment(issue.key, f"The comment of record {i}."))
PY
t0=$(date +%s.%N)
.venv/bin/python "$work/pyjira.py" "$base" "$(field email)" "$(field secret)" "$project" "$records" \
  > "$work/py.out" 2>&1 || echo "(the PyPI jira script stopped: $(tail -1 "$work/py.out"))" >&2
t1=$(date +%s.%N)
row "PyPI jira 3.10.5 (create_issues + add_comment)" "$(echo "$t1 - $t0" | bc)"
stop_sim

# jiralink apply.
start_sim
export JIRALINK_HOME=$work/home
field secret | "$bin" credential add b --url "$base" --auth cloud-token --email "$(field email)" --secret-stdin --no-test > /dev/null
write_records "$records" "$project"
t0=$(date +%s.%N)
"$bin" -q apply b "$work/records.jsonl" > "$work/apply.out" 2>&1 || echo "(jiralink apply: $(tail -1 "$work/apply.out"))" >&2
t1=$(date +%s.%N)
row "jiralink apply ($profile)" "$(echo "$t1 - $t0" | bc)"
stop_sim
