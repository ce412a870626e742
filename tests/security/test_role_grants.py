"""Discord guild roles given LogoMesh roles: ``[[security.role_grants]]``.

Real parts: settings loaded and validated as ``logomesh`` loads them, the real engine on a
SQLite file, its policy and its audit trail. A member's role ids reach the engine as the
actor's ``groups`` (the Discord adapter fills them from the interaction's member).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from bots.chat.identity import identity_snippet
from bots.chat.message import ChatUser
from logomesh.audit.query import AuditFilter
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Outcome, Source
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings
from logomesh.errors import ConfigError
from logomesh.security.identity import IdentityResolver

DEVS = "112233445566778899"  # a guild role's id
OPS = "998877665544332211"
ALICE_ID = "300000000000000001"
SAM_ID = "300000000000000002"

Load = Callable[..., LoadedSettings]


def team(**security: Any) -> dict[str, Any]:
    return {
        "security": {
            "require_roles": True,
            "identities": [{"name": "alice", "roles": ["viewer"], "discord": [ALICE_ID]}],
            "role_grants": [
                {"discord_role": DEVS, "roles": ["developer"]},
                {"discord_role": OPS, "roles": ["viewer", "admin"]},
            ],
            **security,
        }
    }


def member(user_id: str, *roles: str) -> Actor:
    return Actor(Source.DISCORD, user_id, None, roles)


def test_a_member_known_only_by_a_granted_role_gets_its_roles(load: Load) -> None:
    resolver = IdentityResolver(load(team()).settings)
    identity = resolver.resolve(member(SAM_ID, "555555555555555555", DEVS))
    assert identity.name == f"discord:{SAM_ID}"
    assert identity.roles == ("developer",)
    assert identity.granted_by == (DEVS,)


def test_a_mapped_person_keeps_their_roles_and_adds_their_groups(load: Load) -> None:
    resolver = IdentityResolver(load(team()).settings)
    identity = resolver.resolve(member(ALICE_ID, OPS, DEVS))
    assert identity.name == "alice"
    assert identity.roles == ("viewer", "admin", "developer")  # each role once, in order
    assert identity.granted_by == (OPS, DEVS)


def test_without_a_granted_role_a_member_has_no_roles(load: Load) -> None:
    resolver = IdentityResolver(load(team()).settings)
    identity = resolver.resolve(member(SAM_ID, "555555555555555555"))
    assert identity.roles == () and not identity.known


def test_grants_are_discords_only(load: Load) -> None:
    """A role id means nothing from another platform, even the same string."""
    resolver = IdentityResolver(load(team()).settings)
    assert resolver.resolve(Actor(Source.SLACK, "U1", None, (DEVS,))).roles == ()


def test_the_trail_says_which_role_allowed_a_command(load: Load) -> None:
    engine = build_engine(load(team()).settings)
    try:
        request = CommandRequest("whoami", member(SAM_ID, DEVS), {})
        assert asyncio.run(engine.execute(request)).ok
        (record,) = engine.audit.store.query(AuditFilter(correlation_id=request.correlation_id))
        assert record.actor == f"discord:{SAM_ID}"
        authorization = record.details["authorization"]
        assert authorization["allowed"] is True
        assert authorization["granted_by"] == {"discord_roles": [DEVS]}
    finally:
        engine.close()


def test_a_refusal_says_how_to_grant_a_role(load: Load) -> None:
    engine = build_engine(load(team()).settings)
    try:
        request = CommandRequest("whoami", member(SAM_ID, "555555555555555555"), {})
        result = asyncio.run(engine.execute(request))
        assert result.outcome is Outcome.DENIED and result.error is not None
        assert "[[security.role_grants]]" in result.error.message
        records = engine.audit.store.query(AuditFilter(correlation_id=request.correlation_id))
        assert [r.outcome for r in records] == [Outcome.DENIED]
    finally:
        engine.close()


def test_a_grant_of_an_unknown_role_is_named(load: Load) -> None:
    grants = [{"discord_role": DEVS, "roles": ["deployer"]}]
    with pytest.raises(ConfigError) as caught:
        build_engine(load(team(role_grants=grants)).settings)
    assert DEVS in caught.value.user_message and "deployer" in caught.value.user_message


@pytest.mark.parametrize(
    ("grant", "field"),
    [
        ({"discord_role": "devs", "roles": ["developer"]}, "discord_role"),
        ({"discord_role": DEVS, "roles": []}, "roles"),
        ({"discord_role": DEVS}, "roles"),
    ],
)
def test_a_malformed_grant_names_its_field(load: Load, grant: dict[str, Any], field: str) -> None:
    with pytest.raises((ConfigError, ValidationError)) as caught:
        load(team(role_grants=[grant]))
    assert field in str(caught.value)


def test_the_fix_for_a_discord_stranger_offers_a_role_grant() -> None:
    stranger = ChatUser(Source.DISCORD, SAM_ID, "Sam", roles=("555555555555555555",))
    snippet = identity_snippet(stranger)
    assert f'discord = ["{SAM_ID}"]' in snippet
    assert "[[security.role_grants]]" in snippet
    assert 'discord_role = "555555555555555555"' in snippet


def test_the_fix_for_a_slack_stranger_has_no_role_grant() -> None:
    assert "role_grants" not in identity_snippet(ChatUser(Source.SLACK, "U9", "Sam"))
