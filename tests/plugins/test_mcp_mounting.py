"""Mounting an MCP server unchanged: tools named as servers in the wild name them become
``<plugin>.<tool>`` commands, ``tool =`` maps a command onto a tool, ``expose`` decides which
tools the server lists become commands, annotations are shown but never lower a risk, and a
tool list that changes while the server runs is followed (and audited).

The server (data/mcp_sdk_server/wild.py) is a plain official-SDK server on stdio.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import RiskLevel
from logomesh.engine import Engine
from logomesh.errors import PluginManifestError
from logomesh.plugins.manifest import Manifest, command_for_tool, parse_manifest
from tests.plugins.conftest import ME, run_command, wait_until

pytestmark = pytest.mark.slow  # importing the SDK takes about a second per server

MakeEngine = Callable[..., Engine]
WILD = Path(__file__).resolve().parent / "data" / "mcp_sdk_server" / "wild.py"


def wild(**overrides: Any) -> dict[str, Any]:
    return {"name": "wild", "command": [sys.executable, str(WILD)], **overrides}


def manifest_of(table: dict[str, Any], tmp_path: Path) -> Manifest:
    return parse_manifest({"version": "x", "runtime": "mcp", **table}, tmp_path / "logomesh.toml")


@pytest.mark.parametrize(
    ("tool", "command"),
    [
        ("get_current_time", "time.get_current_time"),
        ("getTinyImage", "time.get_tiny_image"),
        ("get-sum", "time.get-sum"),
        ("HTTPGet", "time.httpget"),
        ("files/read", "time.files_read"),
        ("a..b", "time.a.b"),
        (".", "time._"),
    ],
)
def test_a_tool_name_maps_into_the_command_alphabet(tool: str, command: str) -> None:
    assert command_for_tool("time", tool) == command


def test_the_issues_manifest_now_mounts(tmp_path: Path) -> None:
    """The table from the issue, refused before: an undotted `name` is the tool."""
    manifest = manifest_of(
        wild(contributes={"commands": [{"name": "get_current_time", "summary": "Now"}]}), tmp_path
    )
    [contribution] = manifest.contributes.commands
    assert manifest.command_name(contribution) == "wild.get_current_time"
    assert contribution.tool_name == "get_current_time"
    explicit = manifest_of(
        wild(contributes={"commands": [{"tool": "get_current_time", "name": "wild.now"}]}),
        tmp_path,
    )
    assert explicit.command_name(explicit.contributes.commands[0]) == "wild.now"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"expose": "all"}, 'expose = "all" needs `default_risk`'),
        ({"expose": "some"}, "`expose`: input should be 'listed' or 'all'"),
        (
            {"contributes": {"commands": [{"name": "get-sum"}, {"name": "get_sum"}]}},
            "",  # distinct commands: fine
        ),
        (
            {"contributes": {"commands": [{"tool": "a"}, {"tool": "A"}]}},
            "tools 'a' and 'A' would both be the command wild.a",
        ),
        ({"contributes": {"commands": [{"summary": "no tool"}]}}, "give `name`"),
        ({"url": "http://127.0.0.1:1/mcp"}, "exactly one of `command`"),
    ],
)
def test_bad_mount_tables_are_refused_with_the_fix(
    tmp_path: Path, table: dict[str, Any], expected: str
) -> None:
    if not expected:
        manifest_of(wild(**table), tmp_path)
        return
    with pytest.raises(PluginManifestError) as caught:
        manifest_of(wild(**table), tmp_path)
    assert expected in caught.value.user_message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:secret@mcp.example.com/mcp", "has credentials in it"),
        ("http://mcp.example.com/mcp", "plain http to another machine"),
        ("ftp://mcp.example.com/mcp", "is not an http(s) URL"),
    ],
)
def test_bad_urls_are_refused_with_the_fix(tmp_path: Path, url: str, expected: str) -> None:
    with pytest.raises(PluginManifestError) as caught:
        manifest_of({"name": "far", "url": url}, tmp_path)
    message = caught.value.user_message
    assert expected in message
    assert "secret" not in message.replace("MY_SERVER_TOKEN", "")  # never echoed back


def test_listed_tools_become_commands_and_the_rest_are_shown(plugin_engine: MakeEngine) -> None:
    commands = [
        {"name": "get_current_time", "summary": "The time"},
        {"tool": "get-sum", "name": "wild.add", "risk": "read"},
        {"name": "getTinyImage"},
        {"name": "wipe", "risk": "danger"},
    ]
    engine = plugin_engine(mcp=[wild(contributes={"commands": commands})])
    assert {"wild.get_current_time", "wild.add", "wild.get_tiny_image", "wild.wipe"} <= {
        spec.name for spec in engine.registry
    }
    now = run_command(engine, "wild.get_current_time", timezone="UTC")
    assert now.ok, now.message
    assert now.data["timezone"] == "UTC"
    added = run_command(engine, "wild.add", a=2, b=3)
    assert added.ok and added.data == {"result": 5}
    [record] = engine.audit.store.query(AuditFilter(action="wild.add"))
    assert record.details["tool"] == "get-sum" and record.details["plugin"] == "wild"
    # Validated against the tool's own inputSchema before the server sees it.
    wrong = run_command(engine, "wild.add", a="two", b=3)
    assert wrong.error is not None and wrong.error.code == "command.invalid_arguments"
    # The summary defaults to the tool's description once the server has listed it.
    assert engine.registry.get("wild.get_tiny_image").summary == "A tiny image, as text here"

    # The manifest marks `wipe` danger; the server's readOnlyHint lowers nothing.
    assert engine.registry.get("wild.wipe").risk is RiskLevel.DANGER
    unconfirmed = run_command(engine, "wild.wipe")
    assert unconfirmed.error is not None and "confirm" in unconfirmed.message.lower()

    [row] = [r for r in run_command(engine, "plugin.list").data if r["name"] == "wild"]
    assert row["protocol_version"] == "2025-11-25" and row["transport"] == "stdio"
    hidden = {h["tool"]: h for h in row["hidden_tools"]}
    assert {"drop_table", "toggle_extra", "slow"} <= set(hidden)
    assert "not exposed" in hidden["drop_table"]["reason"]
    assert hidden["drop_table"]["hints"] == ["not read-only", "destructive"]
    wipe = next(t for t in row["tools"] if t["tool"] == "wipe")
    assert wipe["hints"] == ["read-only"] and wipe["risk"] == "danger"
    # `logomesh commands` shows them too, as tools that are not commands.
    rows = {r["name"]: r for r in run_command(engine, "commands.list", all=True).data}
    assert rows["wild.drop_table"]["exposed"] is False
    assert "not exposed" in rows["wild.drop_table"]["summary"]
    unknown = run_command(engine, "wild.drop_table", table="t")
    assert unknown.error is not None and unknown.error.code == "command.unknown"


def test_expose_all_with_a_default_risk(plugin_engine: MakeEngine, workspace: Path) -> None:
    engine = plugin_engine(mcp=[wild(expose="all", default_risk="read")])
    # Nothing is known before the first start: running one of its commands starts it.
    assert "wild.slow" not in engine.registry
    assert engine.plugins.plugins["wild"].process is None
    assert run_command(engine, "wild.get-sum", a=1, b=2).data == {"result": 3}
    typo = run_command(engine, "wild.get-summ", a=1, b=2)
    assert typo.error is not None and typo.error.code == "command.unknown"
    assert "Did you mean wild.get-sum" in typo.message
    assert engine.registry.get("wild.slow").risk is RiskLevel.READ
    # The server's own word can only make a default_risk stricter.
    assert engine.registry.get("wild.drop_table").risk is RiskLevel.DANGER
    assert engine.registry.get("wild.wipe").risk is RiskLevel.READ
    assert run_command(engine, "wild.get_tiny_image").ok

    # The list is kept: a new engine has the commands before the server starts.
    again = plugin_engine(mcp=[wild(expose="all", default_risk="read")])
    assert "wild.slow" in again.registry
    assert again.plugins.plugins["wild"].process is None
    # ...but not for another server under the same name.
    isolated = [sys.executable, "-I", str(WILD)]
    other = plugin_engine(mcp=[wild(expose="all", default_risk="read", command=isolated)])
    assert "wild.slow" not in other.registry


def test_a_tool_that_maps_onto_an_existing_command_is_refused_by_name(
    plugin_engine: MakeEngine,
) -> None:
    """A listed command takes the name an unlisted tool would map onto (that tool is not
    exposed, and says why); a listed command named like a built-in refuses the plugin."""
    engine = plugin_engine(
        mcp=[
            wild(
                expose="all",
                default_risk="read",
                contributes={"commands": [{"tool": "get_current_time", "name": "wild.slow"}]},
            ),
        ]
    )
    run_command(engine, "plugin.list")
    plugin = engine.plugins.plugins["wild"]
    hidden = {h.tool: h for h in plugin.bindings.hidden}
    assert "wild.slow is the command of tool 'get_current_time'" in hidden["slow"].reason
    assert run_command(engine, "wild.slow", timezone="UTC").ok  # get_current_time's

    clash = plugin_engine(
        mcp=[wild(contributes={"commands": [{"tool": "get-sum", "name": "plugin.list"}]})]
    )
    rows = {row["name"]: row for row in clash.plugins.describe()}
    assert rows["wild"]["state"] == "failed"
    assert "plugin.list (from LogoMesh)" in rows["wild"]["error"]
    assert "[[plugins.mcp]]" in rows["wild"]["error"]


def test_a_tool_list_that_changes_under_a_running_command(plugin_engine: MakeEngine) -> None:
    """A call in flight when the server's tools change ends with its own answer; commands
    follow the new list (added, removed), and the change is in the audit trail."""
    engine = plugin_engine(mcp=[wild(expose="all", default_risk="read")])
    run_command(engine, "plugin.list")
    assert "wild.extra" not in engine.registry

    async def slow_while_toggling() -> tuple[Any, Any]:
        slow = asyncio.ensure_future(
            engine.execute(CommandRequest("wild.slow", ME, {"seconds": 0.6}))
        )
        await asyncio.sleep(0.2)
        toggled = await engine.execute(CommandRequest("wild.toggle_extra", ME, {}))
        return await slow, toggled

    slow, toggled = asyncio.run(slow_while_toggling())
    assert slow.ok and slow.data == {"result": "slept 0.6"}
    assert toggled.ok and toggled.data == {"result": "added"}
    wait_until(lambda: "wild.extra" in engine.registry)
    assert run_command(engine, "wild.extra").data == {"result": "extra"}
    [change] = engine.audit.store.query(AuditFilter(action="plugin.tools_changed"))
    assert change.details["added"] == ["extra"] and change.details["removed"] == []

    assert run_command(engine, "wild.toggle_extra").data == {"result": "removed"}
    wait_until(lambda: "wild.extra" not in engine.registry)
    gone = run_command(engine, "wild.extra")
    assert gone.error is not None and gone.error.code == "command.unknown"


def test_a_listed_tool_the_server_does_not_offer_fails_clearly(plugin_engine: MakeEngine) -> None:
    engine = plugin_engine(mcp=[wild(contributes={"commands": [{"name": "no_such_tool"}]})])
    result = run_command(engine, "wild.no_such_tool")
    assert result.error is not None and result.error.code == "plugin.tool_missing"
    assert "does not offer" in result.message and "get_current_time" in result.message
    [record] = engine.audit.store.query(AuditFilter(action="wild.no_such_tool"))
    assert record.outcome == "error"


def test_plugin_doctor_shows_the_version_each_server_agreed_to(plugin_engine: MakeEngine) -> None:
    broken = {"name": "gone", "command": [sys.executable, str(WILD.with_name("missing.py"))]}
    engine = plugin_engine(mcp=[wild(), broken], max_restarts=0)
    result = run_command(engine, "plugin.doctor")
    assert result.ok, result.message
    rows = {row["protection"]: row for row in result.data}
    assert rows["MCP server wild"]["status"] == "connected"
    detail = rows["MCP server wild"]["detail"]
    assert detail.startswith("protocol 2025-11-25 over stdio; 7 tools, 0 of them")
    assert rows["MCP server gone"]["status"] == "failed"
    assert "missing.py" in rows["MCP server gone"]["detail"]
    assert "1 of 2 MCP servers connected" in result.message


# A raw MCP server that answers initialize with the version it is given: the smallest
# server that can disagree with the client about the protocol.
RAW_SERVER = """
import json, sys
version = sys.argv[1]
for line in sys.stdin:
    message = json.loads(line)
    if message.get("method") == "initialize":
        result = {"protocolVersion": version, "capabilities": {"tools": {}},
                  "serverInfo": {"name": "raw", "version": "1"}}
    elif message.get("method") == "tools/list":
        result = {"tools": [{"name": "ping", "inputSchema": {"type": "object"}}]}
    elif message.get("method") == "tools/call":
        result = {"content": [{"type": "text", "text": "pong"}]}
    else:
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}), flush=True)
"""


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
def test_both_current_protocol_versions_are_accepted(
    plugin_engine: MakeEngine, tmp_path: Path, version: str
) -> None:
    script = tmp_path / "raw.py"
    script.write_text(RAW_SERVER)
    table = {"name": "raw", "command": [sys.executable, str(script), version]}
    engine = plugin_engine(mcp=[{**table, "contributes": {"commands": [{"name": "ping"}]}}])
    assert run_command(engine, "raw.ping").data is None
    [row] = [r for r in run_command(engine, "plugin.list").data if r["name"] == "raw"]
    assert row["protocol_version"] == version


def test_a_protocol_version_it_does_not_speak_is_refused(
    plugin_engine: MakeEngine, tmp_path: Path
) -> None:
    script = tmp_path / "raw.py"
    script.write_text(RAW_SERVER)
    table = {"name": "raw", "command": [sys.executable, str(script), "2099-01-01"]}
    engine = plugin_engine(mcp=[{**table, "contributes": {"commands": [{"name": "ping"}]}}])
    result = run_command(engine, "raw.ping")
    assert result.error is not None
    assert "protocol version '2099-01-01'" in result.message
    assert "2025-06-18" in result.message and "2025-11-25" in result.message


def test_a_caller_who_may_not_run_its_commands_never_starts_the_server(
    load: Callable[..., Any],
) -> None:
    """In read-only mode a `write` default_risk is refused: the server is not started to
    look for the command, and the refusal is the usual unknown command."""
    from logomesh.composition import build_engine

    table = wild(expose="all", default_risk="write")
    loaded = load({"mode": "readonly", "plugins": {"entry_points": False, "mcp": [table]}})
    engine = build_engine(loaded.settings, provenance=loaded.provenance)
    try:
        result = run_command(engine, "wild.get-sum", a=1, b=2)
        assert result.error is not None and result.error.code == "command.unknown"
        assert engine.plugins.plugins["wild"].process is None
    finally:
        engine.close()
