"""One engine per workspace folder, built off the loop when a request first needs it.

An editor may open several folders, each a project with its own ``logomesh.toml``, trust
decision, database and plugins, so each folder gets an :class:`~logomesh.engine.Engine` of
its own, exactly as ``logomesh`` run in that folder would build. What is shared is the
process: the event loop every engine's events are delivered on, the person (one OS user),
and the loaded local models' memory (each engine loads what it uses).

Building an engine imports pydantic, SQLAlchemy and every feature (about a second), so it
happens in a thread, once per folder, after ``initialize`` has been answered; a request that
arrives meanwhile awaits the same build. A build that fails (a broken ``logomesh.toml``)
is kept as its error, so every request for that folder gets the message naming the file and
line, until the configuration changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from lsp_server.options import ClientOptions

if TYPE_CHECKING:
    from logomesh.engine import Engine

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Built:
    """An engine, its folder, and what loading its settings said a person should know
    (untrusted...)."""

    engine: Engine
    notices: tuple[str, ...]
    folder: Path


def path_of(uri: str) -> Path:
    """The file system path of a ``file:`` URI (what editors send for folders and files)."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("file", ""):
        raise ValueError(f"{uri!r} is not a file URI")
    return Path(unquote(parsed.path))


class Workspaces:
    """The folders the editor opened, and their engines."""

    def __init__(
        self,
        on_built: Callable[[Path, Built], None],
        on_failed: Callable[[Path, Exception], None] = lambda _folder, _exc: None,
    ) -> None:
        self._on_built = on_built
        self._on_failed = on_failed
        self.folders: list[Path] = []
        self.options = ClientOptions()
        self._builds: dict[Path, asyncio.Task[Built]] = {}
        self._closed = False

    def configure(self, folders: list[Path], options: ClientOptions) -> None:
        self.folders = folders or [Path.cwd()]
        self.options = options

    def folder_for(self, uri: str | None) -> Path:
        """The innermost open folder holding ``uri``; the first folder when it names none."""
        if uri:
            target = path_of(uri)
            holding = [f for f in self.folders if target == f or f in target.parents]
            if holding:
                return max(holding, key=lambda f: len(f.parts))
        return self.folders[0]

    async def engine_for(self, uri: str | None = None) -> Engine:
        return (await self.built_for(uri)).engine

    async def built_for(self, uri: str | None = None) -> Built:
        while True:
            task = self._build_of(self.folder_for(uri))
            try:
                # Shielded: a cancelled request must not cancel the build others await.
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                # New options stopped this build to start another (the person trusted the
                # folder while it built): the request waits for that one. Its own
                # cancellation, or the server closing, still ends it.
                if not task.cancelled() or self._closed or _cancelling():
                    raise

    def _build_of(self, folder: Path) -> asyncio.Task[Built]:
        task = self._builds.get(folder)
        if task is None:
            task = asyncio.create_task(self._build(folder), name=f"engine {folder}")
            self._builds[folder] = task
        return task

    def ready(self, uri: str | None = None) -> Built | None:
        """The folder's engine if it is built now; None while it builds or failed (a
        handler that must answer at once, like code actions, does without it)."""
        task = self._builds.get(self.folder_for(uri))
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    def engines(self) -> list[Engine]:
        """The engines built so far (failed and unfinished builds left out)."""
        done = [t for t in self._builds.values() if t.done() and not t.cancelled()]
        return [t.result().engine for t in done if t.exception() is None]

    async def add_folder(self, folder: Path) -> None:
        if folder not in self.folders:
            self.folders.append(folder)

    async def remove_folder(self, folder: Path) -> None:
        if folder in self.folders and len(self.folders) > 1:
            self.folders.remove(folder)
        task = self._builds.pop(folder, None)
        if task is not None:
            await _close_build(task)

    async def reconfigure(self, options: ClientOptions) -> bool:
        """Apply new options; True when the engines were closed to be rebuilt with them."""
        rebuild = options.engine_key() != self.options.engine_key()
        self.options = options
        if rebuild:
            await self._close_builds()
        return rebuild

    async def close(self) -> None:
        self._closed = True
        await self._close_builds()

    async def _close_builds(self) -> None:
        builds, self._builds = list(self._builds.values()), {}
        for task in builds:
            await _close_build(task)

    async def _build(self, folder: Path) -> Built:
        options = self.options
        try:
            built = await asyncio.to_thread(_build_engine, folder, options)
        except Exception as exc:
            # Still raised to every request for the folder; told here once, as it happens.
            self._on_failed(folder, exc)
            raise
        # Events from this engine's threads (plugins, DevShell output) reach the server's
        # subscribers on this loop, in order (docs/architecture.md).
        built.engine.events.bind(asyncio.get_running_loop())
        self._on_built(folder, built)
        return built


def _build_engine(folder: Path, options: ClientOptions) -> Built:
    from logomesh.composition import build_engine
    from logomesh.config import load_settings

    loaded = load_settings(folder, options.flags(), trusted=options.trusted)
    engine = build_engine(loaded.settings, provenance=loaded.provenance)
    # Plugins start now, off the loop, and reload when their files change (plugins.watch).
    engine.plugins.serve_in_background()
    return Built(engine, loaded.notices, folder)


def _cancelling() -> bool:
    """Whether the running task itself is being cancelled (not only something it awaits)."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


async def _close_build(task: asyncio.Task[Built]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait([task])
    if task.cancelled() or task.exception() is not None:
        return  # a build that failed or was stopped has nothing to close
    built = task.result()
    built.engine.events.unbind()
    # close() waits for the audit writer and the plugins: not on the loop.
    await asyncio.to_thread(built.engine.close)
