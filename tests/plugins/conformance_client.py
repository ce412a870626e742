"""The MCP client that the conformance suite (``@modelcontextprotocol/conformance client``)
runs: ``python tests/plugins/conformance_client.py <server url>``.

It is LogoMesh as a user would run it against a remote server: a fresh workspace whose
``logomesh.toml`` mounts the URL under ``[[plugins.mcp]]`` (``expose = "all"``), then every
tool the server lists called as a command through ``Engine.execute``, with arguments made
from the tool's own ``inputSchema``. What happens is printed to stderr (the suite keeps it);
the exit status is 1 if the server could not be mounted or a call failed.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from logomesh.commands.models import CommandRequest  # noqa: E402
from logomesh.commands.values import Actor, Source  # noqa: E402
from logomesh.composition import build_engine  # noqa: E402
from logomesh.config import load_settings, trust_subject  # noqa: E402
from logomesh.trust import TRUST_FILE, TrustStore  # noqa: E402

PLUGIN = "conformance"
SAMPLES: dict[str, Any] = {"number": 2, "integer": 3, "string": "hello", "boolean": True}


def sample_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """A value of the right type for each property the schema requires (or offers)."""
    properties = schema.get("properties") or {}
    arguments: dict[str, Any] = {}
    for name, spec in properties.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if isinstance(spec, dict) and spec.get("enum"):
            arguments[name] = spec["enum"][0]
        elif kind in SAMPLES:
            arguments[name] = SAMPLES[kind]
        elif kind == "array":
            arguments[name] = []
        elif kind == "object":
            arguments[name] = {}
    return arguments


def main(url: str) -> int:
    with tempfile.TemporaryDirectory(prefix="logomesh-conformance-") as folder:
        workspace, home = Path(folder) / "ws", Path(folder) / "home"
        workspace.mkdir()
        (workspace / "logomesh.toml").write_text(
            f'[[plugins.mcp]]\nname = "{PLUGIN}"\nurl = "{url}"\n'
            'expose = "all"\ndefault_risk = "read"\n',
            encoding="utf-8",
        )
        environ = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")}
        store = TrustStore(home / "config" / "logomesh" / TRUST_FILE)
        store.trust(trust_subject(workspace), "conformance client")
        loaded = load_settings(workspace, {"plugins": {"entry_points": False}}, environ=environ)
        engine = build_engine(loaded.settings, provenance=loaded.provenance)
        try:
            return asyncio.run(call_every_tool(engine))
        finally:
            engine.close()


async def call_every_tool(engine: Any) -> int:
    actor = Actor(Source.CLI, getpass.getuser())
    listed = await engine.execute(CommandRequest("plugin.list", actor, {}))
    [row] = [r for r in listed.data if r["name"] == PLUGIN]
    print(f"mounted: state={row['state']} protocol={row['protocol_version']}", file=sys.stderr)
    if row["state"] != "active":
        print(f"not mounted: {row['error']}", file=sys.stderr)
        return 1
    plugin = engine.plugins.plugins[PLUGIN]
    failed = 0
    for command, binding in plugin.bindings.commands.items():
        tool = plugin.tools.get(binding.tool)
        arguments = sample_arguments(tool.input_schema if tool else {})
        result = await engine.execute(CommandRequest(command, actor, arguments))
        print(f"{command} {arguments}: {result.outcome} {result.message}", file=sys.stderr)
        failed += not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[-1]))
