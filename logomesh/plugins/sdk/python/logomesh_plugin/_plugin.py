"""One plugin: its tools and event handlers, and the loop that serves the protocol."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from queue import SimpleQueue

from ._context import ToolContext, ToolError, _Tool
from ._wire import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LATEST_PROTOCOL_VERSION,
    LOG_LEVELS,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    PROTOCOL_VERSIONS,
    REQUEST_CANCELLED,
    SHUTDOWN_GRACE_S,
    _claim_stdin,
    _claim_stdout,
    _dumps,
    _error_json,
    _loads,
    _Pending,
    _print_exception,
    _result_json,
    _Workers,
)

TYPE_CHECKING = False  # typing costs more to import than the rest of this package
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, Any, TypeAlias, TypeVar

    from ._context import ToolFunc

    EventHandler: TypeAlias = Callable[[dict[str, Any], str], object]
    _F = TypeVar("_F", bound=ToolFunc)
    _H = TypeVar("_H", bound=EventHandler)


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
