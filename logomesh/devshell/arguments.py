"""Argument values that end up as argv elements: what each kind may look like.

There is no shell, so ``; rm -rf /`` or ``$(touch pwned)`` in an argument is inert text. The
danger left is the program's own option parser: a value starting with ``-`` can become an
option (``git log --output=/etc/x``, ``git push --receive-pack=...``). So DevShell

- passes free text (a search pattern) only after an option that takes it verbatim
  (``-e PATTERN``), where it is data whatever it starts with;
- validates values that have a shape against a strict pattern: git revisions and branch
  names follow ``git check-ref-format`` (roughly, and more strictly: ASCII only, no leading
  ``-``), remote names are plain names (never URLs, so no ``ext::`` transport commands), and
  user-command arguments must fully match the pattern their declaration gives;
- ends options with ``--`` (or ``--end-of-options``) before paths and revisions.

The validators raise ``ValueError``: they run inside pydantic models, and the engine turns
the validation error into an :class:`~logomesh.errors.InvalidArgumentsError` that names the
argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_REF_LENGTH = 255
_REF_CHARS = re.compile(r"[A-Za-z0-9._/+@-]+")
_REVISION = re.compile(r"(?P<name>[A-Za-z0-9._/+@-]+?)(?P<suffix>(?:[~^][0-9]{0,4})*)")
_REMOTE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_text(value: str) -> str:
    """Free text passed as data (a search pattern): anything but NUL, which no argv holds."""
    if "\0" in value:
        raise ValueError("contains a NUL byte")
    return value


def check_plain(value: str) -> str:
    """A value placed where a program might read it as an option: no leading ``-``."""
    check_text(value)
    if value.startswith("-"):
        raise ValueError("must not start with '-' (it would be read as an option)")
    return value


def check_ref_name(value: str) -> str:
    """A branch or tag name as ``git check-ref-format`` allows it, minus anything exotic."""
    check_plain(value)
    if not value or len(value) > MAX_REF_LENGTH:
        raise ValueError(f"must be 1 to {MAX_REF_LENGTH} characters")
    if not _REF_CHARS.fullmatch(value):
        raise ValueError(
            "may contain only letters, digits and . _ / + @ - (no spaces or shell characters)"
        )
    problem = _ref_rule_broken(value)
    if problem:
        raise ValueError(f"is not a valid git ref name: {problem}")
    return value


def _ref_rule_broken(value: str) -> str | None:
    if ".." in value:
        return "it contains '..'"
    if "@{" in value:
        return "it contains '@{'"
    if "//" in value or value.endswith("/") or value.endswith("."):
        return "it has an empty component or ends with '/' or '.'"
    for part in value.split("/"):
        if part.startswith("."):
            return "a component starts with '.'"
        if part.endswith(".lock"):
            return "a component ends with '.lock'"
    return None


def check_revision(value: str, *, ranges: bool = False) -> str:
    """A commit-ish: a ref name or hash with ``~N``/``^N`` suffixes (``HEAD~2``, ``v1.0^``).

    With ``ranges``, also ``A..B`` and ``A...B`` (either side may be empty, not both).
    """
    check_plain(value)
    if ranges:
        for separator in ("...", ".."):
            if separator in value:
                left, right = value.split(separator, 1)
                if not (left or right):
                    raise ValueError(f"a range needs a revision on one side of {separator!r}")
                for side in (left, right):
                    if side:
                        check_revision(side)
                return value
    match = _REVISION.fullmatch(value)
    if match is None:
        raise ValueError(
            "must be a branch, tag or commit, optionally with ~N or ^N (like HEAD~2); only "
            "letters, digits and . _ / + @ - ~ ^ are allowed"
        )
    check_ref_name(match.group("name"))
    return value


def check_remote(value: str) -> str:
    """A configured remote's name (``origin``), never a URL or a transport helper."""
    check_plain(value)
    if not _REMOTE.fullmatch(value):
        raise ValueError(
            "must be the name of a configured remote (letters, digits, . _ -), not a URL"
        )
    return value


def pattern_checker(pattern: re.Pattern[str]) -> Callable[[str], str]:
    """The validator for a user command's argument: fully matches ``pattern``, no option."""

    def check(value: str) -> str:
        check_plain(value)
        if pattern.fullmatch(value) is None:
            raise ValueError(f"must match the pattern {pattern.pattern!r}")
        return value

    return check


def _check_revision_or_range(value: str) -> str:
    return check_revision(value, ranges=True)


SearchText = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(check_text)]
PathText = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(check_text)]
GitRevision = Annotated[str, AfterValidator(check_revision)]
GitRevisionRange = Annotated[str, AfterValidator(_check_revision_or_range)]
BranchName = Annotated[str, AfterValidator(check_ref_name)]
RemoteName = Annotated[str, AfterValidator(check_remote)]
