"""Secret redaction applied before anything is stored, logged or shown.

Two nets catch secrets: values under keys that name a secret (``password``, ``api_key``,
``authorization``...) are replaced whole, and token-shaped strings (Slack, Discord, OpenAI,
GitHub, AWS keys, bearer headers, passwords inside URLs) are replaced wherever they stand
in free text. Redaction is idempotent, so redacting twice changes nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from logomesh.canonical import to_jsonable

REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    # password, passwd, passphrase anywhere; a bare `pass` unless a lower-case word goes on
    # (`passed`, `passing` are counts, not secrets).
    r"(pass(word|wd|phrase)|pass(?!(?-i:[a-z]))|secret|token|api[-_]?key|apikey|auth(orization)?|credential"
    r"|private[-_]?key|signing[-_]?key|cookie|session[-_]?id|client[-_]?secret|dsn)",
    re.IGNORECASE,
)
# Keys that contain a secret-looking word but hold no secret.
# Keys that contain a secret-looking word but name model-call figures (token counts, timings).
_HARMLESS_KEYS = frozenset(
    {
        "tokens_in",
        "tokens_out",
        "token_count",
        "max_tokens",
        "author",
        "first_token_ms",
        "tokens_estimated",
    }
)

_TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Slack bot, user, app-level, refresh and configuration tokens.
    re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bxapp-\d-[A-Za-z0-9-]{10,}"),
    # Discord bot tokens: base64 of a 17-20 digit user id, timestamp, HMAC.
    re.compile(r"\b[MNO][A-Za-z\d_-]{22,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}"),
    # OpenAI and Anthropic style keys.
    re.compile(r"\bsk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{20,}"),
    # GitHub tokens, classic and fine-grained.
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{30,}"),
    # AWS access key ids.
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    # Google API keys.
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
)
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)(\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{8,}")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)(?!\[REDACTED\]@)[^\s@/]+@")
_ASSIGNMENT = re.compile(
    r"(?i)\b([A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN|API_KEY|APIKEY)[A-Z0-9_]*)(\s*[=:]\s*)"
    r"(?![\"']?\[REDACTED\])([\"']?)[^\s\"',;]+\3"
)


# Cached: the same few keys recur in every audit record, and the pattern is the costly part.
@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True when a mapping key names a value that must never be stored."""
    return key.lower() not in _HARMLESS_KEYS and bool(_SECRET_KEY.search(key))


# Every pattern above needs one of these to match: a token is a run of 15 or more token
# characters, a URL password or an assignment needs ``:``, ``@`` or ``=``, a header needs
# its scheme word. Most audited strings (command names, reasons, paths) have none, and these
# checks (plain ``in`` tests first, they are the cheapest) then replace eleven regex passes.
# tests/security/test_redaction_prefilter.py checks the equivalence.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_-]{15}")


def _may_hold_secret(text: str) -> bool:
    if "=" in text or ":" in text or "@" in text:
        return True
    if len(text) >= 15 and _TOKEN_RUN.search(text):
        return True
    # casefold, plus dotless i, covers every character re's IGNORECASE equates with these
    # letters (long s, Kelvin sign, ...); checked over all of Unicode in the tests.
    folded = text.casefold().replace("\u0131", "i")
    return "bearer" in folded or "basic" in folded or "token" in folded


def redact_text(text: str) -> str:
    """Replace every token-shaped secret inside free text."""
    if not _may_hold_secret(text):
        return text
    return _redact_all_patterns(text)


def _redact_all_patterns(text: str) -> str:
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    return _ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def redact(value: Any) -> Any:
    """Return a JSON-compatible copy of ``value`` with every secret replaced.

    Mappings keep their keys; a value under a secret-looking key becomes ``[REDACTED]``
    unless it is empty or ``None`` (there is nothing to hide, and saying so helps debugging).
    Leaves that are not JSON (paths, sets, datetimes, NaN) are converted on the same walk,
    since audit appends pay for every pass over their arguments.
    """
    if isinstance(value, str):
        return redact_text(value)
    # Concrete types first: the Mapping ABC check costs more than the rest of this call.
    if isinstance(value, dict):
        return {str(k): _redact_item(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, Mapping):
        return {str(k): _redact_item(str(k), v) for k, v in value.items()}
    converted = to_jsonable(value)
    return converted if isinstance(converted, float | None) else redact(converted)


def _redact_item(key: str, value: Any) -> Any:
    if is_secret_key(key) and value not in (None, "", REDACTED) and not isinstance(value, bool):
        if isinstance(value, list | tuple):
            # ``api_keys = [...]``: each element is as secret as the key says.
            return [_redact_item(key, v) for v in value]
        if isinstance(value, Mapping):
            return redact(value)
        return REDACTED
    return redact(value)
