"""Approvals as durable tickets: a request that needs a person's yes waits in a table.

``models`` holds the ticket and its digests, ``store`` the tables and the conditional
updates that let one decision win, ``service`` a ticket's life (open, decide, wait, expire,
cancel, each audited), ``gate`` the confirmation step of ``Engine.execute``, and
``commands`` the ``approvals.*`` commands every adapter reaches through the one door.
See docs/approvals.md.
"""
