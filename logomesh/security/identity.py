"""Who is asking: adapter user ids mapped to LogoMesh identities and their roles.

Each adapter knows people by its own ids (an OS user name, a Slack ``U…`` id, a Discord
snowflake). Configuration maps them to one named identity with roles. In local mode the OS
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

    def resolve(self, actor: Actor) -> Identity:
        mapped = self._by_id.get((actor.source, actor.user_id))
        if mapped is not None:
            return Identity(mapped[0], mapped[1], actor)
        if actor.source is Source.SYSTEM:
            return Identity("system", ("owner",), actor)
        if (
            not self._settings.security.require_roles
            and actor.source in _LOCAL_SOURCES
            and actor.user_id == self._owner
        ):
            return Identity(actor.user_id, ("owner",), actor)
        return Identity(f"{actor.source}:{actor.user_id}", (), actor)
