"""Hot reload: watch every plugin's folder and reload a plugin when one of its files changes.

:class:`PluginWatcher` runs ``watchfiles.watch`` over the plugins' folders in a daemon thread,
debounced by ~50 ms, and maps each batch of changes to the plugins whose folders they are
in. A running plugin is reloaded (:meth:`PluginHost.reload`: manifest read again, process
restarted, calls in flight drained); one that is not running only has its manifest read
again, and runs the new version when next started. A plugin stopped by a failed reload or
by crashes is started again by the next change, so saving a fix brings it back.

Ignored: ``__pycache__``, compiled Python, ``node_modules``, ``venv``, hidden files and
folders (a plugin's ``HOME`` is its folder, so caches it writes there must not reload it)
and editors' swap, backup and lock files. Reloads of one plugin run one at a time, in a
worker thread of their own; changes during a reload cause one more reload afterwards.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import watchfiles

from logomesh.errors import LogoMeshError

if TYPE_CHECKING:
    from logomesh.plugins.host import PluginHost

logger = logging.getLogger(__name__)

DEBOUNCE_MS = 50
STEP_MS = 10
# watchfiles yields an empty batch after this long without changes; the first one tells
# start() that the watch is in place.
READY_TIMEOUT_MS = 100

IGNORED_DIRS = frozenset({"__pycache__", "node_modules", "venv"})
IGNORED_FILES = tuple(
    re.compile(pattern)
    for pattern in (
        r"\.py[cod]$",  # compiled Python
        r"\.sw.$",  # vim swap files
        r"^4913$",  # vim's probe for a writable folder
        r"~$",  # backups (vim, emacs, gedit)
        r"^#.*#$",  # emacs auto-save
        r"\.___jb_...___$",  # JetBrains safe write
        r"^flycheck_",
        r"\.(tmp|log|kate-swp)$",
    )
)


def plugin_folders(host: PluginHost) -> dict[Path, str]:
    """Each plugin's folder (resolved) -> its name; MCP servers from configuration have none."""
    folders = {}
    for name, plugin in list(host.plugins.items()):
        folder = plugin.found.folder
        if folder is not None and plugin.found.source != "config":
            folders[folder.resolve()] = name
    return folders


class PluginWatcher:
    def __init__(self, host: PluginHost, *, debounce_ms: int = DEBOUNCE_MS) -> None:
        self.host = host
        self.debounce_ms = debounce_ms
        self._stopped = threading.Event()
        self._round = threading.Event()  # set: rebuild the watch (folders changed) or stop
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._folders: dict[Path, str] = {}
        self._lock = threading.Lock()
        self._busy: dict[str, threading.Thread] = {}
        self._dirty: set[str] = set()

    # -- control ---------------------------------------------------------------------------

    def start(self, ready_timeout_s: float = 5.0) -> None:
        """Start watching; return once the watch is in place (changes after it are seen)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopped.clear()
        self._round.clear()
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="plugin-watcher", daemon=True)
        self._thread.start()
        if not self._ready.wait(ready_timeout_s):
            logger.warning("plugin watcher: not watching yet after %.1f s", ready_timeout_s)

    def refresh(self) -> None:
        """Plugins were loaded or unloaded: watch the folders there are now."""
        self._ready.clear()
        self._round.set()

    def stop(self) -> None:
        """Stop watching (promptly) and wait for reloads under way to finish."""
        self._stopped.set()
        self._round.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)
        with self._lock:
            workers = list(self._busy.values())
            self._dirty.clear()
        settings = self.host.settings
        for worker in workers:
            if worker is not threading.current_thread():
                worker.join(timeout=settings.stop_grace_s * 2 + settings.start_timeout_s + 1)

    @property
    def watching(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the watch -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._round.clear()
            self._folders = plugin_folders(self.host)
            paths = [folder for folder in self._folders if folder.is_dir()]
            if not paths:
                self._ready.set()
                self._round.wait()
                continue
            try:
                for changes in watchfiles.watch(
                    *paths,
                    watch_filter=self._wanted,
                    debounce=self.debounce_ms,
                    step=STEP_MS,
                    stop_event=self._round,
                    rust_timeout=READY_TIMEOUT_MS,
                    yield_on_timeout=True,
                    raise_interrupt=False,
                    ignore_permission_denied=True,
                ):
                    self._ready.set()
                    if changes:
                        self._dispatch(changes)
            except Exception:  # a folder vanished, inotify ran out of watches...
                logger.exception("plugin watcher: watching %s failed; retrying", paths)
                self._stopped.wait(1.0)
        self._ready.set()

    def _owner(self, path: Path) -> tuple[Path, str] | None:
        """The plugin folder ``path`` is in (the deepest, if folders nest) and its plugin."""
        for folder in sorted(self._folders, key=lambda f: len(f.parts), reverse=True):
            if path.is_relative_to(folder):
                return folder, self._folders[folder]
        return None

    def _wanted(self, _change: watchfiles.Change, path: str) -> bool:
        owner = self._owner(Path(path))
        if owner is None:
            return False
        parts = Path(path).relative_to(owner[0]).parts
        if any(part.startswith(".") or part in IGNORED_DIRS for part in parts):
            return False
        name = parts[-1] if parts else ""
        return not any(pattern.search(name) for pattern in IGNORED_FILES)

    def _dispatch(self, changes: set[tuple[watchfiles.Change, str]]) -> None:
        names = {owner[1] for _, path in changes if (owner := self._owner(Path(path)))}
        for name in sorted(names):
            logger.info("plugin %s: files changed, reloading", name)
            self._schedule(name)

    # -- reloading -------------------------------------------------------------------------

    def _schedule(self, name: str) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            if name in self._busy:
                self._dirty.add(name)  # reload once more when this one is done
                return
            worker = threading.Thread(
                target=self._reload, args=(name,), name=f"plugin-reload-{name}", daemon=True
            )
            self._busy[name] = worker
        worker.start()

    def _reload(self, name: str) -> None:
        while True:
            if name in self.host.plugins:
                try:
                    self.host.reload(name, start=False)
                except LogoMeshError as exc:
                    logger.warning("plugin %s: reload failed: %s", name, exc.user_message)
                except Exception:
                    logger.exception("plugin %s: reload failed", name)
            with self._lock:
                if name in self._dirty and not self._stopped.is_set():
                    self._dirty.discard(name)
                    continue
                self._busy.pop(name, None)
                return
