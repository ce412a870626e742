"""Where the warm process listens, and the frames the console script and it exchange.

Standard library only: the console script imports this before anything else, so a command
served warm pays for nothing it does not use.

One warm process serves one interpreter, one installation and one set of the environment
variables that change what an import does (``HF_*``, ``TORCH_*``, ``PYTHON*``...): they are
hashed into its socket's name, so a process started by another virtual environment or with
other such variables is never asked. The socket lives in a directory only its owner can
enter, and the process also checks each caller's user id (``SO_PEERCRED``).

A frame is a 4-byte big-endian length and a JSON object. The request, the caller's first
frame, carries the caller's stdin, stdout and stderr as ``SCM_RIGHTS`` descriptors.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROTOCOL = 1
MAX_FRAME = 1 << 20
# A Unix socket's path must fit in sockaddr_un.sun_path (108 bytes with its NUL on Linux).
MAX_SOCKET_PATH = 107
# Variables read when a library is imported (or when the interpreter starts): a warm process
# imported everything under the values it was started with, so they are part of its name.
IMPORT_TIME_PREFIXES = (
    "HF_",
    "TRANSFORMERS_",
    "SENTENCE_TRANSFORMERS_",
    "TOKENIZERS_",
    "TORCH",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "PYTHON",
    "LD_",
    "LLAMA_",
    "COVERAGE_",
)
DISABLED_VALUES = frozenset({"0", "off", "false", "no"})


class FrameError(Exception):
    """The other side sent something that is not a frame, or hung up inside one."""


@dataclass(frozen=True)
class Endpoint:
    """The files of one warm process: its socket, its start-up lock and its log."""

    socket: Path
    lock: Path
    log: Path

    @classmethod
    def for_socket(cls, path: Path) -> Endpoint:
        stem = str(path.with_suffix(""))
        return cls(path, Path(f"{stem}.lock"), Path(f"{stem}.log"))

    @classmethod
    def in_directory(cls, directory: Path, key: str) -> Endpoint:
        return cls.for_socket(directory / f"warm-{key}.sock")


def supported() -> bool:
    """Linux's peer credentials and pidfds; elsewhere every command runs in its own process."""
    return hasattr(socket, "SO_PEERCRED") and hasattr(os, "pidfd_open") and hasattr(os, "fork")


def disabled(env: dict[str, str] | os._Environ[str]) -> bool:
    return env.get("LOGOMESH_WARM", "").strip().lower() in DISABLED_VALUES


def directory(env: dict[str, str] | os._Environ[str]) -> Path:
    """``LOGOMESH_WARM_DIR``, else the session's runtime directory, else the user's cache."""
    if env.get("LOGOMESH_WARM_DIR"):
        return Path(env["LOGOMESH_WARM_DIR"])
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "logomesh"
    cache = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(cache) / "logomesh" / "run"


def key(env: dict[str, str] | os._Environ[str]) -> str:
    """Names the warm process this interpreter, installation and import-time setup may use."""
    import logomesh

    parts = [str(PROTOCOL), sys.executable, sys.version, str(Path(logomesh.__file__).parent)]
    parts += sorted(f"{k}={v}" for k, v in env.items() if k.startswith(IMPORT_TIME_PREFIXES))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def endpoint(env: dict[str, str] | os._Environ[str]) -> Endpoint | None:
    """This caller's endpoint, or None when its directory is not private or the path too long."""
    found = Endpoint.in_directory(directory(env), key(env))
    if len(os.fsencode(found.socket)) > MAX_SOCKET_PATH:
        return None
    return found if private_directory(found.socket.parent) else None


def private_directory(path: Path) -> bool:
    """Create ``path`` for this user only; False when it exists and others may enter it."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def send(sock: socket.socket, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    body = json.dumps(message, separators=(",", ":")).encode()
    data = struct.pack(">I", len(body)) + body
    if fds:
        sent = socket.send_fds(sock, [data], list(fds))
        data = data[sent:]
    if data:
        sock.sendall(data)


def receive(sock: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """One frame and the descriptors that came with it; EOF before a frame is ``FrameError``."""
    fds: list[int] = []
    header = _read(sock, 4, max_fds, fds)
    (length,) = struct.unpack(">I", header)
    if length > MAX_FRAME:
        _close_all(fds)
        raise FrameError(f"a frame of {length} bytes is larger than {MAX_FRAME}")
    try:
        message = json.loads(_read(sock, length, 0, fds))
    except (ValueError, FrameError):
        _close_all(fds)
        raise
    if not isinstance(message, dict):
        _close_all(fds)
        raise FrameError("a frame must hold a JSON object")
    return message, fds


def _read(sock: socket.socket, size: int, max_fds: int, fds: list[int]) -> bytes:
    data = b""
    while len(data) < size:
        if max_fds and not fds:
            chunk, received, _flags, _address = socket.recv_fds(sock, size - len(data), max_fds)
            fds.extend(received)
        else:
            chunk = sock.recv(size - len(data))
        if not chunk:
            raise FrameError("the other side hung up")
        data += chunk
    return data


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)
