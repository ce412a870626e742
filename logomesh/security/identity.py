"""Who is asking: adapter user ids mapped to LogoMesh identities and their roles.

Each adapter knows people by its own ids (an OS user name, a Slack ``U…`` id, a Discord
snowflake). Configuration maps them to one named identity with roles, and may give roles to
everyone in a platform's group (``[[security.role_grants]]``: the members of a Discord guild
role), added to their own; a member known only by such a role is recorded as
``discord:<user id>``. In local mode the OS
user who owns the workspace is the ``owner``; everybody else is nobody in particular and, with
no roles, may do nothing: deny by default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.commands.values import Actor, Identity, Source

if TYPE_CHECKING:
    from logomesh.config import Settings

# Where an OS user name is the id, and the owner may therefore be recognised. Plugins run
# on this machine under the owner's account; what they may call is their manifest's grant.
_LOCAL_SOURCES = frozenset({Source.CLI, Source.LSP, Source.PLUGIN})


class IdentityResolver:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # Looked up once: getpass.getuser() asks the password database (~0.1 ms) each time.
        self._owner = settings.owner
        self._by_id: dict[tuple[Source, str], tuple[str, tuple[str, ...]]] = {}
        for mapping in settings.security.identities:
            for source, ids in (
                (Source.CLI, mapping.cli),
                (Source.LSP, mapping.cli),
                (Source.SLACK, mapping.slack),
                (Source.DISCORD, mapping.discord),
            ):
                for user_id in ids:
                    self._by_id[(source, user_id)] = (mapping.name, mapping.roles)

        # Discord role ids are snowflakes, unique across guilds: the id alone names one role.
        self._by_group: dict[tuple[Source, str], tuple[str, ...]] = {}
        for grant in settings.security.role_grants:
            key = (Source.DISCORD, grant.discord_role)
            self._by_group[key] = _union(self._by_group.get(key, ()), grant.roles)

    def resolve(self, actor: Actor) -> Identity:
        granted, by = self._granted(actor)
        mapped = self._by_id.get((actor.source, actor.user_id))
        if mapped is not None:
            return Identity(mapped[0], _union(mapped[1], granted), actor, by)
        if granted:
            return Identity(f"{actor.source}:{actor.user_id}", granted, actor, by)
        if actor.source is Source.SYSTEM:
            return Identity("system", ("owner",), actor)
        if (
            not self._settings.security.require_roles
            and actor.source in _LOCAL_SOURCES
            and actor.user_id == self._owner
        ):
            return Identity(actor.user_id, ("owner",), actor)
        return Identity(f"{actor.source}:{actor.user_id}", (), actor)

    def _granted(self, actor: Actor) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The roles the actor's platform groups are given (a Discord member's guild roles),
        and the groups that gave them."""
        roles: tuple[str, ...] = ()
        by: list[str] = []
        for group in actor.groups:
            given = self._by_group.get((actor.source, group), ())
            if given:
                roles = _union(roles, given)
                by.append(group)
        return roles, tuple(by)


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    """Both role lists, in order, each role once."""
    return first + tuple(role for role in second if role not in first)
