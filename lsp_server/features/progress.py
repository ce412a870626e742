"""``$/progress`` for one request: begun when the work shows it takes time, ended with it.

A command that answers in a few milliseconds should not flash a progress bar, so a
server-created progress (``window/workDoneProgress/create``) begins only once the command
has run for ``BEGIN_AFTER_S``, showing the latest of what it reported (DevShell's output
lines, a model's tokens) by then.
A token the client sent with its request (``workDoneToken``) is the client asking to see
progress: it begins at once. Either way the progress is cancellable, and cancelling it
cancels the engine request (DevShell kills the child's process group).

Output is also streamed as ``window/logMessage`` (type Log), batched to a few messages a
second, so a client's output panel shows what the command printed as it printed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from lsp_server.server import LogoMeshServer

logger = logging.getLogger(__name__)

BEGIN_AFTER_S = 0.5
# Record and field separators in machine-readable output (git -z, --format=%x1e) shown as
# line breaks and spaces; other control characters are dropped.
_SEPARATORS = {0: "\n", 0x1E: "\n", 0x1F: " "} | {
    code: None for code in range(32) if code not in (0, 9, 10, 0x1E, 0x1F)
}
# Reports and output flush at most this often: a chatty build must not flood the editor.
TICK_S = 0.1


class RequestProgress:
    """The progress of one engine request, fed by its events (see ``lsp_server.inflight``)."""

    def __init__(
        self,
        server: LogoMeshServer,
        title: str,
        client_token: types.ProgressToken | None,
        on_cancel: Callable[[], Any],
    ) -> None:
        self._server = server
        self._title = title
        self._token = client_token
        self._client_token = client_token is not None
        self._on_cancel = on_cancel
        self._begun = False
        self._latest: str | None = None
        self._fraction: float | None = None
        self._output: list[str] = []
        self._news = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._client_token or _can_create(self._server):
            self._task = asyncio.create_task(self._run(), name=f"progress {self._title}")

    def news(self, message: str, fraction: float | None = None) -> None:
        """A progress message from the engine (the latest few output lines)."""
        message = message.translate(_SEPARATORS)  # git's -z and format separators
        self._latest = message
        if fraction is not None:
            self._fraction = fraction
        self._output.append(message if message.endswith("\n") else message + "\n")
        self._news.set()

    def output(self, text: str) -> None:
        """A piece of streamed output (a model's tokens): logged, and shown as the latest."""
        self._output.append(text)
        self._news.set()

    async def end(self, message: str) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._flush_output()
        if self._begun and self._token is not None:
            end = types.WorkDoneProgressEnd(message=message)
            self._server.work_done_progress.end(self._token, end)
            self._server.work_done_progress.tokens.pop(self._token, None)

    async def _run(self) -> None:
        """Progress is a courtesy: a client that refuses it (an error answer to
        ``window/workDoneProgress/create``) costs the command nothing."""
        try:
            await self._show()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.info("no progress for %s: %s", self._title, exc)

    async def _show(self) -> None:
        if not self._client_token:
            await asyncio.sleep(BEGIN_AFTER_S)
            token = f"logomesh-{uuid.uuid4().hex}"
            await self._server.work_done_progress.create_async(token)
            self._token = token
        assert self._token is not None
        self._begin(self._token)
        while True:
            await self._news.wait()
            self._news.clear()
            self._report(self._token)
            await asyncio.sleep(TICK_S)

    def _begin(self, token: types.ProgressToken) -> None:
        begin = types.WorkDoneProgressBegin(
            title=f"LogoMesh: {self._title}",
            cancellable=True,
            message=_last_line(self._latest),
            percentage=_percent(self._fraction),
        )
        self._server.work_done_progress.begin(token, begin)
        self._begun = True
        cancelled: Future[Any] | None = self._server.work_done_progress.tokens.get(token)
        if cancelled is not None:
            loop = asyncio.get_running_loop()
            cancelled.add_done_callback(
                lambda future: loop.call_soon(self._on_cancel) if future.cancelled() else None
            )

    def _report(self, token: types.ProgressToken) -> None:
        self._flush_output()
        report = types.WorkDoneProgressReport(
            message=_last_line(self._latest), percentage=_percent(self._fraction)
        )
        self._server.work_done_progress.report(token, report)

    def _flush_output(self) -> None:
        if not self._output:
            return
        text, self._output = "".join(self._output), []
        self._server.window_log_message(
            types.LogMessageParams(type=types.MessageType.Log, message=text.rstrip("\n"))
        )


def _can_create(server: LogoMeshServer) -> bool:
    window = server.client_capabilities.window
    return bool(window and window.work_done_progress)


def _last_line(message: str | None) -> str | None:
    if not message:
        return None
    lines = [line for line in message.splitlines() if line.strip()]
    return lines[-1][:200] if lines else None


def _percent(fraction: float | None) -> int | None:
    return None if fraction is None else max(0, min(100, round(fraction * 100)))
