"""Secrets never reach the audit trail: redaction properties and the engine's one write path."""

from __future__ import annotations

import base64
import string
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from logomesh.audit.query import AuditFilter
from logomesh.commands.models import CommandContext, CommandOutput, CommandResult
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.engine import Engine
from logomesh.errors import CommandError
from logomesh.security.redaction import REDACTED, redact, redact_text

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
B64URL = ALNUM + "-_"


def _chars(alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


slack_tokens = st.builds(
    lambda kind, a, b, c: f"xox{kind}-{a}-{b}-{c}",
    st.sampled_from("bpaore"),
    _chars(string.digits, 10, 13),
    _chars(string.digits, 10, 13),
    _chars(ALNUM, 24, 32),
)


def _discord(user_id: int, stamp: str, hmac: str) -> str:
    head = base64.urlsafe_b64encode(str(user_id).encode()).decode().rstrip("=")
    return f"{head}.{stamp}.{hmac}"


discord_tokens = st.builds(
    _discord,
    st.integers(min_value=10**16, max_value=10**19 - 1),
    _chars(B64URL, 6, 6),
    _chars(B64URL, 27, 38),
)
openai_keys = st.builds(
    lambda prefix, body: f"sk-{prefix}{body}",
    st.sampled_from(["", "proj-", "ant-", "svcacct-"]),
    _chars(ALNUM + "_-", 20, 64),
)
github_classic = st.builds(
    lambda kind, body: f"gh{kind}_{body}", st.sampled_from("pousr"), _chars(ALNUM, 36, 36)
)
github_fine_grained = st.builds(lambda body: f"github_pat_{body}", _chars(ALNUM + "_", 60, 82))
aws_key_ids = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["AKIA", "ASIA"]),
    _chars(UPPER_ALNUM, 16, 16),
)
bearer_values = _chars(ALNUM + "._~+/=-", 12, 60)

SECRETS = st.one_of(
    slack_tokens, discord_tokens, openai_keys, github_classic, github_fine_grained, aws_key_ids
)
# Surrounding text ends and starts at a non-word character, as a token would in prose or logs.
SEPARATORS = st.sampled_from([" ", "\n", "\t", ", ", ": ", "=", '"', "'", "(", ") ", "<", "> "])
filler = st.text(max_size=40)


@given(filler, SEPARATORS, SECRETS, SEPARATORS, filler)
def test_tokens_never_survive_redaction(
    before: str, sep1: str, secret: str, sep2: str, after: str
) -> None:
    """A token-shaped secret anywhere in free text is gone after redact_text."""
    assume(secret not in before + after)
    redacted = redact_text(f"{before}{sep1}{secret}{sep2}{after}")
    assert secret not in redacted
    assert REDACTED in redacted


@given(filler, st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "token"]), bearer_values)
def test_bearer_values_never_survive(before: str, scheme: str, value: str) -> None:
    """``Authorization: Bearer <token>`` headers lose the token, keeping the scheme word."""
    assume(value not in before)
    redacted = redact_text(f"{before} Authorization: {scheme} {value}\n")
    assert value not in redacted
    assert f"{scheme} {REDACTED}" in redacted


url_passwords = _chars(ALNUM + "-._~!$&'()*+,;=%", 6, 30)


@given(
    filler,
    st.sampled_from(["postgresql", "postgresql+psycopg", "mysql", "redis", "https", "amqp"]),
    _chars(ALNUM + "._-", 0, 12),
    url_passwords,
    st.from_regex(r"[a-z][a-z0-9.-]{0,20}(:[0-9]{2,5})?", fullmatch=True),
)
def test_passwords_in_urls_never_survive(
    before: str, scheme: str, user: str, password: str, host: str
) -> None:
    """``scheme://user:password@host`` keeps the user and host but not the password."""
    redacted = redact_text(f"{before} {scheme}://{user}:{password}@{host}/db more")
    assert f":{password}@" not in redacted
    assert f"://{user}:{REDACTED}@{host}/db" in redacted


json_leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=30)
json_like = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_like)
def test_redact_is_idempotent(value: Any) -> None:
    """Redacting an already redacted value changes nothing."""
    once = redact(value)
    assert redact(once) == once


@given(filler, SECRETS, filler)
def test_redact_text_is_idempotent_on_text_with_secrets(
    before: str, secret: str, after: str
) -> None:
    """The [REDACTED] marker is never itself rewritten, e.g. by the bearer or URL rules."""
    once = redact_text(f"{before} {secret} Bearer {secret} x://u:{secret}@h {after}")
    assert redact_text(once) == once


SECRET_KEYS = [
    "password",
    "PASSWORD",
    "db_password",
    "api_key",
    "apiKey",
    "Authorization",
    "client_secret",
    "private_key",
    "session_id",
    "slack_token",
    "cookie",
]
secret_values = (
    st.text(min_size=1, max_size=30).filter(lambda s: s not in (REDACTED, "kept")) | st.integers()
)


@given(st.sampled_from(SECRET_KEYS), secret_values)
def test_values_under_secret_keys_are_replaced(key: str, value: Any) -> None:
    """Whatever the value, top level or nested in dicts and lists, it is replaced whole."""
    data = {
        key: value,
        "nested": {"deeper": {key: value}},
        "items": [{key: value, "name": "kept"}],
        f"{key}s": [value, value],
    }
    redacted = redact(data)
    assert redacted[key] == REDACTED
    assert redacted["nested"]["deeper"][key] == REDACTED
    assert redacted["items"] == [{key: REDACTED, "name": "kept"}]
    assert redacted[f"{key}s"] == [REDACTED, REDACTED]
    assert value not in _leaves(redacted)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


@given(st.integers(min_value=0), st.text(max_size=20))
def test_harmless_keys_are_kept(tokens: int, author: str) -> None:
    """Keys that merely contain a secret-ish word (tokens_in, author) keep their values."""
    assume(redact_text(author) == author)
    data = {"tokens_in": tokens, "tokens_out": tokens, "max_tokens": tokens, "author": author}
    assert redact(data) == data


def test_empty_and_boolean_secret_values_stay_visible() -> None:
    """Nothing to hide in None, "" or a flag; keeping them helps debugging."""
    data = {"password": None, "api_key": "", "token": True}
    assert redact(data) == data


# -- the engine path: what reaches the table ---------------------------------------------


class LoginArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str
    password: str
    note: str = ""
    fail: bool = False


@command(
    "test.login",
    summary="A command that handles secrets",
    permission="test.login",
    risk=RiskLevel.READ,
)
async def _login(ctx: CommandContext, args: LoginArgs) -> CommandOutput:
    if args.fail:
        raise CommandError(f"login failed for {args.note}")
    return CommandOutput(
        data={"user": args.user},
        message="logged in",
        output=f"connected with {args.note}",
        target=args.note,
    )


GH_TOKEN = "ghp_" + "A1b2C3d4E5" * 4
SLACK_TOKEN = "xoxb-1234567890-0987654321-" + "abcdEFGH" * 3
DSN = "postgresql://svc:hunter2-very-secret@db.internal/prod"


def _stored_text(engine: Engine, result: CommandResult) -> str:
    [record] = [
        r for r in engine.audit.store.query(AuditFilter(limit=None)) if r.id == result.audit_id
    ]
    payloads = engine.audit.store.payloads([h for h in (record.output_hash,) if h])
    return str(record.to_dict()) + "".join(p.decode() for p in payloads.values())


@pytest.mark.parametrize("fail", [False, True])
def test_engine_stores_command_records_redacted(
    engine: Engine, run: Callable[..., CommandResult], fail: bool
) -> None:
    """Arguments, target, output payload and error text are all redacted before storage."""
    engine.registry.register(_login)
    result = run(
        "test.login", user="bob", password="hunter2", note=f"{GH_TOKEN} via {DSN}", fail=fail
    )
    assert result.ok is not fail
    stored = _stored_text(engine, result)
    for secret in ("hunter2", GH_TOKEN):
        assert secret not in stored
    assert "svc:[REDACTED]@db.internal" in stored
    assert "'user': 'bob'" in stored


def test_engine_redacts_secrets_in_query_arguments(
    engine: Engine, run: Callable[..., CommandResult]
) -> None:
    """A token typed into a harmless argument (audit.query actor=...) is not stored."""
    result = run("audit.query", actor=SLACK_TOKEN)
    assert result.ok
    [record] = engine.audit.store.query(AuditFilter(action="audit.query"))
    assert record.arguments["actor"] == REDACTED
    assert SLACK_TOKEN not in str(record.to_dict())
    assert engine.audit.verify().ok


def test_words_that_merely_start_with_pass_are_not_secrets() -> None:
    """tests.run's counts (`passed`) reached the stored runs as [REDACTED]: the key `pass`
    (and password, passwd, passphrase, plural or inside a longer key) is one, `passed` is not."""
    kept = {"passed": 3, "passing": True, "tests_passed": 1, "passes": 2}
    assert redact(kept) == kept
    hidden = {"pass": "p", "db_pass": "p", "passwords": ["p"], "user_passphrase": "p"}
    assert set(map(str, _leaves(redact(hidden)))) == {REDACTED}
