"""The ``logomesh`` console script: one look at the first word, then the typer app.

An editor starting ``logomesh lsp`` waits for the server's ``initialize`` answer, so that
word goes straight to the language server, before typer and the CLI's modules are
imported (about a fifth of the server's start-up budget). Everything else is the CLI: run by
a warm process when one is there (:mod:`logomesh.cli.warm`), in this process otherwise.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["lsp"]:
        from lsp_server.__main__ import main as lsp_main

        raise SystemExit(lsp_main(sys.argv[2:]))
    from logomesh.cli.warm.client import run_warm

    status = run_warm(sys.argv[1:])
    if status is not None:
        raise SystemExit(status)
    from logomesh.cli.app import main as cli_main

    cli_main()
