#!/usr/bin/env bash
# Installs Debian's Chromium for the HTML report test (headless). Idempotent; needs root or sudo.
set -euo pipefail
if command -v chromium > /dev/null; then exit 0; fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core > /dev/null
chromium --version
