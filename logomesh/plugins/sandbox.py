"""How a plugin process is started: its argv, a clean environment, its folder as working
directory, resource limits, its own process group, and network isolation where the machine
allows it.

Deny by default: the environment holds no host variable but a short allowlist (never a
secret), the limits come from the manifest, and a plugin without the ``network`` permission
runs in an empty network namespace when ``unshare`` works here. What could not be applied
is listed in ``LaunchSpec.missing`` so the host can warn and ``logomesh plugin doctor`` can
say so.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from logomesh.plugins.manifest import Limits, Manifest, Runtime, WorkspaceAccess
from logomesh.security.redaction import is_secret_key

SDK_DIR = Path(__file__).resolve().parent / "sdk"
# Host variables a plugin may see; everything else (tokens, keys, cloud credentials) stays.
_PASSED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "SYSTEMROOT")
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    limits: Limits
    # RLIMIT_DATA, not RLIMIT_AS: V8 reserves far more address space than it uses and aborts
    # under RLIMIT_AS, while DATA counts what is really allocated (malloc and anonymous mmap).
    memory_limit: int
    applied: tuple[str, ...] = ()
    missing: tuple[str, ...] = field(default=())

    def popen(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            list(self.argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,  # its own process group: stop kills every descendant
            preexec_fn=_limiter(self.limits, self.memory_limit),
            close_fds=True,
        )


def launch_spec(manifest: Manifest, folder: Path, workspace: Path) -> LaunchSpec:
    applied = ["clean environment", "own process group", "resource limits", "call timeouts"]
    missing: list[str] = []
    env = _clean_env(manifest, folder, workspace)
    argv = _runtime_argv(manifest, folder, env)
    if manifest.runtime is Runtime.NODE:
        applied.append("V8 heap limit")
    if not manifest.permissions.network:
        if network_namespaces_available():
            argv = (unshare_binary() or "unshare", "--net", "--", *argv)
            applied.append("no network (empty network namespace)")
        else:
            missing.append("network isolation (unshare --net is not permitted here)")
    memory = manifest.limits.memory_mb * MB
    return LaunchSpec(argv, env, folder, manifest.limits, memory, tuple(applied), tuple(missing))


def _clean_env(manifest: Manifest, folder: Path, workspace: Path) -> dict[str, str]:
    env = {
        name: value
        for name in _PASSED_ENV
        if (value := os.environ.get(name)) is not None and not is_secret_key(name)
    }
    env |= {
        "HOME": str(folder),
        "PYTHONUNBUFFERED": "1",
        # Bytecode caches are checked by mtime in whole seconds and size: a file saved twice
        # in one second could run stale after a hot reload. The helper is precompiled instead.
        "PYTHONDONTWRITEBYTECODE": "1",
        "LOGOMESH_PLUGIN": manifest.name,
    }
    if manifest.permissions.workspace is not WorkspaceAccess.NONE:
        env["LOGOMESH_WORKSPACE"] = str(workspace)
    if manifest.runtime is Runtime.PYTHON:
        env["PYTHONPATH"] = str(SDK_DIR / "python")
        _precompile_python_helper()
    elif manifest.runtime is Runtime.NODE:
        env["NODE_PATH"] = str(SDK_DIR / "node")
    return env


def _runtime_argv(manifest: Manifest, folder: Path, env: dict[str, str]) -> tuple[str, ...]:
    if manifest.runtime is Runtime.MCP:
        return manifest.command
    entry = str(folder / (manifest.entry or ""))
    if manifest.runtime is Runtime.PYTHON:
        # -s: no user site-packages; the helper comes from PYTHONPATH, nothing else is added.
        return (sys.executable, "-s", entry)
    heap = max(16, manifest.limits.memory_mb // 2)
    # A 1 MB young generation halves what an idle plugin keeps after a burst of work, for
    # 15-20% on allocation-heavy calls; the old-space cap keeps V8 under the memory limit.
    return (node_binary(), "--max-semi-space-size=1", f"--max-old-space-size={heap}", entry)


@functools.cache
def node_binary() -> str:
    return shutil.which("node") or "node"


@functools.cache
def unshare_binary() -> str | None:
    return shutil.which("unshare")


@functools.cache
def network_namespaces_available() -> bool:
    """Whether ``unshare --net`` works for this user (root, or unprivileged user namespaces)."""
    unshare, true = unshare_binary(), shutil.which("true")
    if unshare is None or true is None:
        return False
    try:
        probe = subprocess.run([unshare, "--net", "--", true], capture_output=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def _limiter(limits: Limits, memory: int) -> Callable[[], None]:
    """Runs in the child between fork and exec: only async-signal-safe work (setrlimit)."""
    settings = [
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * MB),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_DATA, memory),
    ]

    def apply() -> None:
        for which, value in settings:
            # A hard limit already lower than ours stays lower.
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(which, (value, value))

    return apply


@functools.cache
def _precompile_python_helper() -> None:
    """Compile the helper once per host, so no plugin start pays ~10 ms to compile it."""
    import compileall

    with contextlib.suppress(OSError):
        compileall.compile_dir(SDK_DIR / "python", quiet=1)
