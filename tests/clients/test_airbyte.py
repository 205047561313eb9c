"""`airbyte-source-jira` 4.0.0 (PyPI), unmodified: `check`, then `read` of projects, issues, boards,
sprints, comments and worklogs from the simulator over TLS with the legacy search endpoint.

The connector only speaks https and trusts only its venv's certifi bundle, so the simulator's
self-signed CA is appended to that bundle for the test and removed afterwards."""

import collections
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-airbyte"
STREAMS = ["projects", "issues", "boards", "sprints", "issue_comments", "issue_worklogs"]


def run(*args, cwd):
    out = subprocess.run([str(VENV / "bin" / "source-jira"), *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


@pytest.fixture
def trusted(cloud_tls_legacy):
    bundle = Path(subprocess.check_output([str(VENV / "bin" / "python"), "-c", "import certifi; print(certifi.where())"], text=True).strip())
    original = bundle.read_text()
    bundle.write_text(original + "\n" + Path(cloud_tls_legacy.info["ca_cert"]).read_text())
    try:
        yield cloud_tls_legacy
    finally:
        bundle.write_text(original)


def test_check_and_read_match_the_snapshot(trusted, tmp_path):
    sim = trusted
    admin = sim.identity("admin")
    config = {
        "domain": sim.base_url.removeprefix("https://"),
        "email": admin["email"],
        "api_token": admin["secret"],
        "start_date": "2000-01-01T00:00:00Z",
        "projects": [],
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    status = [m for m in run("check", "--config", "config.json", cwd=tmp_path) if m["type"] == "CONNECTION_STATUS"]
    assert status and status[0]["connectionStatus"]["status"] == "SUCCEEDED", status

    catalog = next(m["catalog"] for m in run("discover", "--config", "config.json", cwd=tmp_path) if m["type"] == "CATALOG")
    configured = {
        "streams": [
            {"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
            for s in catalog["streams"]
            if s["name"] in STREAMS
        ]
    }
    assert len(configured["streams"]) == len(STREAMS)
    (tmp_path / "catalog.json").write_text(json.dumps(configured))
    messages = run("read", "--config", "config.json", "--catalog", "catalog.json", cwd=tmp_path)
    records = collections.defaultdict(list)
    for m in messages:
        if m["type"] == "RECORD":
            records[m["record"]["stream"]].append(m["record"]["data"])
    errors = [m for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    assert not errors, errors[:2]

    snap = sim.snapshot()
    assert sorted(p["key"] for p in records["projects"]) == sorted(p["key"] for p in snap["projects"])
    assert sorted(i["key"] for i in records["issues"]) == sorted(i["key"] for i in snap["issues"])
    assert sorted(int(c["id"]) for c in records["issue_comments"]) == sorted(c for i in snap["issues"] for c in i["comment_ids"])
    assert sorted(int(w["id"]) for w in records["issue_worklogs"]) == sorted(w for i in snap["issues"] for w in i["worklog_ids"])
    assert sorted(b["id"] for b in records["boards"]) == sorted(b["id"] for b in snap["boards"])
    assert sorted(s["id"] for s in records["sprints"]) == sorted(s["id"] for s in snap["sprints"])
