#!/usr/bin/env bash
# Times `jiralink sim` from launch to its start-up line (site generated, listening) and reads its
# resident memory then. Usage: bench/sim-generate.sh [ISSUES...]   (default: 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p jiralink
bin=target/release/jiralink
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
echo "| issues | start-up (s) | RSS after start (MiB) | peak RSS (MiB) |"
echo "|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
  out=$(mktemp)
  start=$(date +%s.%N)
  "$bin" sim --deployment cloud --issues "$n" --seed 1 > "$out" &
  pid=$!
  while [ ! -s "$out" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "sim exited early" >&2; exit 1; }
    sleep 0.05
  done
  end=$(date +%s.%N)
  rss=$(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status)
  peak=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$out"
  printf '| %s | %.1f | %s | %s |\n' "$n" "$(echo "$end - $start" | bc -l)" "$rss" "$peak"
done
