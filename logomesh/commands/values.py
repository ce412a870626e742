"""The plain values every layer shares: who asks, through which adapter, at what risk, how
it ended, and the ids that tie it together.

They live in the core (here, beside the request and result models) because the engine, the
audit trail, security and every feature name them; a feature that imported them from
``config``, ``audit`` or ``security`` would pull that package in and close a circle. This
module imports nothing but the standard library.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    """Named operational modes; each sets several settings at once."""

    LOCAL = "local"
    TEAM = "team"
    READONLY = "readonly"
    OFFLINE = "offline"


class RiskLevel(StrEnum):
    """How much harm a command can do; ordered read < write < danger."""

    READ = "read"
    WRITE = "write"
    DANGER = "danger"

    @property
    def rank(self) -> int:
        return _RISK_ORDER.index(self)


_RISK_ORDER = (RiskLevel.READ, RiskLevel.WRITE, RiskLevel.DANGER)


class Source(StrEnum):
    """The adapter or part of the engine an interaction came through."""

    CLI = "cli"
    LSP = "lsp"
    SLACK = "slack"
    DISCORD = "discord"
    PIPELINE = "pipeline"
    PLUGIN = "plugin"
    SYSTEM = "system"


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    ERROR = "error"
    CANCELLED = "cancelled"
    # A "started" record, written before a command that must not run unaudited runs.
    STARTED = "started"


def new_id() -> str:
    """A UUIDv7-layout id in hex: time-ordered, so ids sort by creation and index inserts
    append at the end of the B-tree instead of landing on random pages."""
    millis = time.time_ns() // 1_000_000
    # random, not os.urandom: ids need to be unique, not secret, and os.urandom releases
    # the GIL, which on a busy server hands the loop's thread to the audit writer for a
    # whole switch interval. The random module reseeds itself in forked children.
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | random.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return f"{value:032x}"  # what uuid.UUID(int=value).hex gives, without building one


@dataclass(frozen=True, slots=True)
class Actor:
    """A person (or the engine itself) as the adapter knows them; ``groups``: the groups the
    platform puts them in (a Discord member's guild role ids), which configuration may give
    roles to (``[[security.role_grants]]``)."""

    source: Source
    user_id: str
    display_name: str | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Identity:
    """A resolved identity: the name the audit trail records, and its roles."""

    name: str
    roles: tuple[str, ...]
    actor: Actor
    # The actor's platform groups whose ``[[security.role_grants]]`` added roles: recorded
    # with each authorization decision, so the trail says why a role-mapped member may act.
    granted_by: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return bool(self.roles)
