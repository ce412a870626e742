"""Landlock file system (and TCP) rules a plugin process sets on itself before it runs.

Why: deny by default. A plugin reads only what its manifest grants (the workspace only with
``permissions.workspace``, never the user's home, keys or other projects) and writes only its
own folder, a private temporary directory and, with ``workspace = "write"``, the workspace.
Landlock is the Linux security module that lets an unprivileged process restrict itself:
once ``restrict`` returns, the process and everything it executes (the restriction survives
``execve`` and is inherited by children) can open only files beneath the granted paths.

Pure ctypes over the raw system calls (no dependency), so that ``logomesh/plugins/launcher.py``
can import this module alone, in the plugin's clean environment, without the ``logomesh``
package. It must stay importable with the standard library only.

The kernel's ABI version decides which rights exist: REFER needs ABI 2, TRUNCATE ABI 3, TCP
rules ABI 4, IOCTL_DEV ABI 5, scopes (abstract UNIX sockets, signals) ABI 6. Rights this
kernel lacks are masked out, so the ruleset is the strictest the kernel can enforce.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

# System call numbers: the same on x86_64, aarch64 and the other asm-generic architectures.
_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_PR_SET_NO_NEW_PRIVS = 38
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1

# File system rights (include/uapi/linux/landlock.h).
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
# Network rights (ABI 4) and scopes (ABI 6).
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

_FS_ABI_1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
_READ = EXECUTE | READ_FILE | READ_DIR
# The rights that make sense on a file (a rule on a file with directory rights is EINVAL).
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),  # ABI 4
        ("scoped", ctypes.c_uint64),  # ABI 6
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("allowed_access", ctypes.c_uint64),
        ("parent_fd", ctypes.c_int32),
    ]


class LandlockError(OSError):
    """The kernel refused a Landlock call the process needed to restrict itself."""


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _call(libc: ctypes.CDLL, what: str, number: int, *args: object) -> int:
    result = int(libc.syscall(ctypes.c_long(number), *args))
    if result < 0:
        code = ctypes.get_errno()
        raise LandlockError(code, f"{what}: {os.strerror(code)}")
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 when it has no Landlock (or it is disabled)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        libc = _libc()
        return _call(
            libc,
            "landlock_create_ruleset",
            _SYS_CREATE_RULESET,
            None,
            ctypes.c_size_t(0),
            ctypes.c_uint32(_CREATE_RULESET_VERSION),
        )
    except (OSError, AttributeError):  # ENOSYS, EOPNOTSUPP, or no libc.syscall
        return 0


def handled_fs(abi: int) -> int:
    """Every file system right the kernel of this ABI can enforce."""
    rights = _FS_ABI_1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(read: Iterable[Path], write: Iterable[Path], *, block_tcp_connect: bool) -> int:
    """Restrict this process (and what it executes) to reading ``read`` and writing ``write``.

    Paths that do not exist are skipped. With ``block_tcp_connect`` (ABI 4 and newer) TCP
    connect and bind are denied too. Returns the ABI used; raises ``LandlockError`` when the
    kernel has no Landlock or refuses, so a caller can fail closed instead of running
    unrestricted.
    """
    abi = abi_version()
    if abi <= 0:
        raise LandlockError(errno.EOPNOTSUPP, "Landlock is not supported by this kernel")
    libc = _libc()
    handled = handled_fs(abi)
    attr = _RulesetAttr(handled_access_fs=handled)
    size = 8  # handled_access_fs only
    if abi >= 4:
        attr.handled_access_net = (NET_BIND_TCP | NET_CONNECT_TCP) if block_tcp_connect else 0
        size = 16
    if abi >= 6:
        # A plugin may not signal, nor reach abstract UNIX sockets of, processes outside it.
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    ruleset = _call(
        libc,
        "landlock_create_ruleset",
        _SYS_CREATE_RULESET,
        ctypes.byref(attr),
        ctypes.c_size_t(size),
        ctypes.c_uint32(0),
    )
    try:
        for paths, rights in ((read, _READ), (write, handled)):
            for path in paths:
                _add_path(libc, ruleset, Path(path), rights & handled)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            code = ctypes.get_errno()
            raise LandlockError(code, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(code)}")
        _call(libc, "landlock_restrict_self", _SYS_RESTRICT_SELF, ctypes.c_int(ruleset),
              ctypes.c_uint32(0))  # fmt: skip
    finally:
        os.close(ruleset)
    return abi


def _add_path(libc: ctypes.CDLL, ruleset: int, path: Path, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:  # missing (or unreachable): nothing to grant
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        _call(libc, f"landlock_add_rule({path})", _SYS_ADD_RULE, ctypes.c_int(ruleset),
              ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0))  # fmt: skip
    finally:
        os.close(fd)
