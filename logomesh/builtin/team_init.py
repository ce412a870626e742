"""``logomesh init --team URL``: a workspace joins a team's shared PostgreSQL.

The engine running ``workspace.init`` is already on the team's database (the CLI passes the
URL as this one process's ``database.url``), so this module only has to check that server,
migrate it, and write the two settings that make every later process of the workspace use
it: ``mode = "team"`` and ``[database] url``. Its audit record is the first thing the
workspace writes to the shared trail.

The file is committed with the project, so the URL is written without its password: libpq
(and so psycopg) reads it from ``PGPASSWORD`` or the password file (``~/.pgpass``, or the
file ``PGPASSFILE`` names), and ``LOGOMESH_DATABASE__URL`` can carry the whole URL instead.
An existing ``logomesh.toml`` is edited line by line, keeping its comments, and the result
is parsed again before it is written: what could not be edited safely is refused, saying
what to write by hand.

A workspace that used another database until now has signed checkpoints of that chain; the
ones the team's chain does not confirm are set aside when it switches
(:mod:`logomesh.audit.chain_move`), and the message says where they went.
"""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import URL, make_url
from sqlalchemy.exc import ArgumentError

from logomesh.audit import CheckpointSplit, set_aside_foreign_checkpoints
from logomesh.builtin.trust_commands import keep_trust
from logomesh.commands.models import CommandContext
from logomesh.errors import ConfigError, InvalidArgumentsError
from logomesh.plural import plural, verb
from logomesh.storage.database import Database
from logomesh.storage.reach import check_reachable, server_of

NAMED_BY = "`logomesh init --team URL`"
_TABLE = re.compile(r"^\s*\[")
_DATABASE_TABLE = re.compile(r"^\s*\[\s*database\s*\]\s*(#.*)?$")
_MODE = re.compile(r"^\s*mode\s*=")
_URL = re.compile(r"^\s*url\s*=")
_COMMENTED_URL = re.compile(r"^\s*#\s*url\s*=")


@dataclass(frozen=True)
class TeamDatabase:
    """The team's database as the workspace file names it, and what was left out."""

    url: str  # without its password
    had_password: bool
    server: str  # host:port/name, for people


def team_database(db: Database) -> TeamDatabase:
    """Check that ``db`` is a reachable PostgreSQL; the URL to write for it."""
    if db.dialect != "postgresql":
        raise InvalidArgumentsError(
            f"Team mode shares one PostgreSQL database between machines; {db.display_url} is "
            f"{db.dialect}. Pass a PostgreSQL URL: logomesh init --team "
            "postgresql+psycopg://HOST/DATABASE"
        )
    check_reachable(db, NAMED_BY)
    url = make_url(db.url)
    had_password = url.password is not None or "password" in url.query
    return TeamDatabase(_without_password(url), had_password, server_of(db))


@dataclass(frozen=True)
class TeamJoin:
    """What joining did: the database, whether the file changed, the checkpoints moved."""

    database: TeamDatabase
    file_changed: bool
    checkpoints: CheckpointSplit

    def describe(self) -> dict[str, Any]:
        aside = self.checkpoints.aside_file
        return {
            "mode": "team",
            "team_database": self.database.server,
            "url_written": self.database.url,
            "checkpoints_set_aside": self.checkpoints.set_aside,
            "checkpoints_aside_file": str(aside) if aside else None,
        }


async def join(ctx: CommandContext, config_file: Path, template: str, *, existed: bool) -> TeamJoin:
    """Check and migrate the engine's (team) database, then point the workspace at it
    (``existed``: whether ``config_file`` was there before)."""
    engine = ctx.engine
    # Checked before anything is written: a wrong URL leaves the workspace as it was.
    team = await asyncio.to_thread(team_database, engine.database)
    await ctx.run_in_thread(
        engine.ensure_schema,
        what="migrating the team database",
        check="`logomesh db status` shows its schema",
    )
    switching = await asyncio.to_thread(_configured_url, config_file) != team.url
    write = partial(write_team_settings, config_file, template, team.url)
    if existed:
        # An edit of a file the person trusted stays trusted; one they did not, does not.
        changed, _ = await keep_trust(ctx, write)
    else:
        changed = await asyncio.to_thread(write)
    split = CheckpointSplit(0, 0, None)
    if switching:
        # Only when the workspace changes chains: on a rerun, a checkpoint the team's chain
        # contradicts is evidence against that chain, and stays where verify sees it.
        split = await ctx.run_in_thread(
            set_aside_foreign_checkpoints,
            engine.database,
            engine.settings.checkpoint_path,
            "team",
            what="setting aside the checkpoints of the workspace's previous chain",
        )
    return TeamJoin(team, changed, split)


def _configured_url(config_file: Path) -> str | None:
    """The file's ``database.url`` as :func:`team_database` would write it, or None."""
    try:
        url = tomllib.loads(config_file.read_text(encoding="utf-8"))["database"]["url"]
        return _without_password(make_url(url))
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ArgumentError):
        return None


def _without_password(url: URL) -> str:
    # ``URL.set(password=None)`` would keep the password: None there means "unchanged".
    # Rendered either way, so the same URL always writes the same text (a rerun is no edit).
    bare = url._replace(password=None).difference_update_query(["password"])
    return bare.render_as_string(hide_password=False)


def write_team_settings(config_file: Path, template: str, url: str) -> bool:
    """Set ``mode = "team"`` and ``database.url`` in ``config_file`` (``template`` when
    there is none yet); False when it already said so."""
    before = config_file.read_text(encoding="utf-8") if config_file.exists() else template
    after = with_team_settings(before, url)
    if config_file.exists() and after == before:
        return False
    try:
        settled = tomllib.loads(after)
    except tomllib.TOMLDecodeError:
        settled = {}
    if settled.get("mode") != "team" or settled.get("database", {}).get("url") != url:
        raise ConfigError(
            f"{config_file} could not be edited safely (its database settings are not a "
            f'[database] table). Set them by hand: mode = "team" at the top, and url = '
            f"{json.dumps(url)} under [database]; then run `logomesh init --team URL` again."
        )
    config_file.write_text(after, encoding="utf-8")
    return True


def with_team_settings(text: str, url: str) -> str:
    """``text`` with the top-level mode and ``[database] url`` set, comments kept."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    first_table = next((i for i, line in enumerate(lines) if _TABLE.match(line)), len(lines))
    mode = next((i for i in range(first_table) if _MODE.match(lines[i])), None)
    if mode is not None:
        lines[mode] = 'mode = "team"\n'
    else:
        lines.insert(_after_leading_comments(lines, first_table), 'mode = "team"\n')
    url_line = f"url = {json.dumps(url)}\n"
    table = next((i for i, line in enumerate(lines) if _DATABASE_TABLE.match(line)), None)
    if table is None:
        return "".join(lines) + f"\n[database]\n{url_line}"
    end = next((i for i in range(table + 1, len(lines)) if _TABLE.match(lines[i])), len(lines))
    body = range(table + 1, end)
    found = next((i for i in body if _URL.match(lines[i])), None)
    if found is None:
        found = next((i for i in body if _COMMENTED_URL.match(lines[i])), None)
    if found is None:
        lines.insert(table + 1, url_line)
    else:
        lines[found] = url_line
    return "".join(lines)


def _after_leading_comments(lines: list[str], limit: int) -> int:
    """Where a new top-level key goes: after the file's opening comment block."""
    index = 0
    while index < limit and lines[index].lstrip().startswith("#"):
        index += 1
    return index


def next_steps(team: TeamJoin) -> str:
    """What to do after joining, for the person who ran it."""
    password = (
        " The URL's password was not written to logomesh.toml: give it to every process "
        "through PGPASSWORD or ~/.pgpass (libpq reads both), or put the whole URL in "
        "LOGOMESH_DATABASE__URL."
        if team.database.had_password
        else ""
    )
    split = team.checkpoints
    aside = (
        f" {plural(split.set_aside, 'signed checkpoint')} of this workspace's previous chain, "
        f"which the team's chain does not contain, {verb(split.set_aside, 'was', 'were')} moved "
        f"aside to {split.aside_file} (kept, "
        "unchanged), so `audit verify` checks the team's chain against its own."
        if split.set_aside
        else ""
    )
    return (
        f"{password}{aside} Team mode requires roles: map each person to an identity with roles in "
        "their ~/.config/logomesh/config.toml ([[security.identities]]), or commands are "
        "denied. Then start workers (`logomesh worker`), the bots (`logomesh bot slack`, "
        "`logomesh bot discord`) and editors (`logomesh lsp`) on this workspace, and check "
        "the shared trail with `logomesh audit verify`. docs/team.md walks through each."
    )
