"""A repository's own git configuration cannot make a read run a program.

Anyone who hands over a folder hands over its ``.git/config`` and ``.git/hooks``; git obeys
them. Each program below leaves a marker when it runs: a ``post-index-change`` hook (``git
diff`` refreshes the index, and writes it, even with ``GIT_OPTIONAL_LOCKS=0``), a
``gpg.program`` that ``log.showSignature`` calls for a signed commit (in ``git log`` and
``git show``, whose output it would also corrupt), and a ``filter.<driver>.clean`` that
``git status`` and ``git diff`` run for files ``.gitattributes`` assigns to it (switched
off only in a restricted workspace: tests/security/test_restricted.py).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from logomesh.commands.models import CommandResult
from tests.devshell.conftest import git

Run = Callable[..., CommandResult]
FAKE_GPG = """#!/bin/sh
touch "$(dirname "$0")/gpg-ran"
cat >/dev/null
printf '\\n[GNUPG:] SIG_CREATED D 1 8 00 1 X\\n' >&2
printf -- '-----BEGIN PGP SIGNATURE-----\\n\\nabc\\n-----END PGP SIGNATURE-----\\n'
"""


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_reads_run_no_hook_and_no_signature_program(repo: Path, tmp_path: Path, run: Run) -> None:
    hook_ran, gpg_ran = repo / ".git" / "hook-ran", tmp_path / "tools" / "gpg-ran"
    executable(repo / ".git/hooks/post-index-change", f"#!/bin/sh\ntouch {hook_ran}\n")
    gpg = executable(tmp_path / "tools" / "gpg", FAKE_GPG)
    git(repo, "-c", f"gpg.program={gpg}", "commit", "-q", "-S", "--allow-empty", "-m", "Signed")
    gpg_ran.unlink()  # signing it ran the program; from here on nothing may
    git(repo, "config", "log.showSignature", "true")
    git(repo, "config", "gpg.program", str(gpg))
    (repo / "src/app.py").write_text("def greet():\n    return 'hi'\n")
    # A file touched but unchanged: refreshing its index entry makes git diff write the index.
    later = time.time() + 5
    os.utime(repo / ".gitignore", (later, later))
    for command in ("git.status", "git.diff", "git.log", "git.show"):
        result = run(command)
        assert result.ok, f"{command}: {result.message}"
    assert not hook_ran.exists(), "git diff ran the repository's post-index-change hook"
    assert not gpg_ran.exists(), "git log or show ran the repository's gpg.program"
    commits = run("git.log", count=1).data["commits"]
    assert commits[0]["subject"] == "Signed"  # no gpg output in the parsed text
