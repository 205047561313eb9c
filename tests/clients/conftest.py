"""Starts `jiralink sim` for the client tests and hands its start-up line to them."""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("JIRALINK_BIN", str(ROOT / "target" / "debug" / "jiralink"))


class Sim:
    """A running simulator: its start-up line, identities by name, and the ground truth."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [BIN, "sim", "--bind", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"jiralink sim exited with {self.proc.wait()}")
        self.info = json.loads(line)
        self.base_url = self.info["base_url"]

    def identity(self, name):
        return next(i for i in self.info["identities"] if i["name"] == name)

    def snapshot(self):
        import requests

        return requests.get(f"{self.base_url}/__sim/snapshot", verify=self.info["ca_cert"] or True).json()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cloud():
    sim = Sim("--deployment", "cloud", "--seed", "7", "--issues", "300")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def datacenter():
    sim = Sim("--deployment", "datacenter", "--seed", "8", "--issues", "300", "--context-path", "/jira")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def cloud_tls_legacy():
    sim = Sim("--deployment", "cloud", "--seed", "9", "--issues", "120", "--projects", "3", "--tls", "--legacy-search")
    yield sim
    sim.stop()
