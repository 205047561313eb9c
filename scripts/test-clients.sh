#!/usr/bin/env bash
# Runs real, unmodified PyPI Jira clients against `jiralink sim` (see tests/clients/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
cargo build -q -p jiralink
export JIRALINK_BIN=${JIRALINK_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/jiralink}
exec .venv/bin/python -m pytest tests/clients -q -p no:cacheprovider "$@"
