"""``logomesh plugin doctor``: which sandbox protections this machine gives plugins.

Each row names a protection, its status and why:

- ``active``: the host applies it to every plugin it starts (the clean environment, the
  process group, resource limits, call timeouts, the process watchdog, a pids cgroup where
  LogoMesh may create one, RLIMIT_NPROC when not root, network isolation where ``unshare
  --net`` works, and Landlock file system rules where the kernel has them);
- ``available, not used yet``: the machine offers it but the host does not apply it yet
  (Node's permission model, seccomp);
- ``unavailable``: the machine does not offer it, with the reason.

Every probe is quick, and read-only but for the host's own ``logomesh`` pids cgroup
folder (made once, where plugins' cgroups go): files under ``/proc`` and ``/sys``,
``node --version``, one feature test of Node's permission flag, and Landlock's version
query (a system call).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logomesh.plugins.cgroups import PidsHierarchy, pids_hierarchy
from logomesh.plugins.manifest import Runtime, shown_url
from logomesh.plugins.sandbox import landlock_abi, network_namespaces_available, unshare_binary
from logomesh.plural import plural

ACTIVE = "active"
NOT_USED_YET = "available, not used yet"
UNAVAILABLE = "unavailable"
CONNECTED, FAILED = "connected", "failed"  # a mounted MCP server's row

if TYPE_CHECKING:
    from logomesh.plugins.plugin import Plugin

_STATUS_FILE = Path("/proc/self/status")
_USERNS_FILES = (
    Path("/proc/sys/kernel/unprivileged_userns_clone"),
    Path("/proc/sys/user/max_user_namespaces"),
)
# Newer Node has --permission; Node 20 and 21 only --experimental-permission.
_NODE_PERMISSION_FLAGS = ("--permission", "--experimental-permission")
_PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Protection:
    protection: str
    status: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def diagnose() -> list[Protection]:
    """Every protection, in the order a plugin meets them."""
    node = shutil.which("node")
    hierarchy = pids_hierarchy()
    checks: list[Callable[[], Protection]] = [
        clean_environment,
        process_group,
        resource_limits,
        lambda: pids_cgroup(hierarchy),
        nproc_limit,
        lambda: process_watchdog(hierarchy),
        call_timeouts,
        network_namespace,
        lambda: node_runtime(node),
        lambda: node_permission_model(node),
        landlock,
        seccomp,
    ]
    return [check() for check in checks]


def server_rows(plugins: Iterable[Plugin]) -> list[Protection]:
    """One row per mounted MCP server: the transport and protocol version it agreed to, or
    why it did not start (call after starting them)."""
    rows = []
    for plugin in sorted(plugins, key=lambda p: p.name):
        manifest = plugin.found.manifest
        if manifest is None or manifest.runtime is not Runtime.MCP:
            continue
        url = shown_url(manifest.url) if manifest.url else None
        transport = f"Streamable HTTP to {url}" if url else "stdio"
        process = plugin.process
        if process is not None and process.running and process.protocol_version:
            tools = len(plugin.tools)
            detail = (
                f"protocol {process.protocol_version} over {transport}; {plural(tools, 'tool')}, "
                f"{len(plugin.commands)} of them commands"
            )
            rows.append(Protection(f"MCP server {plugin.name}", CONNECTED, detail))
        else:
            why = plugin.error or str(plugin.state)
            rows.append(Protection(f"MCP server {plugin.name}", FAILED, f"{transport}: {why}"))
    return rows


def summary(rows: list[Protection]) -> str:
    counts = {status: sum(1 for row in rows if row.status == status) for status in
              (ACTIVE, NOT_USED_YET, UNAVAILABLE)}  # fmt: skip
    servers = [row for row in rows if row.status in (CONNECTED, FAILED)]
    connected = sum(1 for row in servers if row.status == CONNECTED)
    return (
        f"{counts[ACTIVE]} protections active, {counts[NOT_USED_YET]} available but not used "
        f"yet, {counts[UNAVAILABLE]} unavailable here."
    ) + (f" {connected} of {len(servers)} MCP servers connected." if servers else "")


# -- always applied -------------------------------------------------------------------------


def clean_environment() -> Protection:
    return Protection(
        "clean environment",
        ACTIVE,
        "Plugins see only PATH, the locale, TZ and TERM from the host (never a variable that "
        "looks like a secret), with HOME set to their own folder and the workspace path only "
        "when their manifest asks for workspace access.",
    )


def process_group() -> Protection:
    if sys.platform == "win32":  # pragma: no cover - LogoMesh plugins need POSIX
        return Protection("process group", UNAVAILABLE, "Process groups are POSIX only.")
    return Protection(
        "process group",
        ACTIVE,
        "Each plugin runs in its own session and process group; stopping it signals the whole "
        "group (TERM, then KILL), so no descendant outlives it.",
    )


def resource_limits() -> Protection:
    return Protection(
        "resource limits",
        ACTIVE,
        "From the manifest's [limits]: CPU seconds (RLIMIT_CPU), memory (RLIMIT_DATA, which "
        "Node's V8 tolerates), open files (RLIMIT_NOFILE) and file size (RLIMIT_FSIZE); "
        "processes by the three rows below.",
    )


def pids_cgroup(hierarchy: PidsHierarchy | None) -> Protection:
    name = "process limit (pids cgroup)"
    if hierarchy is not None:
        return Protection(
            name,
            ACTIVE,
            f"Each plugin runs in a cgroup of its own (cgroup v{hierarchy.version}, under "
            f"{hierarchy.folder}) whose pids.max is limits.processes: the kernel refuses the "
            "fork past it (threads count), and the host then stops the plugin.",
        )
    return Protection(
        name,
        UNAVAILABLE,
        "LogoMesh may not create a pids cgroup here (it needs root with a pids hierarchy, "
        "or a cgroup v2 subtree delegated to it with pids enabled): limits.processes is "
        "held by the rows below.",
    )


def nproc_limit(euid: int | None = None) -> Protection:
    name = "process limit (RLIMIT_NPROC)"
    euid = os.geteuid() if euid is None else euid
    if euid == 0:
        return Protection(
            name,
            UNAVAILABLE,
            "LogoMesh runs as root, and the kernel exempts root from RLIMIT_NPROC.",
        )
    return Protection(
        name,
        ACTIVE,
        "A backstop: RLIMIT_NPROC counts all of the user's processes, so each plugin gets "
        "the user's running count plus limits.processes (not the plugin's own limit).",
    )


def process_watchdog(hierarchy: PidsHierarchy | None) -> Protection:
    how = (
        "with a pids cgroup it stops a plugin as soon as the kernel refused one of its forks; "
        "it is the last resort for a process that left its group"
        if hierarchy is not None
        else "without a pids cgroup it is what holds limits.processes, late: a fork bomb runs "
        "past the limit by what it forks between two counts"
    )
    return Protection(
        "process watchdog",
        ACTIVE,
        "Four times a second the host counts each plugin's process group in /proc and stops "
        f"a plugin over limits.processes; {how}.",
    )


def call_timeouts() -> Protection:
    return Protection(
        "call timeouts",
        ACTIVE,
        "Every call has a wall-clock timeout (a command's timeout_s, else [limits] "
        "call_timeout_s); the plugin is told to cancel and the caller gets its answer at once.",
    )


# -- depends on the machine -----------------------------------------------------------------


def network_namespace() -> Protection:
    name = "network namespace"
    if network_namespaces_available():
        return Protection(
            name,
            ACTIVE,
            "Plugins without `network = true` run in an empty network namespace "
            "(unshare --net): no interface but a down loopback.",
        )
    if unshare_binary() is None:
        why = "`unshare` (util-linux) is not installed"
    else:
        why = "`unshare --net` is not permitted for this user"
        settings = _userns_settings()
        if settings:
            why += f" ({settings})"
        why += "; run as root, or enable unprivileged user namespaces"
    return Protection(name, UNAVAILABLE, f"{why}. Plugins keep the host's network.")


def node_runtime(node: str | None) -> Protection:
    name = "Node.js runtime"
    if node is None:
        return Protection(name, UNAVAILABLE, "`node` is not on PATH: Node plugins cannot start.")
    version = _node_output(node, "--version")
    if version is None:
        return Protection(name, UNAVAILABLE, f"{node} --version failed: Node plugins may not run.")
    return Protection(
        name,
        ACTIVE,
        f"Node {version} ({node}); Node plugins get a V8 heap limit (--max-old-space-size, half "
        "their memory_mb).",
    )


def node_permission_model(node: str | None) -> Protection:
    name = "Node permission model"
    if node is None:
        return Protection(name, UNAVAILABLE, "`node` is not on PATH.")
    for flag in _NODE_PERMISSION_FLAGS:
        if _node_supports(node, flag):
            return Protection(
                name,
                NOT_USED_YET,
                f"This Node supports {flag} (file system, child process and worker "
                "restrictions); the host does not pass it to Node plugins yet.",
            )
    return Protection(
        name,
        UNAVAILABLE,
        "This Node has no permission model (it needs Node 20 or newer).",
    )


def landlock(abi: int | None = None) -> Protection:
    name = "Landlock"
    abi = landlock_abi() if abi is None else abi
    if abi > 0:
        return Protection(
            name,
            ACTIVE,
            f"The kernel enforces Landlock (ABI {abi}): every plugin starts restricted to "
            "reading the runtime, the system folders and the SDK, writing its own folder and "
            "a private TMPDIR, and the workspace only as `permissions.workspace` grants.",
        )
    return Protection(
        name,
        UNAVAILABLE,
        "The kernel refuses landlock_create_ruleset (Linux older than 5.13, or landlock not "
        "in the lsm= boot list): plugins can read and write whatever LogoMesh can.",
    )


def seccomp(status_file: Path = _STATUS_FILE) -> Protection:
    name = "seccomp"
    try:
        fields = dict(
            line.split(":", 1) for line in status_file.read_text().splitlines() if ":" in line
        )
    except OSError:
        return Protection(name, UNAVAILABLE, f"{status_file} cannot be read (not Linux?).")
    mode = fields.get("Seccomp", "").strip()
    if not mode:
        return Protection(name, UNAVAILABLE, "The kernel is built without seccomp.")
    current = {
        "0": "LogoMesh itself runs without a filter",
        "1": "LogoMesh itself runs in strict mode",
        "2": "LogoMesh itself already runs under a filter (from its container or service "
        "manager), which plugins inherit",
    }.get(mode, f"mode {mode}")
    return Protection(
        name,
        NOT_USED_YET,
        f"The kernel supports seccomp system call filters ({current}); the host does not "
        "install a filter of its own for plugins yet.",
    )


# -- probes ---------------------------------------------------------------------------------


def _userns_settings() -> str:
    found = []
    for path in _USERNS_FILES:
        try:
            found.append(f"{path.name} = {path.read_text().strip()}")
        except OSError:
            continue
    return ", ".join(found)


def _node_env() -> dict[str, str]:
    # No NODE_OPTIONS (it could add or refuse flags) nor NODE_EXTRA_CA_CERTS (slow start).
    return {key: value for key in ("PATH", "LANG") if (value := os.environ.get(key))}


def _node_output(node: str, *args: str) -> str | None:
    try:
        done = subprocess.run(
            [node, *args],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            env=_node_env(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _node_supports(node: str, flag: str) -> bool:
    """Whether ``node <flag>`` starts and really has ``process.permission``."""
    probe = "process.stdout.write(typeof process.permission === 'object' ? 'yes' : 'no')"
    return _node_output(node, flag, "-e", probe) == "yes"
