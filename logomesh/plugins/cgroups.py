"""A pids cgroup per plugin: the kernel refuses the fork that would pass ``limits.processes``.

The watchdog (``watchdog.py``) can only count a plugin's processes after they exist, so a
fork bomb runs past its limit before it is stopped. Where LogoMesh may create cgroups (root,
or a delegated cgroup v2 subtree) each plugin process joins a cgroup of its own whose
``pids.max`` is the limit, between fork and exec, so the plugin and every descendant are in
it from their first instruction and no fork past the limit succeeds. The kernel counts
tasks, so a thread counts as a process, as it does for RLIMIT_NPROC.

- cgroup v1: the ``pids`` hierarchy (``/sys/fs/cgroup/pids``), under this process's own
  pids cgroup, in a ``logomesh`` folder;
- cgroup v2: under this process's own cgroup when ``pids`` is enabled in its
  ``cgroup.subtree_control`` (systemd ``Delegate=yes``), in a ``logomesh`` folder.

When the plugin ends, everything left in its cgroup is killed and the cgroup removed; a
cgroup left behind by a host that died is removed by the next host that finds it empty.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_FOLDER = "logomesh"


@dataclass(frozen=True, slots=True)
class PidsHierarchy:
    """Where this host creates plugin cgroups, and which cgroup version it is."""

    folder: Path
    version: int

    @property
    def label(self) -> str:
        return f"pids cgroup (cgroup v{self.version}, {self.folder})"


def _own_path(controller: str) -> str | None:
    """This process's cgroup path for ``controller`` ("" for the v2 unified line)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if controller in controllers.split(","):  # "" matches only v2's "0::/path"
            return path.lstrip("/")
    return None


def _v1_parent() -> Path | None:
    own = _own_path("pids")
    parent = CGROUP_ROOT / "pids" / own if own is not None else None
    return parent if parent is not None and parent.is_dir() else None


def _v2_parent() -> Path | None:
    own = _own_path("")
    if own is None or not (CGROUP_ROOT / "cgroup.controllers").exists():
        return None
    parent = CGROUP_ROOT / own
    try:
        delegated = (parent / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    return parent if "pids" in delegated else None


@functools.cache
def pids_hierarchy() -> PidsHierarchy | None:
    """The place for plugin cgroups on this machine, or None when LogoMesh may not make any.

    Creates (once) the ``logomesh`` folder; in v2 it enables ``pids`` for its children."""
    for version, parent in ((2, _v2_parent()), (1, _v1_parent())):
        if parent is None or not os.access(parent, os.W_OK):
            continue
        folder = parent / _FOLDER
        try:
            folder.mkdir(exist_ok=True)
            if version == 2:
                (folder / "cgroup.subtree_control").write_text("+pids")
            if not os.access(folder / "cgroup.procs", os.W_OK):
                continue
        except OSError:
            continue
        _remove_abandoned(folder)
        hierarchy = PidsHierarchy(folder, version)
        if _can_join(hierarchy):
            return hierarchy
    return None


def _can_join(hierarchy: PidsHierarchy) -> bool:
    """Whether a child can really move into a cgroup made here (v2 refuses some moves that
    mkdir allowed), tried once with a short-lived process, so plugins never fail on it."""
    try:
        cgroup = PidsCgroup.create(hierarchy, "probe", 8)
    except OSError:
        return False
    program = shutil.which("true")
    argv = [program] if program else [sys.executable, "-S", "-c", ""]
    try:
        done = subprocess.run(argv, preexec_fn=lambda: join(cgroup.join_path()), timeout=10)
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        cgroup.remove()


def pids_cgroups_available() -> bool:
    return pids_hierarchy() is not None


def _remove_abandoned(folder: Path) -> None:
    """Remove the empty cgroups of hosts that died without removing theirs."""
    try:
        children = list(folder.iterdir())
    except OSError:
        return
    for child in children:
        owner = child.name.rsplit("-", 2)[-2] if child.name.count("-") >= 2 else ""
        if child.is_dir() and owner.isdigit() and not _alive(int(owner)):
            with contextlib.suppress(OSError):
                child.rmdir()  # refused while a process is still in it


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PidsCgroup:
    """One plugin process's cgroup: created before the spawn, joined by the child, removed
    (with whatever is still in it) when the plugin ends."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.peak: int | None = None  # kept when the cgroup is removed

    @classmethod
    def create(cls, hierarchy: PidsHierarchy, plugin: str, limit: int) -> PidsCgroup:
        """A new cgroup for one process of ``plugin``; OSError if it cannot be made."""
        path = hierarchy.folder / f"{plugin}-{os.getpid()}-{secrets.token_hex(4)}"
        path.mkdir()
        try:
            (path / "pids.max").write_text(str(limit))
        except OSError:
            path.rmdir()
            raise
        return cls(path, limit)

    def join_path(self) -> str:
        """The file the child writes its pid to, between fork and exec."""
        return str(self.path / "cgroup.procs")

    def refused_forks(self) -> int:
        """How many forks the kernel refused at ``pids.max`` (``max`` in pids.events)."""
        try:
            for line in (self.path / "pids.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "max":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def read_peak(self) -> int | None:
        """The most tasks it held at once (``pids.peak``; older kernels lack it)."""
        try:
            return int((self.path / "pids.peak").read_text())
        except (OSError, ValueError):
            return self.peak

    def pids(self) -> list[int]:
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def remove(self, timeout_s: float = 5.0) -> None:
        """Kill every process in it, then remove it (idempotent)."""
        if not self.path.exists():
            return
        self.peak = self.read_peak()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pids = self.pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if not pids:
                try:
                    self.path.rmdir()
                    return
                except FileNotFoundError:
                    return
                except OSError:
                    pass  # a task is still on its way out: try again
            time.sleep(0.01)


def join(procs_file: str) -> None:
    """Runs in the child between fork and exec: move this process into its cgroup.

    Failing raises, so the plugin does not start outside its limit (fail closed)."""
    fd = os.open(procs_file, os.O_WRONLY)
    try:
        os.write(fd, str(os.getpid()).encode())
    finally:
        os.close(fd)
