"""The one synchronous way into the engine, for the one-shot CLI (and scripts and tests).

The engine's API is async and every long-lived adapter awaits it on the loop it owns
(docs/architecture.md). A one-shot command has no loop of its own, so it runs one for the
length of the call; nothing outside the CLI does this.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logomesh.commands.models import CommandRequest, CommandResult, Confirmer
    from logomesh.engine import Engine


def run_sync(
    engine: Engine, request: CommandRequest, confirmer: Confirmer | None = None
) -> CommandResult:
    """``engine.execute(request)`` on a loop of its own, for callers that have none."""
    return asyncio.run(engine.execute(request, confirmer))
