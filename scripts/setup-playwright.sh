#!/usr/bin/env bash
# Installs Playwright's core library (no browser download: the tests use Debian's Chromium from
# scripts/setup-chromium.sh) for the web app's browser tests, and Debian's Node.js and npm when
# missing. Idempotent.
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/crates/jiralink-web/tests/browser"
if [ -f "$dir/node_modules/playwright-core/package.json" ]; then exit 0; fi
if ! command -v npm > /dev/null; then
  # Debian's Node.js and npm, as setup-chromium.sh installs Chromium (needs root or sudo).
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends nodejs npm > /dev/null
fi
cd "$dir"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent
