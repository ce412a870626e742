"""A small helper for writing LogoMesh plugins in Python, standard library only.

A LogoMesh plugin is an MCP server on stdio (see ``docs/plugin-protocol.md``). The official
MCP SDK can serve that, but importing its server costs close to a second and brings the
process to about 65 MB (pydantic, anyio, httpx, starlette...). A workspace may run twenty
plugins, each a process of its own: that would be some twenty seconds of CPU at start-up
and over a gigabyte of memory before any plugin does anything. This one file speaks the
part of MCP a plugin needs (handshake, ``tools/list``, ``tools/call``, progress,
cancellation, logging, sampling) plus the ``logomesh/`` extension (events and calls to
other commands) with the standard library only: it imports in 5-15 ms (mostly ``json``),
and an idle plugin stays under 13 MB, of which the interpreter itself is about 10.

It is meant to be copied or put on ``PYTHONPATH`` as is; it never imports ``logomesh``.

Example (a complete plugin)::

    from pathlib import Path
    from logomesh_plugin import Plugin, ToolContext, ToolError

    plugin = Plugin("todo-finder", version="1.0.0")

    @plugin.tool("todos.find", description="Find TODO notes in a file",
                 schema={"type": "object", "properties": {"path": {"type": "string"}}})
    def find(args: dict, ctx: ToolContext) -> object:
        path = Path(args.get("path", "README.md"))
        if not path.is_file():
            raise ToolError(f"no such file: {path}")
        lines = path.read_text(encoding="utf-8").splitlines()
        return {"path": str(path), "lines": [n for n, t in enumerate(lines, 1) if "TODO" in t]}

    plugin.run()

What a tool returns becomes the MCP result: a ``str`` is one text item; a ``dict`` is
``structuredContent`` plus the same JSON as a text item; a ``list`` (MCP only allows an
object as ``structuredContent``) is a single JSON text item, which the host parses into the
command's data; ``None`` is an empty text item; ``raise ToolError("...")`` is a failed
command (``isError: true``) showing that message. Any other exception is reported as
``internal error in <tool>: <Type>: <message>`` with the traceback on stderr.

Threading model: ``run()`` reads stdin on the calling thread and answers handshake, pings
and listings there. Each ``tools/call`` runs on a pooled worker thread (idle workers are
reused), so cancellations, pings and the host's answers to ``ctx.call``/``ctx.sample`` are
processed while tools run. ``@plugin.on`` handlers run one at a time, in arrival order, on
one event thread. After ``notifications/cancelled`` the tool sees ``ctx.cancelled`` become
true (a pending ``ctx.call``/``ctx.sample`` raises ``ToolError`` at once) and, as MCP
asks, no response is sent for that request. When stdin closes, ``run()`` sets
``ctx.cancelled`` on every running call too, gives them ``SHUTDOWN_GRACE_S`` to finish (their
results are still written) and returns.

stdout carries the protocol only: ``run()`` moves it to a private file descriptor, points
file descriptor 1 (inherited by subprocesses) and ``sys.stdout`` (used by ``print``) at
stderr, and gives subprocesses ``/dev/null`` as stdin so they cannot swallow messages.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
from queue import Empty, SimpleQueue

TYPE_CHECKING = False  # typing costs more to import than the rest of this module
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, Any, TypeAlias, TypeVar

    ToolFunc: TypeAlias = Callable[[dict[str, Any], "ToolContext"], object]
    EventHandler: TypeAlias = Callable[[dict[str, Any], str], object]
    _F = TypeVar("_F", bound=ToolFunc)
    _H = TypeVar("_H", bound=EventHandler)

__all__ = ["LATEST_PROTOCOL_VERSION", "PROTOCOL_VERSIONS", "Plugin", "ToolContext", "ToolError"]

PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_PROTOCOL_VERSION = "2025-11-25"
LOG_LEVELS = frozenset(
    {"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}
)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REQUEST_CANCELLED = -32800

#: How long run() lets in-flight tools and event handlers finish after stdin closes
#: (the host waits ``plugins.stop_grace_s``, 2 s by default, before SIGTERM).
SHUTDOWN_GRACE_S = 1.0
#: An idle worker thread exits after this long without work.
WORKER_IDLE_TIMEOUT_S = 60.0

# json.dumps(..., ensure_ascii=False, separators=(",", ":")) without building an encoder per
# call; allow_nan=False: NaN is not JSON, and a strict host parser would drop the plugin.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_loads = json.JSONDecoder().decode
_EMPTY_TEXT = '{"content":[{"type":"text","text":""}]}'


class ToolError(Exception):
    """A failure to show to the user.

    Raised by a tool, it becomes a result with ``isError: true`` and this message. Raised by
    ``ctx.call``/``ctx.sample``, it carries the host's JSON-RPC error ``code`` and ``data``.
    """

    def __init__(self, message: str, *, code: int | None = None, data: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data


class ToolContext:
    """What a running tool can do besides returning: progress, logs, calls, sampling, events."""

    __slots__ = (
        "_cancelled",
        "_plugin",
        "_silenced",
        "_waiting",
        "progress_token",
        "request_id",
        "tool",
    )

    def __init__(
        self, plugin: Plugin, request_id: str | int, tool: str, progress_token: object = None
    ) -> None:
        self._plugin = plugin
        self._cancelled = False
        self._silenced = False  # cancelled by the host: MCP wants no response then
        self._waiting: _Pending | None = None
        self.request_id = request_id
        self.tool = tool
        self.progress_token = progress_token

    @property
    def plugin(self) -> Plugin:
        return self._plugin

    @property
    def cancelled(self) -> bool:
        """True once the host cancelled this call (or closed the connection): stop soon."""
        return self._cancelled

    def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Report progress (a no-op when the caller asked for none: no ``progressToken``)."""
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        self._plugin._notify("notifications/progress", params)

    def log(self, level: str, data: object, *, logger: str | None = None) -> None:
        """Write to the host's log (``notifications/message``)."""
        self._plugin.log(level, data, logger=logger)

    def publish(self, event: str, data: object = None) -> None:
        """Publish a LogoMesh event (``logomesh/publish``); the manifest must allow it."""
        self._plugin.publish(event, data)

    def call(
        self, command: str, arguments: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Run a LogoMesh command through the host and wait for ``{ok, outcome, data, ...}``.

        Raises ``ToolError`` on a JSON-RPC error (e.g. permission denied), on timeout, when
        this call is cancelled, or when the host goes away.
        """
        return self._plugin._call(command, arguments, timeout, self)

    def sample(
        self,
        prompt: str,
        max_tokens: int = 512,
        system: str | None = None,
        temperature: float | None = None,
        *,
        timeout: float | None = None,
    ) -> str:
        """Ask the host's model (``sampling/createMessage``) and return the answer's text."""
        return self._plugin._sample(prompt, max_tokens, system, temperature, timeout, self)

    def _cancel(self, reason: str, *, silence: bool) -> None:
        self._silenced = self._silenced or silence
        self._cancelled = True
        waiting = self._waiting
        if waiting is not None:
            waiting.fail(REQUEST_CANCELLED, reason, local=True)


class _Tool:
    __slots__ = ("func", "listing", "name")

    def __init__(self, name: str, func: ToolFunc, listing: str) -> None:
        self.name = name
        self.func = func
        self.listing = listing


class _Pending:
    """An outgoing request waiting for the host's response."""

    __slots__ = ("error", "event", "local", "result")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.result: object = None
        self.error: dict[str, Any] | None = None
        self.local = False

    def resolve(self, result: object, error: object) -> None:
        if self.event.is_set():
            return
        if error is not None:
            self.error = error if isinstance(error, dict) else {"message": str(error)}
        else:
            self.result = result
        self.event.set()

    def fail(self, code: int, message: str, *, local: bool = False) -> None:
        if not self.event.is_set():
            self.local = local
            self.resolve(None, {"code": code, "message": message})


class _Workers:
    """Threads for tool calls: an idle worker is reused; a new one starts only if none is.

    A task returns the message to write (or ``None``). The worker counts itself idle
    *before* writing it, so a host that sends the next call as soon as it reads a response
    finds this worker free instead of starting another thread.
    """

    def __init__(self, name: str, write: Callable[[str], None]) -> None:
        self._name = name
        self._write = write
        self._tasks: SimpleQueue[tuple[Callable[..., str | None], tuple[Any, ...]]]
        self._tasks = SimpleQueue()
        self._lock = threading.Lock()
        # Invariant: idle == workers that are (or are about to be) waiting for a task minus
        # tasks queued, so idle > 0 means a queued task is picked up at once.
        self._idle = 0
        self._count = itertools.count(1)

    def submit(self, func: Callable[..., str | None], args: tuple[Any, ...]) -> None:
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1
        self._tasks.put((func, args))
        if spawn:
            name = f"{self._name}-worker-{next(self._count)}"
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        tasks, lock, write = self._tasks, self._lock, self._write
        while True:
            try:
                func, args = tasks.get(timeout=WORKER_IDLE_TIMEOUT_S)
            except Empty:
                with lock:
                    if self._idle > 0:  # nobody has reserved this worker: retire it
                        self._idle -= 1
                        return
                continue
            try:
                message = func(*args)
            except Exception:
                _print_exception("worker task failed")
                message = None
            with lock:
                self._idle += 1
            if message is not None:
                write(message)


class Plugin:
    """One plugin: register tools and event handlers, then ``run()``."""

    def __init__(self, name: str, version: str = "0.0.0") -> None:
        self.name = name
        self.version = version
        #: What the host sent in ``initialize`` (``None`` before the handshake).
        self.protocol_version: str | None = None
        self.client_info: dict[str, Any] | None = None
        self.client_capabilities: dict[str, Any] = {}
        self._tools: dict[str, _Tool] = {}
        self._tools_json: str | None = None
        self._handlers: dict[str, list[EventHandler]] = {}
        self._registry_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._out: IO[bytes] | None = None
        self._inflight: dict[str | int, ToolContext] = {}
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._workers = _Workers(name, self._write)
        self._events: SimpleQueue[tuple[list[EventHandler], str, Any, str] | None] | None = None
        self._event_thread: threading.Thread | None = None
        self._reader_ident: int | None = None
        self._closed = False

    # ----------------------------------------------------------------- registration

    def tool(
        self, name: str, description: str | None = None, schema: dict[str, Any] | None = None
    ) -> Callable[[_F], _F]:
        """Decorator: serve ``func(args, ctx)`` as the tool (command) ``name``."""

        def register(func: _F) -> _F:
            self.add_tool(name, func, description, schema)
            return func

        return register

    def add_tool(
        self,
        name: str,
        func: ToolFunc,
        description: str | None = None,
        schema: dict[str, Any] | None = None,
    ) -> None:
        """Serve a tool; after the handshake, follow with ``notify_tools_changed()``."""
        if not isinstance(name, str) or not name:
            raise ValueError("a tool needs a non-empty name")
        if schema is None:
            schema = {"type": "object"}
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ValueError(f"tool {name!r}: the input schema must be a JSON object schema")
        if description is None:
            doc = (getattr(func, "__doc__", None) or "").strip()
            description = doc.splitlines()[0] if doc else ""
        listing = _dumps({"name": name, "description": description, "inputSchema": schema})
        with self._registry_lock:
            if name in self._tools:
                raise ValueError(f"tool {name!r} is already registered")
            self._tools = {**self._tools, name: _Tool(name, func, listing)}
            self._tools_json = None

    def remove_tool(self, name: str) -> bool:
        """Stop serving a tool (``True`` if it existed); then ``notify_tools_changed()``."""
        with self._registry_lock:
            if name not in self._tools:
                return False
            self._tools = {k: v for k, v in self._tools.items() if k != name}
            self._tools_json = None
            return True

    def on(self, event: str) -> Callable[[_H], _H]:
        """Decorator: call ``handler(data, source)`` for each ``logomesh/event`` named so."""

        def register(handler: _H) -> _H:
            with self._registry_lock:
                handlers = [*self._handlers.get(event, ()), handler]
                self._handlers = {**self._handlers, event: handlers}
            return handler

        return register

    # ----------------------------------------------------------- plugin -> host

    def publish(self, event: str, data: object = None) -> None:
        """Publish a LogoMesh event (``logomesh/publish``)."""
        self._notify("logomesh/publish", {"event": event, "data": {} if data is None else data})

    def log(self, level: str, data: object, *, logger: str | None = None) -> None:
        """Write to the host's log (``notifications/message``) at an MCP log level."""
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {sorted(LOG_LEVELS)}")
        self._notify(
            "notifications/message", {"level": level, "logger": logger or self.name, "data": data}
        )

    def notify_tools_changed(self) -> None:
        """Tell the host to list the tools again (a no-op before the handshake)."""
        if self.protocol_version is not None:
            self._notify("notifications/tools/list_changed", None)

    def call(
        self, command: str, arguments: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """``ctx.call`` for code outside a tool (event handlers, background threads)."""
        return self._call(command, arguments, timeout, None)

    def sample(
        self,
        prompt: str,
        max_tokens: int = 512,
        system: str | None = None,
        temperature: float | None = None,
        *,
        timeout: float | None = None,
    ) -> str:
        """``ctx.sample`` for code outside a tool (event handlers, background threads)."""
        return self._sample(prompt, max_tokens, system, temperature, timeout, None)

    # ---------------------------------------------------------------- serving

    def run(self, *, stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> None:
        """Serve until stdin closes, then let in-flight work finish briefly and return.

        ``stdin``/``stdout`` (binary streams) replace the process's own, e.g. in tests;
        without them the process's stdio is claimed as the module docstring explains.
        """
        if stdout is not None:
            with self._write_lock:
                self._out = stdout
        elif self._out is None:
            with self._write_lock:
                self._out = self._out or _claim_stdout()
        reader = stdin if stdin is not None else _claim_stdin()
        self._reader_ident = threading.get_ident()
        dispatch = self._dispatch
        try:
            for line in reader:
                if not line.isspace():
                    dispatch(line)
        finally:
            self._reader_ident = None
            self._shutdown()

    def _dispatch(self, line: bytes) -> None:
        try:
            msg = _loads(line.decode("utf-8"))
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            self._send_error(None, PARSE_ERROR, f"Parse error: {exc}")
            return
        if not isinstance(msg, dict):
            self._send_error(None, INVALID_REQUEST, "Invalid Request: expected one JSON object")
            return
        method = msg.get("method")
        if method is None and ("result" in msg or "error" in msg):
            self._on_response(msg.get("id"), msg)  # never answered, whatever its id
            return
        rid = msg.get("id")
        if "id" in msg and (isinstance(rid, bool) or not isinstance(rid, str | int)):
            self._send_error(None, INVALID_REQUEST, "Invalid Request: bad id")
            return
        if not isinstance(method, str):
            self._send_error(rid, INVALID_REQUEST, "Invalid Request: no method")
            return
        params = msg.get("params")
        if rid is None:  # a notification
            try:
                self._on_notification(method, params if isinstance(params, dict) else {})
            except Exception:
                _print_exception(f"handling {method} failed")
            return
        if params is not None and not isinstance(params, dict):
            self._send_error(rid, INVALID_PARAMS, "Invalid params: expected an object")
            return
        try:
            self._on_request(rid, method, params or {})
        except Exception as exc:
            _print_exception(f"handling {method} failed")
            self._send_error(rid, INTERNAL_ERROR, f"Internal error: {type(exc).__name__}")

    def _on_request(self, rid: str | int, method: str, params: dict[str, Any]) -> None:
        if method == "tools/call":
            self._call_tool(rid, params)
        elif method == "ping":
            self._send_result(rid, "{}")
        elif method == "tools/list":
            tools_json = self._tools_json
            if tools_json is None:
                tools = self._tools
                tools_json = '{"tools":[' + ",".join(t.listing for t in tools.values()) + "]}"
                with self._registry_lock:
                    if self._tools is tools:
                        self._tools_json = tools_json
            self._send_result(rid, tools_json)
        elif method == "initialize":
            self._initialize(rid, params)
        else:
            self._send_error(rid, METHOD_NOT_FOUND, f"Method not found: {method}")

    def _initialize(self, rid: str | int, params: dict[str, Any]) -> None:
        requested = params.get("protocolVersion")
        version = requested if requested in PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION
        capabilities = params.get("capabilities")
        client_info = params.get("clientInfo")
        self.client_capabilities = capabilities if isinstance(capabilities, dict) else {}
        self.client_info = client_info if isinstance(client_info, dict) else None
        self.protocol_version = version
        result = {
            "protocolVersion": version,
            "capabilities": {
                "tools": {"listChanged": True},
                "experimental": {"logomesh": {"version": 1}},
            },
            "serverInfo": {"name": self.name, "version": self.version},
        }
        self._send_result(rid, _dumps(result))

    def _call_tool(self, rid: str | int, params: dict[str, Any]) -> None:
        name = params.get("name")
        tool = self._tools.get(name) if isinstance(name, str) else None
        if tool is None:
            self._send_error(rid, INVALID_PARAMS, f"Unknown tool: {name}")
            return
        args = params.get("arguments")
        if args is None:
            args = {}
        elif not isinstance(args, dict):
            self._send_error(rid, INVALID_PARAMS, f"{name}: arguments must be an object")
            return
        meta = params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        ctx = ToolContext(self, rid, tool.name, token)
        self._inflight[rid] = ctx
        self._workers.submit(self._run_tool, (tool, args, ctx))

    def _run_tool(self, tool: _Tool, args: dict[str, Any], ctx: ToolContext) -> str | None:
        """Run on a worker; returns the response for the worker to write."""
        try:
            body = _result_json(tool.func(args, ctx))
        except ToolError as exc:
            body = _error_json(exc.message)
        except BaseException as exc:  # SystemExit in a tool too: the host still gets an answer
            _print_exception(f"tool {tool.name} failed")
            body = _error_json(f"internal error in {tool.name}: {type(exc).__name__}: {exc}")
        finally:
            self._inflight.pop(ctx.request_id, None)
        if ctx._silenced:  # MCP: no response to a cancelled request
            return None
        return '{"jsonrpc":"2.0","id":' + _dumps(ctx.request_id) + ',"result":' + body + "}"

    def _on_notification(self, method: str, params: dict[str, Any]) -> None:
        if method == "notifications/cancelled":
            rid = params.get("requestId")
            ctx = self._inflight.get(rid) if isinstance(rid, str | int) else None
            if ctx is not None:
                ctx._cancel(str(params.get("reason") or "cancelled by the host"), silence=True)
        elif method == "logomesh/event":
            event = params.get("event")
            handlers = self._handlers.get(event) if isinstance(event, str) else None
            if handlers and isinstance(event, str):
                data = params.get("data")
                source = params.get("source")
                self._event_queue().put(
                    (handlers, event, {} if data is None else data, str(source or ""))
                )
        # notifications/initialized and anything unknown: nothing to do

    def _on_response(self, rid: object, msg: dict[str, Any]) -> None:
        pending = self._pending.pop(rid, None) if type(rid) is int else None  # not a bool
        if pending is None:
            print(f"[{self.name}] ignoring a response to unknown request {rid!r}", file=sys.stderr)
            return
        pending.resolve(msg.get("result"), msg.get("error"))

    # ---------------------------------------------------------------- events

    def _event_queue(self) -> SimpleQueue[tuple[list[EventHandler], str, Any, str] | None]:
        queue = self._events
        if queue is None:
            queue = self._events = SimpleQueue()
            self._event_thread = threading.Thread(
                target=self._deliver_events, args=(queue,), name=f"{self.name}-events", daemon=True
            )
            self._event_thread.start()
        return queue

    def _deliver_events(
        self, queue: SimpleQueue[tuple[list[EventHandler], str, Any, str] | None]
    ) -> None:
        while (item := queue.get()) is not None:
            handlers, event, data, source = item
            for handler in handlers:
                try:
                    handler(data, source)
                except Exception:
                    _print_exception(f"handler for event {event} failed")

    # ------------------------------------------------------ requests to the host

    def _call(
        self,
        command: str,
        arguments: dict[str, Any] | None,
        timeout: float | None,
        ctx: ToolContext | None,
    ) -> dict[str, Any]:
        params = {"command": command, "arguments": {} if arguments is None else arguments}
        result = self._request("logomesh/call", params, timeout, ctx)
        if not isinstance(result, dict):
            raise ToolError(f"the host answered logomesh/call for {command} with {result!r}")
        return result

    def _sample(
        self,
        prompt: str,
        max_tokens: int,
        system: str | None,
        temperature: float | None,
        timeout: float | None,
        ctx: ToolContext | None,
    ) -> str:
        params: dict[str, Any] = {
            "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
            "maxTokens": max_tokens,
        }
        if system is not None:
            params["systemPrompt"] = system
        if temperature is not None:
            params["temperature"] = temperature
        result = self._request("sampling/createMessage", params, timeout, ctx)
        content = result.get("content") if isinstance(result, dict) else None
        blocks = content if isinstance(content, list) else [content]
        texts = [b["text"] for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ToolError("the host's sampling answer holds no text")
        return "".join(texts)

    def _request(
        self, method: str, params: dict[str, Any], timeout: float | None, ctx: ToolContext | None
    ) -> object:
        if threading.get_ident() == self._reader_ident:
            raise RuntimeError(
                f"{method} cannot wait for the host on the thread that reads its messages"
            )
        rid = next(self._ids)
        pending = _Pending()
        self._pending[rid] = pending
        if self._closed:
            pending.fail(INTERNAL_ERROR, "the host closed the connection")
        if ctx is not None:
            ctx._waiting = pending
            if ctx._cancelled:  # re-checked after publishing _waiting: no lost wake-up
                pending.fail(REQUEST_CANCELLED, "the call was cancelled", local=True)
        try:
            if not pending.event.is_set():
                request = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
                self._write(_dumps(request))
            if not pending.event.wait(timeout):
                message = f"{method} timed out after {timeout:g} s"
                pending.fail(REQUEST_CANCELLED, message, local=True)
        except BaseException:  # e.g. arguments that are not JSON: nothing was sent
            self._pending.pop(rid, None)
            raise
        finally:
            if ctx is not None:
                ctx._waiting = None
        error = pending.error
        if error is None:
            return pending.result
        if self._pending.pop(rid, None) is not None and pending.local and not self._closed:
            self._notify("notifications/cancelled", {"requestId": rid, "reason": error["message"]})
        code = error.get("code")
        raise ToolError(
            str(error.get("message") or f"{method} failed"),
            code=code if isinstance(code, int) else None,
            data=error.get("data"),
        )

    # ---------------------------------------------------------------- output

    def _notify(self, method: str, params: dict[str, Any] | None) -> None:
        if params is None:
            self._write('{"jsonrpc":"2.0","method":' + _dumps(method) + "}")
        else:
            self._write(_dumps({"jsonrpc": "2.0", "method": method, "params": params}))

    def _send_result(self, rid: str | int, result_json: str) -> None:
        self._write('{"jsonrpc":"2.0","id":' + _dumps(rid) + ',"result":' + result_json + "}")

    def _send_error(self, rid: str | int | None, code: int, message: str) -> None:
        error = {"code": code, "message": message}
        self._write(_dumps({"jsonrpc": "2.0", "id": rid, "error": error}))

    def _write(self, message: str) -> None:
        # Lone surrogates (undecodable file names) become JSON \\udcXX escapes, not a crash.
        data = (message + "\n").encode("utf-8", "backslashreplace")
        with self._write_lock:
            out = self._out
            if out is None:
                out = self._out = _claim_stdout()
            try:
                out.write(data)
                out.flush()
            except (OSError, ValueError):  # the host is gone (broken pipe, closed stream)
                pass

    def _shutdown(self) -> None:
        self._closed = True
        for rid in list(self._pending):
            pending = self._pending.pop(rid, None)
            if pending is not None:
                pending.fail(INTERNAL_ERROR, "the host closed the connection")
        for ctx in list(self._inflight.values()):
            ctx._cancel("the host closed the connection", silence=False)
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        if self._events is not None and self._event_thread is not None:
            self._events.put(None)
            self._event_thread.join(SHUTDOWN_GRACE_S)
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.005)


def _result_json(value: object) -> str:
    """The ``tools/call`` result for what a tool returned, as JSON text."""
    if isinstance(value, str):
        return '{"content":[{"type":"text","text":' + _dumps(value) + "}]}"
    if value is None:
        return _EMPTY_TEXT
    text = _dumps(value)
    item = '{"content":[{"type":"text","text":' + _dumps(text) + "}]"
    if isinstance(value, dict):
        return item + ',"structuredContent":' + text + "}"
    return item + "}"


def _error_json(message: str) -> str:
    return '{"content":[{"type":"text","text":' + _dumps(message) + '}],"isError":true}'


def _print_exception(what: str) -> None:
    import traceback  # only when something went wrong: it is slow to import

    print(f"logomesh_plugin: {what}", file=sys.stderr)
    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()


_claimed: dict[str, IO[bytes]] = {}  # the process's stdio is claimed once, for all plugins


def _claim_stdout() -> IO[bytes]:
    """The protocol's own stdout; fd 1 and ``sys.stdout`` go to stderr from now on."""
    if "stdout" in _claimed:
        return _claimed["stdout"]
    sys.stdout.flush()
    try:
        stdout_fd, stderr_fd = sys.stdout.fileno(), sys.stderr.fileno()
        out: IO[bytes] = os.fdopen(os.dup(stdout_fd), "wb")
        os.dup2(stderr_fd, stdout_fd)
    except (AttributeError, OSError, ValueError):  # no real file descriptors (embedded, tests)
        out = sys.stdout.buffer
    sys.stdout = sys.stderr
    _claimed["stdout"] = out
    return out


def _claim_stdin() -> IO[bytes]:
    """The protocol's own stdin; fd 0 (inherited by subprocesses) reads /dev/null."""
    if "stdin" in _claimed:
        return _claimed["stdin"]
    try:
        stdin_fd = sys.stdin.fileno()
        reader: IO[bytes] = os.fdopen(os.dup(stdin_fd), "rb")
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, stdin_fd)
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        reader = sys.stdin.buffer
    _claimed["stdin"] = reader
    return reader
