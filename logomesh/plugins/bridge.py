"""What plugins ask of the host: sampling through the LLM registry, calls to other
commands, events to publish, and log lines. Every answer checks the manifest's permissions
first (deny by default), and every call, publish and delivery is audited.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from logomesh.audit import AuditEntry, AuditRecord
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Outcome, Source, new_id
from logomesh.errors import LogoMeshError
from logomesh.llm import Caller, GenerationParams, Message
from logomesh.plugins.connection import (
    COMMAND_FAILED,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    PERMISSION_DENIED,
    RpcError,
)
from logomesh.plugins.plugin import PluginEventPublished

if TYPE_CHECKING:
    from logomesh.plugins.host import PluginHost
    from logomesh.plugins.plugin import Plugin

logger = logging.getLogger(__name__)


def answer_request(host: PluginHost, plugin: Plugin, method: str, params: dict[str, Any]) -> Any:
    if method == "ping":
        return {}
    if method == "sampling/createMessage":
        return _sample(host, plugin, params)
    if method == "logomesh/call":
        return _call(host, plugin, params)
    raise RpcError(METHOD_NOT_FOUND, f"LogoMesh does not answer {method!r}.")


def take_notification(
    host: PluginHost, plugin: Plugin, method: str, params: dict[str, Any]
) -> None:
    if method == "notifications/message":
        level = getattr(logging, str(params.get("level", "info")).upper(), logging.INFO)
        logging.getLogger(f"logomesh.plugins.{plugin.name}").log(level, "%s", params.get("data"))
    elif method == "logomesh/publish":
        publish(host, plugin, str(params.get("event", "")), params.get("data"))
    elif method == "notifications/tools/list_changed":
        # Not on this thread: it reads the plugin's messages, the tools/list answer included.
        threading.Thread(target=_refresh_tools, args=(host, plugin), daemon=True).start()


def _sample(host: PluginHost, plugin: Plugin, params: dict[str, Any]) -> dict[str, Any]:
    if not plugin.manifest.permissions.llm:
        audit_plugin(host, plugin, "plugin.sample", Outcome.DENIED, error="no llm permission")
        raise RpcError(
            PERMISSION_DENIED,
            "This plugin may not use the LLM: add `llm = true` under [permissions] in its "
            "manifest.",
        )
    messages = [
        Message(str(m.get("role", "user")), _text_of(m.get("content")))  # type: ignore[arg-type]
        for m in params.get("messages", [])
        if isinstance(m, dict)
    ]
    if params.get("systemPrompt"):
        messages.insert(0, Message("system", str(params["systemPrompt"])))
    generation = GenerationParams(
        max_tokens=int(params.get("maxTokens") or 256),
        temperature=params.get("temperature"),
    )
    _, correlation_id = acting_for(host, plugin)
    caller = Caller(f"plugin:{plugin.name}", Source.PLUGIN, correlation_id)
    try:
        # On the adapter's loop (see EventBus.run_threadsafe), not a loop of this thread's own.
        chat = host.engine.llm.chat(messages, caller, params=generation)
        completion = host.engine.events.run_threadsafe(chat)
    except LogoMeshError as exc:
        raise RpcError(COMMAND_FAILED, exc.user_message) from exc
    return {
        "role": "assistant",
        "content": {"type": "text", "text": completion.text},
        "model": completion.model,
        "stopReason": "maxTokens" if completion.finish_reason == "length" else "endTurn",
    }


def _call(host: PluginHost, plugin: Plugin, params: dict[str, Any]) -> dict[str, Any]:
    command = str(params.get("command", ""))
    arguments = params.get("arguments") or {}
    if not command or not isinstance(arguments, dict):
        raise RpcError(INVALID_PARAMS, "logomesh/call needs `command` and an `arguments` object.")
    if not plugin.manifest.permissions.may_call(command):
        audit_plugin(
            host, plugin, "plugin.call", Outcome.DENIED, target=command, error="not granted"
        )
        raise RpcError(
            PERMISSION_DENIED,
            f"This plugin may not call {command}: add it to `call` under [permissions] in its "
            "manifest.",
        )
    actor, correlation_id = acting_for(host, plugin)
    request = CommandRequest(command, actor, arguments, correlation_id=correlation_id)
    result = host.engine.events.run_threadsafe(host.engine.execute(request))
    outcome, correlation_id = result.outcome, request.correlation_id
    audit_plugin(
        host, plugin, "plugin.call", outcome, target=command, correlation_id=correlation_id
    )
    return result.to_dict()


def acting_for(host: PluginHost, plugin: Plugin) -> tuple[Actor, str]:
    """Who a plugin's request acts for, and the correlation id that links it.

    During a user's call into the plugin, that user (and that call's correlation id, so the
    trail shows the nested command under the outer one). Otherwise (an event handler, or
    several calls in flight at once) the workspace owner through the plugin source, which
    only local mode recognises: in team mode such a request has no roles and is refused.
    """
    callers = [entry for entry in list(plugin.in_flight) if entry.actor is not None]
    if len(callers) == 1 and callers[0].actor is not None:
        return callers[0].actor, callers[0].correlation_id or new_id()
    owner = host.engine.settings.owner
    return Actor(Source.PLUGIN, owner, display_name=f"plugin:{plugin.name}"), new_id()


def publish(host: PluginHost, plugin: Plugin, event: str, data: Any) -> None:
    if not plugin.manifest.permissions.may_publish(event):
        audit_plugin(
            host, plugin, "plugin.publish", Outcome.DENIED, target=event, error="not granted"
        )
        logger.warning(
            "plugin %s may not publish %s (not in permissions.publish)", plugin.name, event
        )
        return
    receivers = [
        other
        for other in host.plugins.values()
        if other is not plugin
        and other.found.manifest is not None
        and other.manifest.permissions.may_receive(event)
        and any(e.event == event for e in other.manifest.contributes.events)
    ]
    audit_plugin(host, plugin, "plugin.publish", Outcome.OK, target=event,
           details={"receivers": [r.name for r in receivers]})  # fmt: skip
    _, correlation_id = acting_for(host, plugin)
    host.engine.events.publish_threadsafe(
        PluginEventPublished(correlation_id, plugin.name, event, data)
    )
    for receiver in receivers:
        try:
            host.ensure_started(receiver.name)
            assert receiver.process is not None
            receiver.process.notify(
                "logomesh/event", {"event": event, "data": data, "source": plugin.name}
            )
        except LogoMeshError as exc:
            logger.warning("event %s not delivered to %s: %s", event, receiver.name, exc)


def _refresh_tools(host: PluginHost, plugin: Plugin) -> None:
    process = plugin.process
    if process is None:
        return
    try:
        tools = process.list_tools()
    except LogoMeshError as exc:
        logger.warning("plugin %s: could not list its tools again: %s", plugin.name, exc)
        return
    # One binding at a time: a start binds the tools it listed under the plugin's lock, and
    # a server may say its list changed while it is still being started (server-everything
    # does, right after `initialized`); two bindings at once would register a command twice.
    with plugin.lock:
        if plugin.process is not process or not process.running:
            return  # stopped or started again meanwhile: that start bound its own list
        host.binder.adopt_tools(plugin, tools)


def audit_plugin(
    host: PluginHost,
    plugin: Plugin,
    action: str,
    outcome: Outcome,
    *,
    target: str | None = None,
    error: str | None = None,
    details: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> None:
    entry = AuditEntry(
        actor=f"plugin:{plugin.name}",
        source=Source.PLUGIN,
        action=action,
        outcome=outcome,
        target=target,
        error=error,
        correlation_id=correlation_id,
        details={
            "plugin": plugin.name,
            "plugin_version": plugin.manifest.version,
            **(details or {}),
        },
    )
    # Queued, not awaited: this runs on plugin reader threads and on the adapter's loop
    # alike, and neither may wait for a commit. The writer spools what it cannot write.
    host.engine.audit_writer.submit(entry).add_done_callback(_warn_if_spooled)


def _warn_if_spooled(done: Future[AuditRecord]) -> None:
    error = done.exception()
    if isinstance(error, LogoMeshError):
        logger.warning("plugin audit record not written: %s", error.user_message)


def _text_of(content: Any) -> str:
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return "\n".join(_text_of(item) for item in content)
    return str(content or "")
