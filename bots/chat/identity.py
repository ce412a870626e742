"""Who a chat user is to LogoMesh, and what an admin adds for someone it does not know.

A platform knows people by its own ids (Slack ``U…``, Discord snowflakes); the user's
configuration maps them to a named identity with roles (``[[security.identities]]``), or
gives roles to everyone in a platform's group (``[[security.role_grants]]``: a Discord guild
role). A chat user nobody mapped has no roles, so the engine refuses everything they ask, in
every mode: a chat channel is not the workspace owner's terminal. The bot still sends their
request through the engine, so the refusal is in the audit trail, and tells them the exact
lines an admin must add, their id filled in.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bots.chat.message import ChatUser
from bots.chat.render import Code, Context, Reply, Text
from logomesh.commands.values import Source

if TYPE_CHECKING:
    from logomesh.engine import Engine

USER_CONFIG = "~/.config/logomesh/config.toml"


def is_mapped(engine: Engine, user: ChatUser) -> bool:
    """Whether the configuration maps this chat user to an identity with roles."""
    return engine.identities.resolve(user.actor).known


def identity_snippet(user: ChatUser) -> str:
    """The TOML an admin adds to map ``user`` (their platform id filled in), and, for a
    Discord member, the grant that maps one of their guild roles instead."""
    name = _suggested_name(user)
    snippet = (
        "[[security.identities]]\n"
        f'name = "{name}"            # the name the audit trail records\n'
        'roles = ["developer"]       # or "viewer", "admin", or a role under [security.roles]\n'
        f'{user.platform.value} = ["{user.user_id}"]\n'
    )
    if user.platform is Source.DISCORD:
        theirs = ", ".join(user.roles) if user.roles else "none yet: give them a role first"
        snippet += (
            "\n# or, for everyone with a Discord role (their role ids: "
            f"{_shorten(theirs)}):\n"
            "[[security.role_grants]]\n"
            f'discord_role = "{user.roles[0] if user.roles else "ROLE-ID"}"\n'
            'roles = ["developer"]\n'
        )
    return snippet


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unmapped_reply(user: ChatUser, correlation_id: str) -> Reply:
    """What an unmapped user is told: nothing ran, and exactly what an admin must add."""
    text = (
        f"⛔ LogoMesh does not know you yet ({user.platform.value} user `{user.user_id}`), so "
        "it ran nothing. Ask an admin to add these lines to the user config file of the "
        f"account that runs the bot ({USER_CONFIG}, or the file given with --config; not a "
        "workspace's logomesh.toml), then restart the bot:"
    )
    blocks = (
        Text(text),
        Code(identity_snippet(user), "toml"),
        Context(f"error code `command.denied` · correlation id `{correlation_id}`"),
    )
    fallback = f"LogoMesh does not know {user.platform.value} user {user.user_id}; ask an admin."
    return Reply(blocks, fallback, private=True)


def _suggested_name(user: ChatUser) -> str:
    """A lower-case name from the display name, or a placeholder to replace."""
    if user.display_name:
        slug = re.sub(r"[^a-z0-9._-]+", "-", user.display_name.lower()).strip("-")
        if slug:
            return slug[:40]
    return "CHOOSE-A-NAME"
