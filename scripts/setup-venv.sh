#!/usr/bin/env bash
# Installs the real Jira clients the simulator is tested against, from PyPI, pinned:
#   .venv          PyPI jira and atlassian-python-api, with pytest
#   .venv-airbyte  airbyte-source-jira 4.0.0 (its airbyte-cdk pins clash with the others)
# Idempotent: a venv whose pins are already installed is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

install() { # venv requirements...
  local venv=$1; shift
  local stamp="$venv/.jiralink-pins"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$*" ]; then
    return
  fi
  [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
  echo "$*" > "$stamp"
}

install .venv jira==3.10.5 atlassian-python-api==5.0.5 pytest==9.2.0 requests-oauthlib cryptography pyjwt
install .venv-airbyte airbyte-source-jira==4.0.0
