"""How DevShell talks to git: a hardened invocation, and readers for its machine formats.

Every git call starts from :func:`git_argv`, which switches off what a repository's own
configuration could use to run programs during a *read* (an fsmonitor hook, hooks, a
signature-verifying ``gpg.program``, an external diff or textconv driver;
``--no-ext-diff``/``--no-textconv`` are added per command) and what makes output hard to
parse (the pager, colour, quoted non-ASCII paths). Clean filters (``filter.<driver>.clean``,
which ``git status`` and ``git diff`` run for files ``.gitattributes`` assigns to a driver)
stay on, as git-lfs needs them, except in a restricted workspace (:func:`no_filters`).
Reads also run with ``GIT_OPTIONAL_LOCKS=0``, so ``git status`` never rewrites the index
under a person's editor. Outputs are requested in git's stable, machine-readable forms
(porcelain v2, ``--numstat``, explicit ``--format`` with control-character separators) and
parsed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

READ_ENV = {"GIT_OPTIONAL_LOCKS": "0"}

# Field and record separators for --format: characters no name or subject contains.
FIELD = "\x1f"
RECORD = "\x1e"
LOG_FORMAT = "%H%x1f%h%x1f%an%x1f%ae%x1f%aI%x1f%s%x1e"
BRANCH_FORMAT = "%(refname)%1f%(HEAD)%1f%(objectname:short)%1f%(upstream:short)%1f%(subject)"

_KINDS = {
    "M": "modified",
    "T": "type changed",
    "A": "added",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "U": "unmerged",
}


def git_argv(*args: str, hooks: bool = False) -> list[str]:
    """git with the repository's means of running programs during a read switched off.

    ``hooks`` keeps the repository's hooks (a push's ``pre-push`` is the person's own
    check); a read never needs one, yet ``git diff`` writes the refreshed index, and so runs
    ``post-index-change``, even with ``GIT_OPTIONAL_LOCKS=0``.
    """
    return [
        "git",
        "--no-pager",
        "-c",
        "core.fsmonitor=false",
        "-c",
        "core.quotePath=false",
        "-c",
        "color.ui=false",
        # Verifying a signature runs gpg.program (which .git/config may name), and its
        # report would land in the output that is parsed.
        "-c",
        "log.showSignature=false",
        *([] if hooks else ["-c", "core.hooksPath=/dev/null"]),
        *args,
    ]


# Lists every filter driver's keys in the configuration git reads (all levels, includes).
FILTER_KEYS_ARGV = ("config", "--name-only", "--get-regexp", r"^filter\.")


def no_filters(filter_keys: str) -> list[str]:
    """``-c`` options that switch off each filter driver named in ``filter_keys`` (the
    output of :data:`FILTER_KEYS_ARGV`): an empty command is no filter, and a ``required``
    driver that does not run would otherwise fail the read."""
    drivers = sorted(
        {key[len("filter.") :].rpartition(".")[0] for key in filter_keys.splitlines() if "." in key}
    )
    options: list[str] = []
    for driver in filter(None, drivers):
        for setting in ("clean=", "smudge=", "process=", "required=false"):
            options += ["-c", f"filter.{driver}.{setting}"]
    return options


def find_repository(path: Path) -> Path | None:
    """The work tree holding ``path`` (the directory with ``.git``), without running git."""
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    staged: str
    unstaged: str
    original_path: str | None = None

    @property
    def summary(self) -> str:
        parts = [f"{_KINDS.get(self.staged, self.staged)} (staged)"] if self.staged != "." else []
        if self.unstaged != ".":
            parts.append(_KINDS.get(self.unstaged, self.unstaged))
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Status:
    branch: str | None
    commit: str | None
    upstream: str | None
    ahead: int
    behind: int
    changes: tuple[FileChange, ...]
    untracked: tuple[str, ...]
    conflicted: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not (self.changes or self.untracked or self.conflicted)


def parse_status(porcelain: str) -> Status:
    """Read ``git status --porcelain=v2 --branch -z``."""
    head: dict[str, str] = {}
    changes: list[FileChange] = []
    untracked: list[str] = []
    conflicted: list[str] = []
    entries = iter(porcelain.split("\0"))
    for entry in entries:
        kind = entry[:2]
        if entry.startswith("# "):
            key, _, value = entry[2:].partition(" ")
            head[key] = value
        elif kind == "1 ":
            fields = entry.split(" ", 8)
            changes.append(FileChange(fields[8], fields[1][0], fields[1][1]))
        elif kind == "2 ":
            fields = entry.split(" ", 9)
            original = next(entries, None)
            changes.append(FileChange(fields[9], fields[1][0], fields[1][1], original))
        elif kind == "u ":
            conflicted.append(entry.split(" ", 10)[10])
        elif kind == "? ":
            untracked.append(entry[2:])
    ahead = behind = 0
    if "branch.ab" in head:
        plus, minus = head["branch.ab"].split()
        ahead, behind = int(plus), -int(minus)
    branch = head.get("branch.head")
    commit = head.get("branch.oid")
    return Status(
        branch=None if branch == "(detached)" else branch,
        commit=None if commit == "(initial)" else commit,
        upstream=head.get("branch.upstream"),
        ahead=ahead,
        behind=behind,
        changes=tuple(changes),
        untracked=tuple(untracked),
        conflicted=tuple(conflicted),
    )


@dataclass(frozen=True, slots=True)
class DiffStat:
    path: str  # the path the file has now
    added: int | None  # None for a binary file
    deleted: int | None
    old_path: str | None = None  # where a renamed (or copied) file was


# numstat writes a rename as ``old => new``, or ``pre/{old => new}/post`` when they share
# a prefix or suffix (either side of the braces may be empty: ``{ => docs}/a.md``).
_BRACED_RENAME = re.compile(r"(?P<pre>.*)\{(?P<old>.*) => (?P<new>.*)\}(?P<post>.*)")


def _renamed(path: str) -> tuple[str, str | None]:
    """(the path now, the old path or None) of one numstat path."""
    braced = _BRACED_RENAME.fullmatch(path)
    if braced is not None:
        pre, post = braced["pre"], braced["post"]
        new, old = (f"{pre}{braced[side]}{post}".replace("//", "/").lstrip("/")
                    for side in ("new", "old"))  # fmt: skip
        return new, old
    if " => " in path:
        old, new = path.split(" => ", 1)
        return new, old
    return path, None


def split_numstat(text: str) -> tuple[tuple[DiffStat, ...], str]:
    """Split ``git diff --numstat --patch`` output into per-file counts and the patch."""
    stats: list[DiffStat] = []
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        fields = line.rstrip("\n").split("\t", 2)
        if len(fields) != 3:
            return tuple(stats), "".join(lines[index:]).lstrip("\n")
        added, deleted, path = fields
        now, old = _renamed(path)
        stats.append(
            DiffStat(
                now,
                int(added) if added != "-" else None,
                int(deleted) if deleted != "-" else None,
                old,
            )
        )
    return tuple(stats), ""


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    short: str
    author: str
    email: str
    date: str
    subject: str


def parse_log(text: str) -> tuple[Commit, ...]:
    """Read ``git log --format=LOG_FORMAT``."""
    commits = []
    for record in text.split(RECORD):
        fields = record.strip("\n").split(FIELD)
        if len(fields) == 6:
            commits.append(Commit(*fields))
    return tuple(commits)


@dataclass(frozen=True, slots=True)
class Branch:
    name: str
    remote: bool
    current: bool
    commit: str
    upstream: str | None
    subject: str


def parse_branches(text: str) -> tuple[Branch, ...]:
    """Read ``git for-each-ref --format=BRANCH_FORMAT refs/heads refs/remotes``."""
    branches = []
    for line in text.splitlines():
        fields = line.split(FIELD)
        if len(fields) != 5:
            continue
        ref, head, commit, upstream, subject = fields
        remote = ref.startswith("refs/remotes/")
        name = ref.removeprefix("refs/remotes/" if remote else "refs/heads/")
        if remote and name.endswith("/HEAD"):
            continue  # origin/HEAD only points at another remote branch
        branches.append(Branch(name, remote, head == "*", commit, upstream or None, subject))
    return tuple(branches)
