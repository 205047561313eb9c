#!/usr/bin/env bash
# Re-sync cost on a site with many projects: a full sync, then a no-change re-sync, on Cloud and on
# Data Center (bench/sync.sh with PROJECTS). The re-sync's requests should not grow with the
# project count. Usage: bench/resync-projects.sh [PROJECTS] [ISSUES] [LATENCY_MS] [RATE_LIMIT]
# [CONCURRENCY]   (default 600 100000 100 50 8)
set -euo pipefail
cd "$(dirname "$0")/.."
projects=${1:-600}; issues=${2:-100000}; latency=${3:-100}; rate=${4:-50}; conc=${5:-8}
for d in cloud datacenter; do
  echo "### $d, $projects projects"
  DEPLOYMENT=$d PROJECTS=$projects bench/sync.sh "$issues" "$latency" "$rate" "$conc"
done
