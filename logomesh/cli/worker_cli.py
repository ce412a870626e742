"""``logomesh worker``: run steps and commands for others, as a procrastinate worker on team
mode's PostgreSQL; ``logomesh worker status``: how the workers and their queues are doing.

A worker is a long-lived adapter like a bot: it builds its own engine from the settings of
the workspace it runs in (its commands, plugins and roles are that machine's), runs until
SIGTERM or SIGINT, and finishes the jobs it holds before it exits.
"""

from __future__ import annotations

from typing import Annotated

import typer

from logomesh.cli.session import JsonFlag, execute, fail, state_of

app = typer.Typer(
    help="Distributed work: run pipeline steps queued on team mode's PostgreSQL.",
    invoke_without_command=True,
)


@app.callback()
def worker(
    ctx: typer.Context,
    queue: Annotated[
        list[str] | None,
        typer.Option(
            "--queue",
            metavar="NAME",
            help="Take jobs from this queue (repeat it for more); without it, from every queue.",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            max=256,
            help="Jobs run at once (default: `workers.concurrency`).",
        ),
    ] = None,
) -> None:
    """Run a worker until SIGTERM or Ctrl-C: it takes each queued job, runs its command through
    this machine's engine as the person who asked, and records it in the shared trail."""
    if ctx.invoked_subcommand is not None:
        return
    _configure_logging()
    from logomesh.errors import LogoMeshError
    from logomesh.workers import WorkerOptions, serve

    engine = state_of(ctx).engine()
    try:
        serve(engine, WorkerOptions(tuple(queue) if queue else None, concurrency))
    except LogoMeshError as exc:
        fail(exc.user_message, exc.code)
    finally:
        engine.close()


@app.command("status")
def status(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Show the workers alive, the jobs waiting and running per queue, and the oldest wait."""
    execute(ctx, "worker.status", json_output=json_output)


def _configure_logging() -> None:
    import logging
    import sys

    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # The worker's own news (started, lost the database) is for whoever runs it;
    # procrastinate's per-job lines stay at warnings (a failed job is one).
    logging.getLogger("logomesh.workers").setLevel(logging.INFO)
