"""The warm process: a CLI command in a fifth of a second instead of a second.

A CLI command spends most of its second importing (SQLAlchemy, pydantic, typer and rich,
the engine's features) and ``logomesh do`` seconds more loading the embedding model. The
warm process has done both once; for each command it forks a child that takes over the
caller's terminal (its stdin, stdout and stderr, passed over a Unix socket), working
directory, environment and umask, and runs the very same CLI code a cold process would.
Nothing is shared between commands but what was imported and loaded before the fork: each
child builds its own engine from the caller's settings, so flags, environment variables and
workspace files mean exactly what they mean in a cold start. What does not follow the caller
into the child: its resource limits (``ulimit``), cgroup and controlling terminal (Ctrl-C and
Ctrl-Z reach the child through the caller, which passes them on).

``client`` is what the console script runs first (standard library only), ``server`` the
process itself, ``child`` what a forked child does before running the command, ``preload``
what is imported and loaded before the first fork, and ``protocol`` the frames between them.
"""
