"""How a plugin process is started: its argv, a clean environment, its folder as working
directory, resource limits, its own process group, and network isolation where the machine
allows it.

Deny by default: the environment holds no host variable but a short allowlist (never a
secret), the limits come from the manifest, and a plugin without the ``network`` permission
runs in an empty network namespace when ``unshare`` works here, and every plugin starts
under Landlock where the kernel has it (``launcher.py`` restricts the process, then runs the
plugin): it reads only the runtime's installation, the system folders and the SDK, writes
only its own folder and a private temporary directory, and sees the workspace only as its
manifest's ``permissions.workspace`` says. A server mounted from configuration
(``[[plugins.mcp]]``) has a private folder of its own instead of a plugin folder (see
:mod:`logomesh.plugins.discovery`), and reads only its program's installation
(:mod:`logomesh.plugins.installation`). What could not be applied
is listed in ``LaunchSpec.missing`` so the host can warn and ``logomesh plugin doctor`` can
say so.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from logomesh.errors import PluginStartError
from logomesh.plugins import landlock
from logomesh.plugins.cgroups import PidsCgroup, join, pids_hierarchy
from logomesh.plugins.installation import installations, resolve_program
from logomesh.plugins.manifest import Limits, Manifest, Runtime, WorkspaceAccess
from logomesh.security.redaction import is_secret_key

SDK_DIR = Path(__file__).resolve().parent / "sdk"
LAUNCHER = Path(__file__).resolve().parent / "launcher.py"
# Read-only for every plugin: the system's programs, libraries and configuration.
_SYSTEM_READ = (
    "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/proc", "/dev",
    # From /etc only what programs need to start, resolve names and verify TLS: not all of
    # it, which as root would include /etc/shadow and friends.
    *(f"/etc/{name}" for name in (
        "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "ssl",
        "ca-certificates", "ca-certificates.conf", "passwd", "group", "nsswitch.conf",
        "hosts", "host.conf", "resolv.conf", "gai.conf", "services", "protocols",
        "alternatives", "mime.types", "locale.alias", "os-release", "gitconfig", "npmrc",
    )),
)  # fmt: skip
_DEV_WRITE = ("/dev/null",)
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

    def popen(self, cgroup: PidsCgroup | None = None) -> subprocess.Popen[bytes]:
        """Start it; with ``cgroup``, the child joins it before it execs (see cgroups.py)."""
        return subprocess.Popen(
            list(self.argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,  # its own process group: stop kills every descendant
            preexec_fn=_limiter(self.limits, self.memory_limit, cgroup),
            close_fds=True,
        )


def launch_spec(
    manifest: Manifest, folder: Path, workspace: Path, *, cwd: Path | None = None
) -> LaunchSpec:
    """How to start the plugin: ``folder`` is its own (HOME, writable); ``cwd`` its working
    directory if not that (a mounted server's is the workspace, so the relative paths of its
    ``logomesh.toml`` table mean what they say; it reads it only as permissions grant)."""
    applied = ["clean environment", "own process group", "resource limits", "call timeouts"]
    missing: list[str] = []
    hierarchy = pids_hierarchy()
    if hierarchy is not None:
        applied.append(f"process limit refused by the kernel ({hierarchy.label})")
    else:
        missing.append("a kernel process limit (no pids cgroup here; the watchdog stops it)")
    if manifest.runtime is Runtime.MCP:
        _make_own_folder(manifest, folder)
    env = _clean_env(manifest, folder, workspace)
    argv = _runtime_argv(manifest, folder, workspace)
    if manifest.runtime is Runtime.NODE:
        applied.append("V8 heap limit")
    netns = not manifest.permissions.network and network_namespaces_available()
    # Without a network namespace, Landlock (ABI 4+) can at least refuse TCP connect and bind.
    block_tcp = not manifest.permissions.network and not netns and landlock_abi() >= 4
    if landlock_abi() > 0:
        argv = _landlocked(manifest, folder, workspace, argv, env, block_tcp=block_tcp)
        applied.append(f"filesystem isolation (Landlock ABI {landlock_abi()})")
        if block_tcp:
            applied.append("no TCP connect or bind (Landlock)")
    else:
        missing.append("filesystem isolation (Landlock)")
    if not manifest.permissions.network:
        if netns:
            argv = (unshare_binary() or "unshare", "--net", "--", *argv)
            applied.append("no network (empty network namespace)")
        elif block_tcp:
            missing.append(
                "network isolation beyond TCP (unshare --net is not permitted here; Landlock "
                "blocks TCP only)"
            )
        else:
            missing.append("network isolation (unshare --net is not permitted here)")
    memory = manifest.limits.memory_mb * MB
    return LaunchSpec(
        argv, env, cwd or folder, manifest.limits, memory, tuple(applied), tuple(missing)
    )


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


def _make_own_folder(manifest: Manifest, folder: Path) -> None:
    """A server's folder (its cwd, HOME and writable state) exists before it starts."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise PluginStartError(
            f"Plugin {manifest.name} was not started: its own folder {folder} cannot be "
            f"created ({exc}). Make the workspace writable, or remove the server."
        ) from exc


def _runtime_argv(manifest: Manifest, folder: Path, workspace: Path) -> tuple[str, ...]:
    if manifest.runtime is Runtime.MCP:
        return resolve_program(manifest.command, workspace)
    entry = str(folder / (manifest.entry or ""))
    if manifest.runtime is Runtime.PYTHON:
        # -s: no user site-packages; the helper comes from PYTHONPATH, nothing else is added.
        return (sys.executable, "-s", entry)
    heap = max(16, manifest.limits.memory_mb // 2)
    # A 1 MB young generation halves what an idle plugin keeps after a burst of work, for
    # 15-20% on allocation-heavy calls; the old-space cap keeps V8 under the memory limit.
    return (node_binary(), "--max-semi-space-size=1", f"--max-old-space-size={heap}", entry)


@functools.cache
def landlock_abi() -> int:
    return landlock.abi_version()


def landlock_policy(
    manifest: Manifest, folder: Path, workspace: Path, argv: tuple[str, ...], tmp: Path
) -> tuple[list[str], list[str]]:
    """What a plugin may read and write: ``(read, write)``, deny everything else."""
    read = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, str(SDK_DIR)}
    read |= set(_SYSTEM_READ)
    if manifest.runtime is Runtime.MCP:
        # Its program's and scripts' installation; a folder its argv names is data, which
        # only permissions.workspace grants (`server-filesystem /` reads no more for it).
        read |= installations(argv)
    elif argv and (program := shutil.which(argv[0])):
        # The runtime's installation: /usr for /usr/bin/node, ~/.nvm/... for nvm.
        read.add(str(Path(program).resolve().parent.parent))
    write = {str(folder), str(tmp), *_DEV_WRITE}
    access = manifest.permissions.workspace
    if access is WorkspaceAccess.READ:
        read.add(str(workspace))
    elif access is WorkspaceAccess.WRITE:
        write.add(str(workspace))
    return sorted(read), sorted(write)


def private_tmp(manifest: Manifest, folder: Path) -> Path:
    """This plugin's own temporary directory (TMPDIR), the same one across restarts."""
    root = Path(tempfile.gettempdir()) / f"logomesh-plugins-{os.geteuid()}"
    key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
    path = root / f"{manifest.name}-{key}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = root.lstat()
        if info.st_uid != os.geteuid() or not root.is_dir() or root.is_symlink():
            raise PermissionError(f"{root} is not this user's own folder")
        path.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        # Someone else owns the shared name: a fresh directory of our own instead.
        path = Path(tempfile.mkdtemp(prefix=f"logomesh-plugin-{manifest.name}-"))
    return path


def _landlocked(
    manifest: Manifest,
    folder: Path,
    workspace: Path,
    argv: tuple[str, ...],
    env: dict[str, str],
    *,
    block_tcp: bool,
) -> tuple[str, ...]:
    tmp = private_tmp(manifest, folder)
    env["TMPDIR"] = str(tmp)
    read, write = landlock_policy(manifest, folder, workspace, argv, tmp)
    python = manifest.runtime is Runtime.PYTHON
    policy = json.dumps({"read": read, "write": write, "block_tcp": block_tcp, "python": python})
    if python:  # the entry runs in the launcher's own interpreter: argv is (python, -s, entry)
        return (*argv[:-1], str(LAUNCHER), policy, argv[-1])
    # -S -E -s: no site, no PYTHON* variables; the launcher needs the standard library only.
    return (sys.executable, "-S", "-E", "-s", str(LAUNCHER), policy, *argv)


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


def _limiter(limits: Limits, memory: int, cgroup: PidsCgroup | None) -> Callable[[], None]:
    """Runs in the child between fork and exec: setrlimit, and joining its pids cgroup."""
    settings = [
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * MB),
        (resource.RLIMIT_DATA, memory),
    ]
    if os.geteuid() != 0:
        # RLIMIT_NPROC counts all of the user's processes (root is exempt), so it can only be
        # a backstop above what the user already runs; the watchdog holds the plugin's own
        # limit (logomesh.plugins.watchdog).
        settings.append((resource.RLIMIT_NPROC, _user_processes() + limits.processes))

    procs_file = cgroup.join_path() if cgroup is not None else None

    def apply() -> None:
        if procs_file is not None:
            join(procs_file)  # first, so nothing this process starts is outside the limit
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
        # The launcher imports it in every Python plugin (PYTHONDONTWRITEBYTECODE is set there).
        compileall.compile_file(Path(landlock.__file__), quiet=1)


def _user_processes() -> int:
    uid = os.getuid()
    count = 0
    for name in os.listdir("/proc"):  # noqa: PTH208 (a stat per process; speed matters)
        if name.isdigit():
            with contextlib.suppress(OSError):
                count += Path("/proc", name).stat().st_uid == uid
    return count
