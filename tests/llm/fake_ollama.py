"""A loopback stand-in for an Ollama server; a real Ollama cannot be reached from tests.

LogoMesh's ``ollama`` provider drives Ollama's native API through llama-index's ``Ollama``
class, which uses the ``ollama`` Python client over httpx. Tests must not depend on an
Ollama daemon (or a model pulled into it), so this module runs a small HTTP server on
127.0.0.1 (standard library only) that speaks the subset of that API the client uses:

* ``GET  /`` (``Ollama is running``) and ``GET /api/version``
* ``GET  /api/tags`` (the models "pulled") and ``GET /api/ps`` (none loaded)
* ``POST /api/show`` (details and ``model_info``, whose ``<arch>.context_length`` llama-index
  reads when no context window is configured)
* ``POST /api/chat``: streamed as NDJSON (one JSON object a line, the default, as in Ollama)
  or, with ``"stream": false``, one JSON object. The last line of a stream (or the single
  object) has ``"done": true``, ``done_reason``, ``prompt_eval_count``, ``eval_count`` and
  the durations in nanoseconds.

A chat request for a model the server does not have answers 404 with Ollama's own error
(``{"error": "model \\"x\\" not found, try pulling it first"}``), and ``options.num_predict``
cuts the answer short with ``done_reason: "length"``. Calls to ``/api/chat`` can be scripted
to fail in specific ways (see :class:`Fault`)::

    with FakeOllamaServer(reply="hi there") as server:
        server.script(Fault("status", status=500), Fault("ok"))
        client = ollama.Client(host=server.base_url)
        ...

Streams are sent with ``Transfer-Encoding: chunked`` and ``Connection: close``, so a
connection closed mid-stream (``close_mid_stream``) is an error the client sees
(``httpx.RemoteProtocolError``), not a short but apparently complete answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, cast

from tests.llm.loopback import (
    CommonFaultKind,
    LoopbackFault,
    LoopbackHandler,
    LoopbackServer,
    split_reply,
)

__all__ = ["FakeOllamaServer", "Fault", "FaultKind", "split_reply"]

FaultKind = Literal[CommonFaultKind, "error_mid_stream"]

CHAT_PATH: Final = "/api/chat"
SHOW_PATH: Final = "/api/show"
TAGS_PATH: Final = "/api/tags"
PS_PATH: Final = "/api/ps"
VERSION_PATH: Final = "/api/version"

VERSION: Final = "0.0.0-fake"
#: The body sent for ``malformed_json``: JSON cut off in the middle.
MALFORMED_JSON: Final = '{"model": "x", "message": {'
#: The ``error`` line of ``error_mid_stream``, as Ollama sends when its runner dies.
MID_STREAM_ERROR: Final = "llama runner process has terminated: exit status 2"
#: Chunks sent before ``close_mid_stream`` and ``error_mid_stream`` break off.
CHUNKS_BEFORE_FAULT: Final = 2

# Ollama's messages for the statuses it sends (``model`` is filled in where it appears).
_ERROR_MESSAGES: Final[dict[int, str]] = {
    400: "invalid request",
    404: 'model "{model}" not found, try pulling it first',
    500: "llama runner process has terminated: signal: killed",
    503: "server busy, please try again.  maximum pending requests exceeded",
}

# Durations reported in nanoseconds: plausible, fixed, so records are repeatable.
_LOAD_NS: Final = 1_000_000
_NS_PER_TOKEN: Final = 2_000_000


@dataclass
class Fault(LoopbackFault):
    """How the server answers one call to ``/api/chat``.

    * ``ok``: a normal answer.
    * ``status``: HTTP ``status`` with ``body`` (default: Ollama's ``{"error": "..."}``).
    * ``slow``: wait ``delay_s`` seconds, then a normal answer (the wait ends early, without an
      answer, when the server shuts down).
    * ``malformed_json``: 200 whose body (or first NDJSON line) is truncated JSON.
    * ``error_mid_stream``: for a stream, the first chunks and then an ``{"error": ...}``
      line (what Ollama sends when generation fails after it started); otherwise 500.
    * ``close_mid_stream``: for a stream, the first chunks and then the connection closes
      without the ``done`` line or the end of the chunked body; otherwise the headers with the
      full ``Content-Length``, half of the body, and then the connection closes.
    * ``close_before_headers``: the connection closes without any response.
    """

    kind: FaultKind
    status: int = 200
    delay_s: float = 0.0
    body: str | None = None


def count_words(messages: object) -> int:
    """Whitespace-separated words in the ``content`` of a list of chat messages."""
    if not isinstance(messages, list):
        return 0
    return sum(
        len(message["content"].split())
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), str)
    )


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _base_name(model: str) -> str:
    """``llama3.2`` for ``llama3.2:latest``: Ollama treats the two as one model."""
    return model.removesuffix(":latest")


class _Handler(LoopbackHandler):
    server_version = "FakeOllama/1.0"
    json_content_type = "application/json; charset=utf-8"
    stream_content_type = "application/x-ndjson"

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def fake(self) -> FakeOllamaServer:
        return cast(FakeOllamaServer, super().fake)

    def _send_error_json(
        self, status: int, message: str | None = None, *, body: str | None = None
    ) -> None:
        """An Ollama error: ``{"error": "<message>"}`` (or ``body`` exactly, if given)."""
        if body is not None:
            self._send_body(status, body)
            return
        if message is None:
            message = f"scripted error from the fake Ollama server: {self._status_text(status)}"
        self._send_json(status, {"error": message})

    def _send_line(self, line: str) -> None:
        self._send_chunk(f"{line}\n".encode())

    # -- endpoints --------------------------------------------------------------------------

    def do_GET(self) -> None:
        self.close_connection = True
        route = self._route()
        if route == "/":
            self._send_bytes(200, b"Ollama is running", content_type="text/plain; charset=utf-8")
        elif route == VERSION_PATH:
            self._send_json(200, {"version": VERSION})
        elif route == TAGS_PATH:
            self._send_json(200, {"models": [self.fake.tag(name) for name in self.fake.models]})
        elif route == PS_PATH:
            self._send_json(200, {"models": []})
        else:
            self._not_found()

    def do_HEAD(self) -> None:
        self.close_connection = True
        if self._route() == "/":
            self._send_head(200, len(b"Ollama is running"), "text/plain; charset=utf-8")
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()

    def do_POST(self) -> None:
        self.close_connection = True
        route = self._route()
        if route == SHOW_PATH:
            self._show(self._json_body())
        elif route == CHAT_PATH:
            raw = self._read_body()
            number, fault, payload = self.fake.record(raw)
            with self._answering():
                self._chat(number, fault, payload)
        else:
            self._read_body()
            self._not_found()

    def _not_found(self) -> None:
        # Ollama's router answers unknown paths with a plain-text 404.
        self._send_bytes(404, b"404 page not found", content_type="text/plain")

    def _show(self, payload: dict[str, Any] | None) -> None:
        name = (payload.get("model") or payload.get("name")) if payload else None
        if not isinstance(name, str) or not name:
            self._send_error_json(400, "model is required")
            return
        if not self.fake.has_model(name):
            self._send_error_json(404, f"model '{name}' not found")
            return
        self._send_json(200, self.fake.show(name))

    def _chat(self, number: int, fault: Fault, payload: dict[str, Any] | None) -> None:
        if self._fails_before_answer(fault):
            return
        model = payload.get("model") if payload is not None else None
        if fault.kind == "status":
            message = _ERROR_MESSAGES.get(fault.status)
            if message is not None:
                message = message.format(model=model if isinstance(model, str) else "")
            self._send_error_json(fault.status, message, body=fault.body)
            return
        if payload is None:
            self._send_error_json(400, "invalid character looking for beginning of value")
            return
        if not isinstance(model, str) or not model:
            self._send_error_json(400, "model is required")
            return
        if not self.fake.has_model(model):
            self._send_error_json(404, _ERROR_MESSAGES[404].format(model=model))
            return

        pieces = split_reply(self.fake.reply)
        done_reason = "stop"
        options = payload.get("options")
        limit = options.get("num_predict") if isinstance(options, dict) else None
        if isinstance(limit, int) and 0 <= limit < len(pieces):
            pieces, done_reason = pieces[:limit], "length"
        prompt_eval_count = self.fake.prompt_eval_count
        if prompt_eval_count is None:
            prompt_eval_count = count_words(payload.get("messages"))
        eval_count = self.fake.eval_count if self.fake.eval_count is not None else len(pieces)
        final: dict[str, Any] = {
            "done": True,
            "done_reason": done_reason,
            "total_duration": _LOAD_NS + (prompt_eval_count + eval_count) * _NS_PER_TOKEN,
            "load_duration": _LOAD_NS,
            "prompt_eval_count": prompt_eval_count,
            "prompt_eval_duration": prompt_eval_count * _NS_PER_TOKEN,
            "eval_count": eval_count,
            "eval_duration": eval_count * _NS_PER_TOKEN,
        }

        if payload.get("stream", True) is not False:  # Ollama streams unless told not to
            self._stream(model, fault, pieces, final)
            return
        if fault.kind == "malformed_json":
            self._send_bytes(200, MALFORMED_JSON.encode())
            return
        if fault.kind == "error_mid_stream":
            self._send_error_json(500, MID_STREAM_ERROR)
            return
        message = {"role": "assistant", "content": "".join(pieces)}
        response = {"model": model, "created_at": _now(), "message": message, **final}
        if fault.kind == "close_mid_stream":
            self._send_half_json(response)
            return
        self._send_json(200, response)

    def _stream(self, model: str, fault: Fault, pieces: list[str], final: dict[str, Any]) -> None:
        def line(content: str, extra: dict[str, Any] | None = None) -> str:
            message = {"role": "assistant", "content": content}
            body = {"model": model, "created_at": _now(), "message": message}
            return json.dumps({**body, **(extra or {"done": False})})

        self._start_stream()
        if fault.kind == "malformed_json":
            self._send_line(MALFORMED_JSON)
            self._end_stream()
            return
        if fault.kind in ("close_mid_stream", "error_mid_stream"):
            for piece in pieces[:CHUNKS_BEFORE_FAULT]:
                self._send_line(line(piece))
            if fault.kind == "close_mid_stream":
                self._abort()
                return
            self._send_line(json.dumps({"error": MID_STREAM_ERROR}))
            self._end_stream()
            return
        for piece in pieces:
            self._send_line(line(piece))
        self._send_line(line("", final))
        self._end_stream()


class FakeOllamaServer(LoopbackServer[Fault]):
    """An Ollama server on 127.0.0.1 with scripted faults.

    Use it as a context manager; ``base_url`` (``http://127.0.0.1:<port>``) is what the
    ``ollama`` client takes as its host. ``reply``, ``models``, ``prompt_eval_count`` and
    ``eval_count`` may be changed at any time. The token counts reported by a chat default
    to the words of its messages and of its answer; set them to report fixed numbers.
    Faults (see :meth:`script`), ``calls``, ``requests`` and ``in_flight`` concern
    ``/api/chat``.
    """

    label = "Ollama"
    handler = _Handler
    fault_type = Fault

    #: JSON bodies received at ``/api/chat`` (a body that is not a JSON object is kept
    #: as ``{"_raw": text}``).
    requests: list[dict[str, Any]]

    def __init__(
        self,
        reply: str = "Hello from the fake Ollama server.",
        models: Iterable[str] = ("llama3.2",),
        *,
        context_length: int = 8192,
        prompt_eval_count: int | None = None,
        eval_count: int | None = None,
    ) -> None:
        super().__init__()
        self.reply: str = reply
        #: Names of the models "pulled" (``name`` and ``name:latest`` are the same model).
        self.models: list[str] = list(models)
        self.context_length: int = context_length
        self.prompt_eval_count: int | None = prompt_eval_count
        self.eval_count: int | None = eval_count

    # -- models -----------------------------------------------------------------------------

    def has_model(self, name: str) -> bool:
        return _base_name(name) in {_base_name(model) for model in self.models}

    def tag(self, name: str) -> dict[str, Any]:
        """One entry of ``/api/tags``."""
        full = name if ":" in name else f"{name}:latest"
        return {
            "name": full,
            "model": full,
            "modified_at": "2024-01-01T00:00:00Z",
            "size": 2_019_393_189,
            "digest": "0" * 64,
            "details": self._details(),
        }

    def show(self, name: str) -> dict[str, Any]:
        """The ``/api/show`` answer for ``name``."""
        return {
            "license": "",
            "modelfile": f"FROM {name}\n",
            "parameters": 'stop "<|eot_id|>"',
            "template": "{{ .Prompt }}",
            "details": self._details(),
            "model_info": {
                "general.architecture": "llama",
                "general.parameter_count": 3_212_749_888,
                "llama.context_length": self.context_length,
            },
            "capabilities": ["completion"],
            "modified_at": "2024-01-01T00:00:00Z",
        }

    @staticmethod
    def _details() -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M",
        }
