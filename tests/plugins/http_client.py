"""Drive an :class:`HttpConnection` from a test: record what the server asked and told it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from logomesh.plugins.http_transport import HttpConnection

TOKEN = "s3cr3t-t0ken-value"  # a credential that must never show in a message or a log


@dataclass
class Recorder:
    answer: Callable[[str, dict[str, Any]], Any] = lambda method, params: {}
    asked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    told: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    closed: list[str | None] = field(default_factory=list)
    closed_event: threading.Event = field(default_factory=threading.Event)

    def on_request(self, method: str, params: dict[str, Any]) -> Any:
        self.asked.append((method, params))
        return self.answer(method, params)

    def on_notification(self, method: str, params: dict[str, Any]) -> None:
        self.told.append((method, params))

    def on_closed(self, reason: str | None) -> None:
        self.closed.append(reason)
        self.closed_event.set()


@contextmanager
def connected(
    url: str, headers: dict[str, str] | None = None, **options: Any
) -> Iterator[tuple[HttpConnection, Recorder]]:
    recorder = Recorder()
    connection = HttpConnection(
        url,
        headers if headers is not None else {"Authorization": f"Bearer {TOKEN}"},
        label="remote",
        max_message_bytes=options.pop("max_message_bytes", 1_000_000),
        on_request=recorder.on_request,
        on_notification=recorder.on_notification,
        on_closed=recorder.on_closed,
        **options,
    )
    connection.start()
    try:
        yield connection, recorder
    finally:
        connection.close()


def call(connection: HttpConnection, method: str, params: Any = None, timeout: float = 10) -> Any:
    """Send one request and wait for its answer (raising what the future holds)."""
    _, future = connection.request(method, params if params is not None else {})
    return future.result(timeout=timeout)


def initialize(connection: HttpConnection) -> Any:
    answer = call(
        connection,
        "initialize",
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {"sampling": {}},
            "clientInfo": {"name": "logomesh-tests", "version": "0"},
        },
    )
    connection.protocol_version = answer["protocolVersion"]
    connection.notify("notifications/initialized")
    return answer
