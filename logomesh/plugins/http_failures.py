"""What each way a remote MCP server can fail over HTTP is called, and how to fix it.

One function per kind of failure, each building the error a person sees: it names the
server by its label and its URL (:class:`Remote`, shown without credentials or query) and
says what to change. Every text that came from the server or from an exception passes
through :meth:`Remote.redact`, which masks the configured header values: they are often
secrets from the environment and must not reach a log, an error or the audit trail. The
session id is never shown either: it is a credential for the session.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from logomesh.errors import (
    PluginError,
    PluginProtocolError,
    RemoteAuthError,
    RemoteServerError,
    RemoteSessionExpiredError,
    RemoteUnreachableError,
)

EXCERPT_BYTES = 2000
EXCERPT_CHARS = 300
SECRET_CHARS = 6  # a header value (or word of one) this long is masked


@dataclass(frozen=True, slots=True)
class Remote:
    """Whom a message is about, and what it must never show."""

    label: str
    url: str  # scheme://host[:port]/path: no user:password@, no ?query
    header_names: tuple[str, ...]
    secrets: tuple[str, ...]  # longest first, so a value is masked before its parts
    connect_timeout_s: float

    @classmethod
    def of(
        cls, label: str, url: str, headers: Mapping[str, str], connect_timeout_s: float
    ) -> Remote:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        shown = f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
        # Each value and each of its words ("Bearer <token>"); shorter ones are no secret
        # ("1", "true"), and masking them would garble every message.
        words = {w for value in headers.values() for w in (value, *value.split())}
        secrets = {word for word in words if len(word) >= SECRET_CHARS and word != "Bearer"}
        secrets |= {s for s in (parts.password, parts.query) if s}
        ordered = tuple(sorted(secrets, key=len, reverse=True))
        return cls(label, shown, tuple(sorted(headers)), ordered, connect_timeout_s)

    @property
    def who(self) -> str:
        return f"Remote MCP server {self.label} at {self.url}"

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def detail(self, exc: BaseException) -> str:
        return self.redact(str(exc)) or type(exc).__name__


def status_error(response: httpx.Response, remote: Remote, method: str) -> PluginError:
    """The error for an HTTP status that is not an answer, with the fix for each kind."""
    status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    excerpt = body_excerpt(response, remote)
    said = f" It said: {excerpt}" if excerpt else ""
    code = response.status_code
    if code in (401, 403):
        sent = ", ".join(remote.header_names) or "none"
        return RemoteAuthError(
            f"{remote.who} refused the credentials for {method} ({status}; sent headers: "
            f'{sent}). Set headers = {{ Authorization = "Bearer ${{env:NAME}}" }} under '
            "[[plugins.mcp]] with ${env:NAME} naming the environment variable that holds "
            f"the token, and check that the token is valid.{said}"
        )
    if code == 404 and "mcp-session-id" in response.request.headers:
        return RemoteSessionExpiredError(
            f"{remote.who} ended the session ({status} for {method}, which carried its "
            "Mcp-Session-Id): it restarted or expired the session; a new session must be "
            "started (initialize again)."
        )
    if code == 404:
        return RemoteServerError(
            f"{remote.who} has no MCP endpoint there ({status} for {method}): the url is "
            "wrong. Fix url under [[plugins.mcp]] (the endpoint is often at a path such as "
            f"/mcp).{said}"
        )
    if code >= 500:
        return RemoteServerError(
            f"{remote.who} failed {method} with {status}; the fault is on the server, see "
            f"its logs.{said}"
        )
    where = response.headers.get("location")
    moved = f" It moved to {remote.redact(where)}: put that in url." if where else ""
    return RemoteServerError(f"{remote.who} refused {method} with {status}.{moved}{said}")


def transport_error(exc: httpx.HTTPError, remote: Remote, method: str) -> PluginError:
    """The error for an exchange that got no HTTP answer at all."""
    detail = remote.detail(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return RemoteUnreachableError(
            f"{remote.who} accepted no connection within {remote.connect_timeout_s:g} s for "
            f"{method}. Check that it is up and reachable from here (a firewall or proxy "
            "may be dropping the connection)."
        )
    if isinstance(exc, httpx.ConnectError):
        detail = "connection refused" if "refused" in detail.lower() else detail
        return RemoteUnreachableError(
            f"{remote.who} is not reachable for {method} ({detail}): is the server running, "
            "and is url under [[plugins.mcp]] right?"
        )
    if isinstance(exc, httpx.TimeoutException):
        return RemoteServerError(
            f"{remote.who} did not answer {method} in time ({detail}); see its logs."
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return RemoteServerError(f"{remote.who}: url is not an http(s) URL ({detail}).")
    return RemoteServerError(
        f"{remote.who} closed the connection without answering {method} ({detail}); see its logs."
    )


def not_an_answer(response: httpx.Response, remote: Remote, method: str) -> PluginError:
    kind = response.headers.get("content-type") or "(none)"
    return PluginProtocolError(
        f"{remote.who} answered {method} with HTTP {response.status_code} and Content-Type "
        f"{kind}, not application/json or text/event-stream: is the url an MCP endpoint? "
        f"It said: {body_excerpt(response, remote) or '(nothing)'}"
    )


def session_changed(remote: Remote, method: str) -> PluginProtocolError:
    return PluginProtocolError(
        f"{remote.who} changed its Mcp-Session-Id in the middle of the session (in its "
        f"answer to {method}); refused as a protocol error, since a session id is fixed at "
        "initialize. The connection is closed; start the server's session again.",
        code="plugin.session_changed",
    )


def dropped_without_id(remote: Remote, method: str, why: str) -> RemoteServerError:
    return RemoteServerError(
        f"{remote.who} closed the event stream before it answered {method} ({why}), and "
        "sent no event id to resume from. See the server's logs (it may have crashed or "
        "restarted); a resumable server (one with an event store) would let the call go on."
    )


def gave_up_resuming(remote: Remote, method: str, why: str, attempts: int) -> RemoteServerError:
    return RemoteServerError(
        f"{remote.who} dropped the event stream of {method} ({why}); gave up after "
        f"{attempts} attempts to resume it with Last-Event-ID."
    )


def not_resumed(
    response: httpx.Response, remote: Remote, method: str, why: str
) -> RemoteServerError:
    return RemoteServerError(
        f"{remote.who} dropped the event stream of {method} ({why}) and could not resume "
        f"it: GET with Last-Event-ID was answered HTTP {response.status_code} "
        f"{response.reason_phrase}."
    )


def body_excerpt(response: httpx.Response, remote: Remote) -> str:
    """The start of an error body, redacted: a JSON-RPC error's message where it is one."""
    raw = bytearray()
    try:
        for chunk in response.iter_bytes():
            raw += chunk
            if len(raw) >= EXCERPT_BYTES:
                break
    except httpx.HTTPError:
        pass
    text = raw[:EXCERPT_BYTES].decode("utf-8", "replace").strip()
    try:
        error = json.loads(text).get("error")
        text = str(error.get("message", text)) if isinstance(error, dict) else text
    except (ValueError, AttributeError):
        pass
    text = " ".join(remote.redact(text).split())
    return text[:EXCERPT_CHARS] + ("..." if len(text) > EXCERPT_CHARS else "")
