"""``workspace/executeCommand``: every command the user may run, as ``logomesh.<command>``.

The arguments are one JSON object (the command's arguments, as ``logomesh run`` takes them),
optionally followed by ``{"folder": URI}`` to pick the workspace folder whose engine runs
it. The answer is the command's ``CommandResult`` as JSON; a failure is a JSON-RPC error
made by :func:`lsp_server.convert.response_error`. Three names are the server's own:

- ``logomesh.commands``: the commands this user may run, with their argument schemas;
- ``logomesh.do``: natural language (``{"text": ...}``); the proposal runs as ``logomesh do``
  runs it, confirmed in the editor when it needs a yes;
- ``logomesh.run``: ``{"command": NAME, "arguments": {...}}``, for clients that only know
  the commands advertised at ``initialize`` (see docs/editors.md).

The rest are advertised once the folder's engine is built, with ``client/registerCapability``
where the client allows it, and registered again when plugins or pipelines change them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from lsp_server import convert
from lsp_server.features.confirm import EditorConfirmer
from lsp_server.running import run_request, settle

if TYPE_CHECKING:
    from logomesh.commands.models import CommandResult
    from logomesh.engine import Engine
    from lsp_server.server import LogoMeshServer

PREFIX = "logomesh."
OWN = ("logomesh.commands", "logomesh.do", "logomesh.run")
REGISTRATION_ID = "logomesh.commands"


def register(server: LogoMeshServer) -> None:
    """Advertise the server's own names at ``initialize``; the engine's follow."""
    for name in OWN:
        server.command(name)(_dispatched_by_protocol)


def _dispatched_by_protocol(*_args: Any) -> None:
    """Never called: ``LogoMeshProtocol`` dispatches every command to :func:`execute`, as
    a task that a ``$/cancelRequest`` cancels. Listed so pygls advertises the name."""


async def execute(server: LogoMeshServer, params: types.ExecuteCommandParams) -> Any:
    """Run one ``workspace/executeCommand``; every failure becomes a JSON-RPC error."""
    task = asyncio.current_task()
    if task is not None:
        server.inflight.keep(task)
    try:
        return await _dispatch(server, params)
    except JsonRpcException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        from logomesh.errors import LogoMeshError

        if isinstance(exc, LogoMeshError):
            raise convert.response_error(exc.code, exc.user_message) from exc
        raise convert.crashed(f"command {params.command}", exc) from exc


async def _dispatch(server: LogoMeshServer, params: types.ExecuteCommandParams) -> Any:
    name = params.command
    arguments, folder = split_arguments(name, params.arguments)
    if name == "logomesh.commands":
        engine = await server.workspaces.engine_for(folder)
        return await asyncio.to_thread(available, server, engine)
    if name == "logomesh.do":
        return await _do(server, arguments, folder, params.work_done_token)
    if name == "logomesh.run":
        name, arguments = _run_arguments(arguments)
    elif name.startswith(PREFIX):
        name = name[len(PREFIX) :]
    else:
        raise convert.response_error(
            "command.unknown",
            f"{name!r} is not a LogoMesh command; LogoMesh's are named logomesh.<command> "
            "(logomesh.commands lists them).",
        )
    from logomesh.commands.models import CommandRequest

    engine = await server.workspaces.engine_for(folder)
    request = CommandRequest(name, server.actor, arguments, wait_for_approval=True)

    def report(result: CommandResult, always: bool) -> dict[str, Any]:
        return shown(server, result, always)

    return await run_request(server, engine, request, params.work_done_token, report=report)


def shown(server: LogoMeshServer, result: CommandResult, always: bool) -> dict[str, Any]:
    """The result as JSON (or its error raised), with a ``window/showMessage`` summary when
    the client asked for one (``showResults``) or nobody waits for the answer any more."""
    if always or server.workspaces.options.show_results:
        kind, message = convert.message_type(result), convert.summary(result)
        server.window_show_message(types.ShowMessageParams(type=kind, message=message))
    answer: dict[str, Any] = result.to_dict() if always else convert.result_or_error(result)
    return answer


def split_arguments(name: str, raw: Sequence[Any] | None) -> tuple[dict[str, Any], str | None]:
    """``[ARGS]`` or ``[ARGS, {"folder": URI}]`` into the arguments and the folder."""
    values = list(raw or [])
    if not values:
        return {}, None
    example = '[{"limit": 5}] or [{"limit": 5}, {"folder": "file:///src/project"}]'
    if len(values) > 2 or not all(isinstance(value, Mapping) for value in values):
        raise convert.response_error(
            "lsp.invalid_arguments",
            f"{name} takes one JSON object of arguments, optionally followed by "
            f'{{"folder": URI}}, for example {example}; got {_shape(values)}.',
        )
    options = dict(values[1]) if len(values) == 2 else {}
    folder = options.pop("folder", None)
    if options or (folder is not None and not isinstance(folder, str)):
        raise convert.response_error(
            "lsp.invalid_arguments",
            f'{name}: the second argument may only hold "folder" (a workspace folder URI); '
            f"got {sorted(values[1])}.",
        )
    return dict(values[0]), folder


def _run_arguments(arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    command, inner = arguments.get("command"), arguments.get("arguments", {})
    extra = set(arguments) - {"command", "arguments"}
    if not isinstance(command, str) or not isinstance(inner, Mapping) or extra:
        raise convert.response_error(
            "lsp.invalid_arguments",
            'logomesh.run takes {"command": NAME, "arguments": {...}}, for example '
            '[{"command": "git.log", "arguments": {"limit": 5}}].',
        )
    return command, dict(inner)


def _shape(values: list[Any]) -> str:
    return "[" + ", ".join(type(value).__name__ for value in values) + "]"


async def _do(
    server: LogoMeshServer,
    arguments: dict[str, Any],
    folder: str | None,
    token: types.ProgressToken | None,
) -> Any:
    text, dry_run = arguments.get("text"), arguments.get("dry_run", False)
    if not isinstance(text, str) or not text.strip() or not isinstance(dry_run, bool):
        raise convert.response_error(
            "lsp.invalid_arguments",
            'logomesh.do takes {"text": "what you want, in words", "dry_run": false}, for '
            'example [{"text": "show the last 5 commits"}].',
        )
    from logomesh.commands.values import new_id
    from logomesh.nl.flow import TextOutcome, execute_text

    engine = await server.workspaces.engine_for(folder)
    correlation_id = new_id()
    work = asyncio.ensure_future(
        execute_text(
            engine,
            text,
            server.actor,
            EditorConfirmer(server, engine),
            dry_run=dry_run,
            correlation_id=correlation_id,
        )
    )

    def report(outcome: TextOutcome, always: bool) -> dict[str, Any]:
        message = outcome.interpretation.message
        if outcome.result is not None:
            message = f"{message} {convert.summary(outcome.result)}"
        if always or server.workspaces.options.show_results:
            kind = types.MessageType.Info if outcome.ok else types.MessageType.Warning
            server.window_show_message(types.ShowMessageParams(type=kind, message=message))
        return outcome.to_dict()

    return await settle(server, correlation_id, "do", work, token, report)


def available(server: LogoMeshServer, engine: Engine) -> list[dict[str, Any]]:
    """The commands this user may run in ``engine``, with their LSP names and schemas (a
    restricted workspace's refusals left out, as the policy's are)."""
    identity = engine.identities.resolve(server.actor)
    listed = []
    for spec in engine.registry:
        if not engine.permits(identity, spec):
            continue
        described = spec.describe()
        described["lsp_command"] = PREFIX + spec.name
        described["schema"] = spec.args_model.model_json_schema()
        listed.append(described)
    return listed


async def advertise(server: LogoMeshServer) -> None:
    """Register the engines' command names with the client, again when they changed."""
    if not _dynamic(server):
        return
    names: set[str] = set()
    for engine in server.workspaces.engines():
        identity = engine.identities.resolve(server.actor)
        names |= {PREFIX + spec.name for spec in engine.registry if engine.permits(identity, spec)}
    names -= set(OWN)
    if names == server.advertised:
        return
    if server.advertised:
        unregister = types.Unregistration(
            id=REGISTRATION_ID, method=types.WORKSPACE_EXECUTE_COMMAND
        )
        await server.client_unregister_capability_async(
            types.UnregistrationParams(unregisterations=[unregister])
        )
    options = types.ExecuteCommandRegistrationOptions(commands=sorted(names))
    registration = types.Registration(
        id=REGISTRATION_ID, method=types.WORKSPACE_EXECUTE_COMMAND, register_options=options
    )
    await server.client_register_capability_async(
        types.RegistrationParams(registrations=[registration])
    )
    server.advertised = names


def _dynamic(server: LogoMeshServer) -> bool:
    workspace = server.client_capabilities.workspace
    execute = workspace.execute_command if workspace else None
    return bool(execute and execute.dynamic_registration)
