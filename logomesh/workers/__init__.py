"""Distributed work: pipeline steps as procrastinate jobs on team mode's PostgreSQL, run by
``logomesh worker`` processes through their own ``Engine.execute``.

``job`` is the typed payload, ``queue`` the procrastinate app built from settings, ``task``
what a worker does with a job, ``dispatch`` the run's side (enqueue, wait, abort),
``worker`` the worker process, ``rescue`` the retry of jobs whose worker died, ``results``
the table the waiting side reads, ``status`` what ``logomesh worker status`` shows.
"""
