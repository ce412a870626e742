"""The editor adapter: a language server (pygls 2) over the one engine.

It does what every adapter does and nothing more: turn LSP requests into
:class:`~logomesh.commands.models.CommandRequest` values, await ``Engine.execute`` on the
server's event loop, and render the results as protocol types. Authorisation, confirmation
policy, timeouts and the audit trail stay in the engine.

``logomesh lsp`` (stdio) or ``logomesh lsp --tcp HOST:PORT`` starts it; so does
``python -m lsp_server``. Nothing heavy is imported until a request needs it: the
``initialize`` answer pays for pygls and lsprotocol only, and each workspace folder's engine
is built in a thread after that.
"""

from __future__ import annotations

__all__ = ["build_server"]


def __getattr__(name: str) -> object:
    if name == "build_server":
        from lsp_server.server import build_server

        return build_server
    raise AttributeError(name)
