"""DevShell: the project's development commands (git, tests, lint, search, files), run safely.

Commands never go through a shell. Each runs an argv list in the workspace with a scrubbed
environment, closed stdin, a deadline and bounded output, in its own process group that is
killed whole on timeout or cancellation.

Modules, outside in:

- ``commands/``: the built-in commands (``git.*``, ``tests.run``, ``lint.check``,
  ``format.check``, ``search.code``, ``files.*``), exported as ``DEVSHELL_COMMANDS``;
- ``user_commands``: ``[[devshell.commands]]`` from logomesh.toml, built into specs;
- ``invoke``: a command's way to run a tool (settings, progress, errors);
- ``runner``: runs one argv (process group, deadline, output caps);
- ``capture``, ``progress``: what is kept of the output, and what is shown meanwhile;
- ``environment``, ``tools``: the child's environment, and finding its program;
- ``paths``, ``arguments``: what a path or an argument value may be;
- ``git``, ``summaries``: reading git's and the test runners' output.

What other features may import from this package is what this module exports; the rest is
its own business (``tests/test_boundaries.py`` holds the line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.lazy import lazy_exports

_EXPORTS = {
    "FEATURE": "logomesh.devshell.feature",
    "DevShellSettings": "logomesh.devshell.settings",
    "UserCommand": "logomesh.devshell.settings",
}
__all__ = [
    "FEATURE",
    "DevShellSettings",
    "UserCommand",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from logomesh.devshell.feature import FEATURE
    from logomesh.devshell.settings import DevShellSettings, UserCommand
