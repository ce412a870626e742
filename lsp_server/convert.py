"""Engine values to protocol values, in one place each.

:func:`response_error` is the server's one error mapping: every failure a client sees as a
JSON-RPC error (an engine error code, a bad request, a handler that crashed) is made here,
so the codes stay consistent and the message is always the engine's user-facing text.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

if TYPE_CHECKING:
    from logomesh.commands.models import CommandResult

logger = logging.getLogger(__name__)

# LSP's own codes (lsprotocol.types.LSPErrorCodes / ErrorCodes).
INVALID_PARAMS = types.ErrorCodes.InvalidParams.value
REQUEST_FAILED = types.LSPErrorCodes.RequestFailed.value
INTERNAL_ERROR = types.ErrorCodes.InternalError.value

# Engine error codes that say the request itself was wrong.
_INVALID = frozenset(
    {
        "command.unknown",
        "command.invalid_arguments",
        "lsp.invalid_arguments",
        "lsp.unknown_document",
    }
)
# A command that was declined, or cancelled by someone else, is a failed request, never
# RequestCancelled: that code means "the client cancelled it", and clients drop such answers
# unseen (Neovim: "Do not surface RequestCancelled to users"), so a person's Cancel would
# leave the editor waiting. A request the client cancels is answered by pygls itself.


def response_error(code: str, message: str, data: dict[str, Any] | None = None) -> JsonRpcException:
    """The JSON-RPC error for an engine error ``code``; ``data.code`` keeps the engine's."""
    if code in _INVALID:
        rpc_code = INVALID_PARAMS
    elif code == "internal":
        rpc_code = INTERNAL_ERROR
    else:
        rpc_code = REQUEST_FAILED
    return JsonRpcException(message=message, code=rpc_code, data={"code": code, **(data or {})})


def result_or_error(result: CommandResult) -> dict[str, Any]:
    """A successful result as JSON; any other outcome raised as its JSON-RPC error, with
    the whole result in ``data.result`` (the audit id, the outcome)."""
    shown = result.to_dict()
    if result.ok:
        return shown
    error = result.error
    code, message = (error.code, error.message) if error else ("command.failed", result.message)
    raise response_error(code, message, {"result": shown})


def crashed(what: str, exc: BaseException) -> JsonRpcException:
    """A handler's unexpected exception: logged with its traceback here, shown as one line."""
    logger.error("%s failed", what, exc_info=exc)
    message = (
        f"LogoMesh's {what} failed unexpectedly ({type(exc).__name__}: {exc}). The server "
        "keeps running; the traceback is in its log (the editor's LogoMesh output)."
    )
    return response_error("internal", message)


def message_type(result: CommandResult) -> types.MessageType:
    if result.ok:
        return types.MessageType.Warning if result.warnings else types.MessageType.Info
    return types.MessageType.Error


def summary(result: CommandResult) -> str:
    """One line for ``window/showMessage``: what ran and how it ended."""
    text = result.message or str(result.outcome)
    first = text.strip().splitlines()[0] if text.strip() else str(result.outcome)
    return f"LogoMesh {result.command}: {first}"
