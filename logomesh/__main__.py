"""``python -m logomesh``: the command line, for when the console script is not on PATH."""

from logomesh.cli.entry import main

main()
