"""``logomesh warm status | start | stop``: the warm process that serves CLI commands fast.

The first command typed at a terminal starts it; scripts use one that is running, and
``warm start`` starts one for them (and waits until it serves). It needs no care: it leaves
after ``LOGOMESH_WARM_IDLE_S`` seconds (900) without a command, and by itself once the
installed code changes; ``LOGOMESH_WARM=0`` keeps every command in its own process.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Annotated, Any, NoReturn

import typer

from logomesh.cli.session import JsonFlag
from logomesh.cli.warm import client, protocol

app = typer.Typer(
    help="The warm process: CLI commands start in a fifth of a second.", no_args_is_help=True
)
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
NOT_RUNNING = (
    "No warm process is running for this installation. `logomesh warm start` starts one; so "
    "does the first command typed at a terminal."
)


@app.command("status")
def status(json_output: JsonFlag = False) -> None:
    """Say whether a warm process is running, since when, and how many commands it served."""
    found = _endpoint()
    answer = _ask(found, "status")
    if json_output:
        typer.echo(json.dumps({"running": answer is not None, **(answer or {})}))
    elif answer is None:
        typer.echo(NOT_RUNNING)
    else:
        _print_status(answer)
    raise typer.Exit(0 if answer is not None else 1)


@app.command("start")
def start(
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait until it serves.")
    ] = START_TIMEOUT_S,
) -> None:
    """Start a warm process (if none is running) and wait until it serves commands."""
    if protocol.disabled(os.environ):
        _refuse("LOGOMESH_WARM is set to off here: unset it to use a warm process.")
    found = _endpoint()
    running = _ask(found, "status")
    if running is not None:
        typer.echo(f"A warm process is already running (pid {running['pid']}).")
        return
    started = time.monotonic()
    process = client.start_server(found)
    while time.monotonic() - started < timeout:
        answer = _ask(found, "status")
        if answer is not None:
            typer.echo(
                f"Warm process {answer['pid']} serves commands "
                f"(ready in {time.monotonic() - started:.1f} s)."
            )
            return
        if process.poll() is not None and _ask(found, "status") is None:
            _refuse(f"The warm process exited ({process.returncode}); see {found.log}.")
        time.sleep(0.1)
    _refuse(f"The warm process was not ready within {timeout:g} s; see {found.log}.")


@app.command("stop")
def stop() -> None:
    """Stop the warm process; commands already running finish first."""
    found = _endpoint()
    answer = _ask(found, "status")
    if answer is None or _ask(found, "stop") is None:
        typer.echo(NOT_RUNNING)
        return
    pid = int(answer["pid"])
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    typer.echo(
        f"Warm process {pid} stopped."
        if not _alive(pid)
        else f"Warm process {pid} is still finishing its commands."
    )


def _endpoint() -> protocol.Endpoint:
    if not protocol.supported():
        _refuse("Warm processes need Linux (peer credentials and pidfds); commands run as usual.")
    found = protocol.endpoint(os.environ)
    if found is None:
        where = protocol.directory(os.environ)
        _refuse(
            f"{where} is not a private directory (it must be yours, mode 700) or its path is "
            "too long for a socket: set LOGOMESH_WARM_DIR to another one."
        )
    return found


def _ask(found: protocol.Endpoint, control: str) -> dict[str, Any] | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(5.0)
    try:
        connection.connect(str(found.socket))
        protocol.send(connection, {"protocol": protocol.PROTOCOL, "control": control})
        answer, _ = protocol.receive(connection)
    except (OSError, protocol.FrameError):
        return None
    finally:
        connection.close()
    return answer


def _print_status(answer: dict[str, Any]) -> None:
    uptime = time.time() - float(answer["started_at"])
    typer.echo(
        f"Warm process {answer['pid']}: up {uptime:.0f} s, served {answer['served']} "
        f"command{'' if answer['served'] == 1 else 's'}, {answer['commands_running']} running now."
    )
    memory = _memory_mb(int(answer["pid"]))
    if memory is not None:
        typer.echo(f"Memory: {memory:.0f} MB resident.")
    typer.echo(f"Leaves after {float(answer['idle_s']):g} s without a command.")
    typer.echo(f"Socket: {answer['socket']}")
    typer.echo(f"Log: {answer['log']}")


def _memory_mb(pid: int) -> float | None:
    try:
        import psutil

        return float(psutil.Process(pid).memory_info().rss) / 1e6
    except Exception:  # psutil missing, or the process just left
        return None


def _alive(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _refuse(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)
