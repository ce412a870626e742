"""pygls' protocol with the two changes LogoMesh needs, and nothing else.

1. ``workspace/executeCommand`` runs as a coroutine of its own. pygls' built-in handler is
   a generator that hands the command to a second future, so a ``$/cancelRequest`` answered
   the client but left the command running; here the request's task *is* the command, and
   cancelling it cancels the engine request (which records it as cancelled).
2. A client's answer to a request the server gave up on (a progress bar whose command had
   already ended) is dropped; pygls set the result on the cancelled future and reported
   the ``InvalidStateError`` as a server error.
3. A message that cannot be read (malformed JSON, an unknown shape) is reported to the
   person in words, instead of pygls' bare "Error in server".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import FeatureRequestError
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

if TYPE_CHECKING:
    from lsp_server.server import LogoMeshServer


class LogoMeshProtocol(LanguageServerProtocol):
    _server: LogoMeshServer

    # A coroutine where pygls has a generator: that is the point (see above).
    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    async def lsp_workspace__execute_command(  # type: ignore[override]
        self, params: types.ExecuteCommandParams
    ) -> Any:
        from lsp_server.features.commands import execute

        return await execute(self._server, params)

    def _handle_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        future = self._request_futures.get(msg_id)
        if future is not None and future.done():
            self._request_futures.pop(msg_id, None)
            return
        super()._handle_response(msg_id, result, error)


def report_unreadable(server: LogoMeshServer, error: Exception, source: Any) -> None:
    """Errors outside any request (a frame that is not JSON): told once, in words."""
    if source is FeatureRequestError:
        return  # the request's own error response says it
    message = (
        f"LogoMesh ignored a message from the editor that it could not handle ({error}). "
        "The server keeps running; if this repeats, the editor's LogoMesh log has details."
    )
    server.window_show_message(
        types.ShowMessageParams(type=types.MessageType.Error, message=message)
    )
