"""Benchmarks: ``python -m benchmarks`` measures every figure an issue names and prints one table.

Each module measures one concern and returns :class:`~benchmarks.table.Row` values, each with
its target; ``__main__`` runs them all. Every run works in a throw-away workspace with its own
``HOME`` and ``XDG_CONFIG_HOME`` (see :mod:`benchmarks.workspace`), so a benchmark never reads
or writes the real user's configuration, keys or database.
"""
