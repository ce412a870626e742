"""The built-in DevShell commands, registered by every engine (see ``BUILTIN_COMMANDS``).

Names are stable: the natural-language interpreter and people's scripts refer to them.
"""

from __future__ import annotations

from logomesh.commands.models import CommandSpec
from logomesh.devshell.commands import files, git, quality, search, testing

DEVSHELL_COMMANDS: tuple[CommandSpec, ...] = (
    git.git_status,
    git.git_diff,
    git.git_log,
    git.git_branches,
    git.git_current_branch,
    git.git_show,
    git.git_push,
    testing.tests_run,
    quality.lint_check,
    quality.format_check,
    search.search_code,
    files.files_read,
    files.files_list,
)

__all__ = ["DEVSHELL_COMMANDS"]
