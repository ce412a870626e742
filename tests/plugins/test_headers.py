"""Headers for remote MCP servers: ``${env:NAME}`` read from the environment at start,
never shown (``config show`` prints references as written, literals redacted)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings
from logomesh.errors import PluginStartError
from logomesh.plugins.headers import resolve_headers
from logomesh.security.header_values import shown_headers
from tests.plugins.conftest import ME


def test_references_are_read_from_the_environment() -> None:
    environ = {"TOKEN": "s3cr3t-value", "TEAM": "core"}
    headers = {"Authorization": "Bearer ${env:TOKEN}", "X-Team": "${env:TEAM}-${env:TEAM}"}
    assert resolve_headers("far", headers, environ) == {
        "Authorization": "Bearer s3cr3t-value",
        "X-Team": "core-core",
    }


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "Bearer ${env:NOPE}"}, "needs the environment variable NOPE"),
        ({"Bad Name": "x"}, "'Bad Name' is not a valid HTTP header name"),
        ({"X-Evil": "a${env:NL}"}, "holds a line break"),
    ],
)
def test_bad_headers_fail_at_start_with_the_fix(headers: dict[str, str], expected: str) -> None:
    with pytest.raises(PluginStartError) as caught:
        resolve_headers("far", headers, {"NL": "x\r\nHost: evil"})
    assert expected in caught.value.user_message
    assert "evil" not in caught.value.user_message  # a resolved value is never echoed


def test_only_references_are_shown() -> None:
    assert shown_headers(
        {
            "Authorization": "Bearer ${env:TOKEN}",
            "X-Api-Key": "pasted-in-literal-key",
            "Cookie": "a=${env:A}; b=literal",
            "Basic": "Basic dXNlcjpwYXNz",
        }
    ) == {
        "Authorization": "Bearer ${env:TOKEN}",
        "X-Api-Key": "[REDACTED]",
        "Cookie": "[REDACTED]${env:A}[REDACTED]",
        "Basic": "Basic [REDACTED]",
    }


def test_config_show_never_prints_a_header_value(load: Callable[..., LoadedSettings]) -> None:
    table = {
        "name": "far",
        "url": "https://mcp.example.com/mcp",
        "headers": {"Authorization": "Bearer pasted-token-1234567890", "X-Key": "${env:KEY}"},
    }
    loaded = load({"plugins": {"entry_points": False, "mcp": [table]}})
    engine = build_engine(loaded.settings, provenance=loaded.provenance)
    try:
        rows = run_sync(engine, CommandRequest("config.show", ME, {})).data
    finally:
        engine.close()
    [row] = [r for r in rows if r["key"] == "plugins.mcp"]
    assert row["value"][0]["headers"] == {
        "Authorization": "Bearer [REDACTED]",
        "X-Key": "${env:KEY}",
    }
    assert "pasted-token" not in str(rows)
