#!/usr/bin/env bash
# Runs every test of the project: formatting, clippy, the Rust tests, then the real Python clients
# (PyPI jira, atlassian-python-api, airbyte-source-jira) against the simulator. Installs what it needs
# (Debian's Chromium for the HTML report test, PostgreSQL for the Postgres store tests, a Python
# venv for the clients).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== headless Chromium (HTML report and web app tests)"
scripts/setup-chromium.sh
echo "== Playwright's core library (web app browser tests, with that Chromium)"
scripts/setup-playwright.sh
echo "== PostgreSQL (the Postgres store tests)"
JIRALINK_TEST_POSTGRES=$(scripts/setup-postgres.sh | tail -1)
export JIRALINK_TEST_POSTGRES
echo "== cargo test"
cargo test --workspace
echo "== cargo build (binary for the client tests)"
cargo build -p jiralink
if [ -x scripts/test-clients.sh ]; then
  echo "== real clients against the simulator"
  scripts/test-clients.sh
fi
