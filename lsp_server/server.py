"""The LogoMesh language server: built here, features registered, served on stdio or TCP.

Each feature is one module in ``lsp_server/features/`` with a ``register(server)``; this
module only assembles them and owns the loop's start and end. The end matters: when the
client goes away (``exit``, or stdin closing mid-command), every request still running is
cancelled and recorded as cancelled by the engine, and each engine is closed (its audit
records written, its plugins stopped) before the process exits.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import queue
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

from pygls.io_ import StdoutWriter, run_async
from pygls.lsp.server import LanguageServer

from logomesh import __version__
from logomesh.commands.values import Actor, Source
from lsp_server.inflight import Inflight
from lsp_server.protocol import LogoMeshProtocol, report_unreadable
from lsp_server.workspaces import Built, Workspaces

logger = logging.getLogger(__name__)


class LogoMeshServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("logomesh", __version__, protocol_cls=LogoMeshProtocol)
        # The person at the editor: the OS user running it, mapped to an identity (and
        # roles) by the user's own configuration, exactly as for the CLI.
        self.actor = Actor(Source.LSP, getpass.getuser())
        self.inflight = Inflight()
        self.workspaces = Workspaces(self._engine_built, self._engine_failed)
        self.advertised: set[str] = set()
        self.pending_notices: list[str] = []
        # Features that want to hear of each new engine (diagnostics, code actions), and of
        # each saved document (lsp_server.features.documents).
        self.on_engine: list[Callable[[Built], Any]] = []
        # ... and of each folder whose engine could not be built (the folder, the error).
        self.on_engine_failed: list[Callable[[Path, Exception], Any]] = []
        self.on_saved: list[Callable[[LogoMeshServer, str], Awaitable[None]]] = []
        # Features whose capabilities depend on the client's (diagnostics: push or pull),
        # called with the InitializeParams before pygls builds the server's capabilities.
        self.on_initialize: list[Callable[[Any], None]] = []
        self._closing: asyncio.Task[None] | None = None

    def _engine_built(self, folder: Any, built: Built) -> None:
        self.inflight.subscribe(built.engine)
        for hook in self.on_engine:
            hook(built)

    def _engine_failed(self, folder: Path, error: Exception) -> None:
        for hook in self.on_engine_failed:
            hook(folder, error)

    def report_server_error(self, error: Exception, source: Any) -> None:
        report_unreadable(self, error, source)

    def start_closing(self) -> asyncio.Task[None]:
        """Cancel what still runs (recorded as cancelled), then close every engine; once."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._close(), name="logomesh close")
        return self._closing

    async def close(self) -> None:
        await asyncio.shield(self.start_closing())

    async def _close(self) -> None:
        await self.inflight.cancel_all()
        await self.workspaces.close()


def build_server() -> LogoMeshServer:
    from lsp_server.features import (
        code_actions,
        commands,
        diagnostics,
        documents,
        lifecycle,
        refresh,
        status,
    )

    server = LogoMeshServer()
    lifecycle.register(server)
    commands.register(server)
    documents.register(server)
    refresh.register(server)
    diagnostics.register(server)
    code_actions.register(server)
    status.register(server)
    return server


def serve(server: LogoMeshServer, *, tcp: tuple[str, int] | None = None) -> int:
    try:
        if tcp is not None:
            asyncio.run(_serve_tcp(server, *tcp))
        else:
            stdin, stdout = take_stdio()
            asyncio.run(_serve_stdio(server, stdin, stdout))
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:  # pygls ends the process on ``exit`` with sys.exit(code)
        return exc.code if isinstance(exc.code, int) else 0
    return 0


def take_stdio() -> tuple[BinaryIO, BinaryIO]:
    """The protocol's pipes, on file descriptors of the server's own.

    Other code in the process writes to fd 1 and 2 as if they were a terminal: llama.cpp
    points both at /dev/null while it loads a model (whatever the server wrote meanwhile was
    lost, a reply among it), a C library prints, a child process inherits them. So the
    protocol moves to duplicates, fd 1 becomes stderr (the log) and fd 0 /dev/null: a
    child that reads its stdin cannot take the client's bytes either.
    """
    protocol_in = os.fdopen(os.dup(0), "rb")
    protocol_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol_in, protocol_out


async def _serve_stdio(server: LogoMeshServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    server.protocol.set_writer(StdoutWriter(stdout))
    try:
        await _run(server, StdinReader(stdin))
    finally:
        await server.close()


async def _serve_tcp(server: LogoMeshServer, host: str, port: int) -> None:
    """One client at a time, as editors connect for debugging (``--tcp``)."""
    done = asyncio.Event()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.protocol.set_writer(writer)
        try:
            await _run(server, reader)
        finally:
            await server.close()
            done.set()

    listening = await asyncio.start_server(connected, host, port)
    print(f"logomesh lsp: listening on {host}:{port}", file=sys.stderr, flush=True)
    async with listening:
        await done.wait()


async def _run(server: LogoMeshServer, reader: Any) -> None:
    stop = threading.Event()
    await run_async(stop, reader, server.protocol, logger, server.report_server_error)


class StdinReader:
    """Reads the client's frames in one daemon thread.

    pygls' reader uses its thread pool, whose threads Python joins at exit: a client that
    sends ``exit`` but keeps the pipe open would keep the process alive, blocked in read.
    """

    def __init__(self, stdin: BinaryIO) -> None:
        self._stdin = stdin
        self._calls: queue.SimpleQueue[tuple[Callable[[], bytes], asyncio.Future[bytes]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None

    def readline(self) -> asyncio.Future[bytes]:
        return self._call(self._stdin.readline)

    def readexactly(self, n: int) -> asyncio.Future[bytes]:
        return self._call(lambda: self._stdin.read(n))

    def _call(self, read: Callable[[], bytes]) -> asyncio.Future[bytes]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="lsp-stdin", daemon=True)
            self._thread.start()
        self._calls.put((read, future))
        return future

    def _serve(self) -> None:
        while True:
            read, future = self._calls.get()
            loop = future.get_loop()
            try:
                data = read()
            except (OSError, ValueError):
                data = b""  # a closed pipe is the end of the stream
            try:
                loop.call_soon_threadsafe(_settle, future, data)
            except RuntimeError:
                return  # the loop closed: the server has ended


def _settle(future: asyncio.Future[bytes], data: bytes) -> None:
    if not future.done():
        future.set_result(data)
