"""What may be shown of HTTP header values written in configuration: ``${env:NAME}``
references as written, every literal part (a token pasted in) as ``[REDACTED]``.

Used wherever configuration is shown (``config show``, ``plugin list``): a header is a
credential more often than not, whatever its name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from logomesh.security.redaction import REDACTED

ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def shown_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """What may be shown of ``headers``: references as written, literal text redacted."""
    return {name: _shown(value) for name, value in headers.items()}


def _shown(value: str) -> str:
    parts = []
    position = 0
    for match in ENV_REFERENCE.finditer(value):
        if match.start() > position:
            parts.append(REDACTED)
        parts.append(match.group(0))
        position = match.end()
    if position < len(value):
        parts.append(REDACTED)
    # "Bearer ${env:T}" shows its scheme word: a word of letters only is no secret.
    scheme = value.split(" ", 1)[0]
    if parts and parts[0] == REDACTED and scheme.isalpha() and value.startswith(scheme + " "):
        rest = _shown(value[len(scheme) + 1 :])
        return f"{scheme} {rest}"
    return "".join(parts)
