"""Start a plugin under Landlock: ``python launcher.py POLICY COMMAND...``.

POLICY is JSON: ``{"read": [paths], "write": [paths], "block_tcp": bool, "python": bool}``.
The launcher restricts its own process with ``landlock.restrict`` (the rules survive exec
and are inherited by every child), then:

- ``"python": false``: ``os.execvp(COMMAND)`` (Node, an MCP server): the restricted process
  becomes the plugin, at the cost of one short interpreter start (run with ``-S -E -s``);
- ``"python": true``: COMMAND is ``ENTRY ARGS...`` and the entry runs in this same
  interpreter (``runpy``, as ``__main__``, with ``sys.argv`` and ``sys.path[0]`` as
  ``python ENTRY`` would set them), so a Python plugin pays no second interpreter start.

It runs in the plugin's clean environment, where ``logomesh`` may not be importable: as a
script its own folder is ``sys.path[0]``, so it imports ``landlock`` (standard library only)
from there. It fails closed: when the rules cannot be applied the plugin does not start.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

if __package__:
    from logomesh.plugins.landlock import restrict
else:  # run as a script: this folder is sys.path[0]
    from landlock import restrict  # type: ignore[import-not-found,no-redef]

_FAILED = 126  # as a shell's "found but cannot run"


def main(args: list[str]) -> None:
    if len(args) < 2:
        sys.exit("usage: launcher.py POLICY COMMAND...")
    policy = json.loads(args[0])
    command = args[1:]
    try:
        restrict(
            [Path(path) for path in policy.get("read", ())],
            [Path(path) for path in policy.get("write", ())],
            block_tcp_connect=bool(policy.get("block_tcp", False)),
        )
    except OSError as exc:
        print(f"logomesh: cannot apply the plugin's file system rules: {exc}", file=sys.stderr)
        sys.exit(_FAILED)
    if policy.get("python"):
        _run_python(command)
    else:
        try:
            os.execvp(command[0], command)  # noqa: S606 - the plugin's argv, no shell
        except OSError as exc:
            print(f"logomesh: cannot run {command[0]}: {exc}", file=sys.stderr)
            sys.exit(_FAILED)


def _run_python(command: list[str]) -> None:
    import runpy

    entry = command[0]
    sys.argv = list(command)
    # What `python ENTRY` puts first on sys.path: the entry's folder, not the launcher's.
    if not __package__ and sys.path:
        sys.path[0] = os.path.dirname(os.path.abspath(entry))  # noqa: PTH100, PTH120
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(entry)))  # noqa: PTH100, PTH120
    sys.modules.pop("landlock", None)
    runpy.run_path(entry, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
