"""What a running tool can do besides returning: progress, logs, calls, sampling, events."""

from __future__ import annotations

from ._wire import REQUEST_CANCELLED

TYPE_CHECKING = False  # typing costs more to import than the rest of this package
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeAlias

    from ._plugin import Plugin
    from ._wire import _Pending

    ToolFunc: TypeAlias = Callable[[dict[str, Any], "ToolContext"], object]


class ToolError(Exception):
    """A failure to show to the user.

    Raised by a tool, it becomes a result with ``isError: true`` and this message. Raised by
    ``ctx.call``/``ctx.sample``, it carries the host's JSON-RPC error ``code`` and ``data``.
    """

    def __init__(self, message: str, *, code: int | None = None, data: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data


class ToolContext:
    """What a running tool can do besides returning: progress, logs, calls, sampling, events."""

    __slots__ = (
        "_cancelled",
        "_plugin",
        "_silenced",
        "_waiting",
        "progress_token",
        "request_id",
        "tool",
    )

    def __init__(
        self, plugin: Plugin, request_id: str | int, tool: str, progress_token: object = None
    ) -> None:
        self._plugin = plugin
        self._cancelled = False
        self._silenced = False  # cancelled by the host: MCP wants no response then
        self._waiting: _Pending | None = None
        self.request_id = request_id
        self.tool = tool
        self.progress_token = progress_token

    @property
    def plugin(self) -> Plugin:
        return self._plugin

    @property
    def cancelled(self) -> bool:
        """True once the host cancelled this call (or closed the connection): stop soon."""
        return self._cancelled

    def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Report progress (a no-op when the caller asked for none: no ``progressToken``)."""
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        self._plugin._notify("notifications/progress", params)

    def log(self, level: str, data: object, *, logger: str | None = None) -> None:
        """Write to the host's log (``notifications/message``)."""
        self._plugin.log(level, data, logger=logger)

    def publish(self, event: str, data: object = None) -> None:
        """Publish a LogoMesh event (``logomesh/publish``); the manifest must allow it."""
        self._plugin.publish(event, data)

    def call(
        self, command: str, arguments: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Run a LogoMesh command through the host and wait for ``{ok, outcome, data, ...}``.

        Raises ``ToolError`` on a JSON-RPC error (e.g. permission denied), on timeout, when
        this call is cancelled, or when the host goes away.
        """
        return self._plugin._call(command, arguments, timeout, self)

    def sample(
        self,
        prompt: str,
        max_tokens: int = 512,
        system: str | None = None,
        temperature: float | None = None,
        *,
        timeout: float | None = None,
    ) -> str:
        """Ask the host's model (``sampling/createMessage``) and return the answer's text."""
        return self._plugin._sample(prompt, max_tokens, system, temperature, timeout, self)

    def _cancel(self, reason: str, *, silence: bool) -> None:
        self._silenced = self._silenced or silence
        self._cancelled = True
        waiting = self._waiting
        if waiting is not None:
            waiting.fail(REQUEST_CANCELLED, reason, local=True)


class _Tool:
    __slots__ = ("func", "listing", "name")

    def __init__(self, name: str, func: ToolFunc, listing: str) -> None:
        self.name = name
        self.func = func
        self.listing = listing
