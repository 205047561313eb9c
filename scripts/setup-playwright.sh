#!/usr/bin/env bash
# Installs Playwright's core library (no browser download: the tests use Debian's Chromium from
# scripts/setup-chromium.sh) for the web app's browser tests. Idempotent.
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/crates/jiralink-web/tests/browser"
if [ -f "$dir/node_modules/playwright-core/package.json" ]; then exit 0; fi
command -v npm > /dev/null || { echo "npm is missing: apt-get install nodejs npm" >&2; exit 1; }
cd "$dir"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent
