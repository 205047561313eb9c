#!/usr/bin/env bash
# CPU per synced issue: a full sync of a simulated site with no latency and no rate limit, so the
# sync's own CPU (parsing, conversion, store writes) is what is measured. Prints user + sys CPU of the
# sync process divided by the issues written, and the simulator's CPU over the same run apart.
# Usage: [DEPLOYMENT=cloud|datacenter] [STORE=postgres://USER@HOST/DB] bench/cpu-per-issue.sh [ISSUES]
#        [CONCURRENCY] [RUNS]   (default cloud, a fresh SQLite store each run, 50000 8 1)
# With STORE, the database should be empty: each run after the first is then a no-change re-sync,
# so use RUNS=1 there.
set -euo pipefail
cd "$(dirname "$0")/.."
issues=${1:-50000}; conc=${2:-8}; runs=${3:-1}
cargo build --release -q -p jiralink
bin=$PWD/target/release/jiralink
work=$(mktemp -d)
trap 'kill $sim 2>/dev/null || true; rm -rf "$work"' EXIT
deployment=${DEPLOYMENT:-cloud}
"$bin" sim --deployment "$deployment" --issues "$issues" --latency-ms 0 > "$work/sim.json" &
sim=$!
while [ ! -s "$work/sim.json" ]; do sleep 0.2; done
field() { python3 -c "import json; d=json.loads(open('$work/sim.json').readline()); print([x for x in d['identities'] if x['name']=='admin'][0]['$1'])"; }
base=$(python3 -c "import json; print(json.loads(open('$work/sim.json').readline())['base_url'])")
# CPU seconds (user + sys) the simulator has used so far, from /proc.
sim_cpu() { python3 -c "import os; f=open('/proc/$sim/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }
echo "| deployment | store | issues written | wall s | sync user s | sync sys s | sync CPU ms/issue | simulator CPU s | load (1 min) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for run in $(seq "$runs"); do
  export JIRALINK_HOME=$work/home$run
  if [ "$deployment" = cloud ]; then
    field secret | "$bin" credential add b --url "$base" --auth cloud-token --email "$(field email)" --secret-stdin --no-test > /dev/null
  else
    field secret | "$bin" credential add b --url "$base" --auth basic --username "$(field username)" --secret-stdin --no-test > /dev/null
  fi
  store=()
  label=sqlite
  if [ -n "${STORE:-}" ]; then store=(--store "$STORE"); label=postgres; fi
  # The page cache dropped (when run as root): a run right after a multi-GB write showed 1-2 s
  # more system time, the kernel writing back the last run's store.
  sync; { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null || true
  load=$(cut -d' ' -f1 /proc/loadavg)
  before=$(sim_cpu)
  /usr/bin/time -f '%U %S %e' -o "$work/time" "$bin" "${store[@]}" --json sync b --concurrency "$conc" > "$work/out.json" 2> "$work/progress"
  after=$(sim_cpu)
  python3 - "$deployment" "$label" "$work/out.json" "$work/time" "$before" "$after" "$load" <<'PY'
import json, sys
dep, label, out, timing, before, after, load = sys.argv[1:]
s = json.load(open(out))
user, sys_, wall = (float(x) for x in open(timing).read().split()[-3:])
n = s["issues_written"]
print(f"| {dep} | {label} | {n} | {wall:.1f} | {user:.1f} | {sys_:.1f} | {1000*(user+sys_)/n if n else 0:.3f} | {float(after)-float(before):.1f} | {load} |")
PY
  # Each run's store (1.3 GB at 50,000 issues) goes once measured, not at the end.
  rm -rf "$JIRALINK_HOME"
done
