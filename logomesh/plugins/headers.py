"""HTTP headers for a remote MCP server: written in ``logomesh.toml``, secrets read from
the environment as ``${env:NAME}`` when the server is started.

A header is a credential more often than not (``Authorization``, ``X-Api-Key``), so its
value is never shown: ``config show`` and ``plugin list`` print ``${env:NAME}`` references
as they are written and every literal part as ``[REDACTED]``, and nothing resolved from the
environment is ever logged, audited or put in an error message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from logomesh.errors import PluginStartError
from logomesh.security.header_values import ENV_REFERENCE as _REFERENCE

# RFC 9110 field names; anything else would be refused by the HTTP library mid-call.
_FIELD_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def resolve_headers(
    plugin: str, headers: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``headers`` with each ``${env:NAME}`` replaced by the variable's value."""
    environ = os.environ if environ is None else environ
    resolved: dict[str, str] = {}
    for name, value in headers.items():
        if not _FIELD_NAME.match(name):
            raise PluginStartError(
                f"Plugin {plugin}: header name {name!r} is not a valid HTTP header name; fix "
                "it under `headers` in its [[plugins.mcp]] table."
            )
        missing = [var for var in _REFERENCE.findall(value) if not environ.get(var)]
        if missing:
            raise PluginStartError(
                f"Plugin {plugin}: header {name} needs the environment variable "
                f"{', '.join(missing)}, which is not set. Set it (e.g. `export "
                f"{missing[0]}=...`) before starting LogoMesh."
            )
        text = _REFERENCE.sub(lambda match: environ[match.group(1)], value)
        if "\n" in text or "\r" in text:
            raise PluginStartError(f"Plugin {plugin}: header {name} holds a line break; remove it.")
        resolved[name] = text
    return resolved
