"""Provider exceptions -> LogoMesh's error tree, in one place.

Providers raise whatever their SDK raises (openai, anthropic, ollama, httpx, llama-cpp).
Rather than import each SDK here (most are optional extras), errors are recognised by what
they carry: an HTTP status, a ``Retry-After`` header, or a well-known class name anywhere in
their MRO. The retry policy then only has to read ``ModelCallError.retryable``.

What is not recognised as the model's doing is not translated: a ``TypeError``,
``KeyError``, ``IndexError`` or ``AttributeError`` is a bug (LogoMesh's or an SDK's), so
``translate`` returns None and the caller lets it propagate. A response of the wrong shape is
caught before the SDK trips over it (``providers/response_shape.py``) and arrives here as a
``MalformedResponseError``, possibly wrapped by the SDK as the cause of its own exception.
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any

from logomesh.errors import (
    LogoMeshError,
    MalformedResponseError,
    ModelCallError,
    ModelConnectionError,
    ModelRequestError,
    ModelServerError,
    ModelTimeoutError,
    RateLimitedError,
)

_TIMEOUT_NAMES = {"TimeoutError", "TimeoutException", "APITimeoutError", "ReadTimeout"}
_CONNECTION_NAMES = {
    "ConnectionError",
    "ConnectError",
    "APIConnectionError",
    "RemoteProtocolError",
    "ReadError",
    "NetworkError",
    "IncompleteRead",
}
_MALFORMED_NAMES = {"JSONDecodeError", "ValidationError", "DecodingError"}
# Programming errors: never the server's fault, so never translated.
_BUGS = (TypeError, KeyError, IndexError, AttributeError, NameError, AssertionError)


def translate(exc: BaseException, model: str) -> LogoMeshError | None:
    """The LogoMesh error for ``exc`` raised while calling ``model``; None for a bug."""
    ours = _logomesh_cause(exc)
    if ours is not None:
        return ours
    if isinstance(exc, _BUGS):
        return None
    names = {cls.__name__ for cls in type(exc).__mro__}
    detail = _describe(exc)
    status = _status_of(exc)
    if status is not None:
        return _from_status(status, exc, model, detail)
    if names & _TIMEOUT_NAMES:
        return ModelTimeoutError(f"{model} did not answer in time ({detail}).")
    if names & _CONNECTION_NAMES:
        return ModelConnectionError(
            f"Could not reach {model} ({detail}). Check that its server is running and "
            "that `base_url` in its [[llm.models]] table is right."
        )
    if names & _MALFORMED_NAMES or isinstance(exc, json.JSONDecodeError):
        return MalformedResponseError(f"{model} sent a response that could not be read ({detail}).")
    return ModelCallError(f"{model} failed: {detail}.")


def _logomesh_cause(exc: BaseException) -> LogoMeshError | None:
    """A LogoMesh error that ``exc`` is, or wraps (the openai SDK turns an exception raised
    in an httpx hook into ``APIConnectionError`` from it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, LogoMeshError):
            return current
        seen.add(id(current))
        current = current.__cause__
    return None


def _from_status(status: int, exc: BaseException, model: str, detail: str) -> ModelCallError:
    if status == 429:
        retry_after = _retry_after_s(exc)
        wait = f"; it asked to wait {retry_after:g} s" if retry_after is not None else ""
        return RateLimitedError(
            f"{model} is rate-limited (HTTP 429{wait}).", retry_after_s=retry_after
        )
    if status >= 500:
        return ModelServerError(
            f"{model}'s server failed (HTTP {status}: {detail}).", status=status
        )
    if status in (401, 403):
        return ModelRequestError(
            f"{model} refused the credentials (HTTP {status}). Set the API key named by "
            "`api_key_env` in the model's [[llm.models]] table.",
            status=status,
        )
    return ModelRequestError(
        f"{model} rejected the request (HTTP {status}: {detail}).", status=status
    )


def _status_of(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        status = getattr(holder, "status_code", None)
        if isinstance(status, int) and status >= 400:
            return status
    return None


def _retry_after_s(exc: BaseException) -> float | None:
    """Seconds from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``."""
    headers: Any = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
