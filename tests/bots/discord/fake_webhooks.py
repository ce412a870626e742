"""An interaction's answers: its callback, and the webhook its token opens for 15 minutes.

Discord's rules, in one place: an interaction is answered once (400 40060 the second time),
within its window (404 10062 "Unknown interaction" after ``defer_window_s``); a deferred
answer (type 5) shows a "thinking" message (flags 128) that the first follow-up, or an edit
of ``@original``, replaces; type 6 and 7 answer a click on the clicked message itself; the
token opens the webhook for ``token_ttl_s`` (401 50027 "Invalid Webhook Token" after);
ephemeral messages are reachable through that webhook alone. No bot token is needed: the
interaction's token is the credential, in the path.
"""

from __future__ import annotations

import time
from typing import Any

from tests.bots.discord import discord_payloads as payloads
from tests.bots.discord.discord_limits import choices_errors, message_errors
from tests.bots.discord.fake_models import FakeInteraction, FakeMessage, RestRequest
from tests.bots.discord.fake_state import (
    Answer,
    DiscordError,
    DiscordState,
    check_form,
    invalid,
    unknown_message,
)


class InteractionRoutes(DiscordState):
    """``POST /interactions/{id}/{token}/callback`` and ``/webhooks/{app}/{token}/...``."""

    async def _callback(self, request: RestRequest) -> Answer:
        interaction = self.interactions.get(request.params["id"])
        if interaction is None or interaction.token != request.params["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        if interaction.acknowledged:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - interaction.created_at > self.defer_window_s:
            raise DiscordError(404, 10062, "Unknown interaction")
        body = request.json if isinstance(request.json, dict) else {}
        kind = body.get("type")
        data = body.get("data") or {}
        message = self._respond(interaction, kind, data, request.files)
        interaction.responses.append(body)
        interaction.response_type = kind
        if request.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        answer: dict[str, Any] = {
            "interaction": {
                "id": interaction.id,
                "type": interaction.type,
                "response_message_loading": kind == payloads.DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(message and message.ephemeral),
            },
            "resource": {"type": kind},
        }
        if message is not None:
            answer["interaction"]["response_message_id"] = message.id
            answer["resource"]["message"] = message.payload()
        return 200, answer

    def _respond(
        self, interaction: FakeInteraction, kind: Any, data: dict[str, Any], files: list[Any]
    ) -> FakeMessage | None:
        """Apply one callback body; the message it shows (None for 6, 8 and 9)."""
        clicked = self.find_message(interaction.message_id) if interaction.message_id else None
        if kind in (payloads.CHANNEL_MESSAGE, payloads.UPDATE_MESSAGE):
            check_form({"data": errors} if (errors := message_errors(data)) else {})
        if kind == payloads.AUTOCOMPLETE_RESULT:
            if interaction.type != payloads.AUTOCOMPLETE:
                raise DiscordError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {"type": invalid("Not an autocomplete interaction")},
                )
            check_form({"data": errors} if (errors := choices_errors(data)) else {})
            interaction.choices = list(data["choices"])
            return None
        if kind in (payloads.DEFERRED_UPDATE, payloads.UPDATE_MESSAGE):
            if clicked is None:
                raise DiscordError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {"type": invalid("Only for component interactions")},
                )
            interaction.original_message_id = clicked.id
            if kind == payloads.UPDATE_MESSAGE:
                clicked.edit(data, files)
                self.echo("MESSAGE_UPDATE", clicked)
                return clicked
            return None
        if kind in (payloads.CHANNEL_MESSAGE, payloads.DEFERRED_MESSAGE):
            flags = int(data.get("flags") or 0) & payloads.EPHEMERAL
            body = data if kind == payloads.CHANNEL_MESSAGE else {"content": ""}
            message = self.new_message(
                interaction.channel_id,
                {
                    **body,
                    "flags": flags | (payloads.LOADING if kind == payloads.DEFERRED_MESSAGE else 0),
                },
                interaction_id=interaction.id,
                interaction_user=interaction.person,
                webhook=True,
                files=files,
            )
            interaction.original_message_id = message.id
            return message
        if kind == payloads.MODAL:
            return None
        raise DiscordError(
            400,
            50035,
            "Invalid Form Body",
            {"type": invalid(f"Value {kind!r} is not a valid response type")},
        )

    # -- the interaction's webhook ----------------------------------------------------------

    def _hooked(self, request: RestRequest) -> FakeInteraction:
        if request.params["app"] != payloads.APP_ID:
            raise DiscordError(404, 10015, "Unknown Webhook")
        interaction = self._by_token.get(request.params["token"])
        if interaction is None or interaction.expired(self.token_ttl_s):
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        return interaction

    def _hooked_message(self, request: RestRequest, message_id: str | None = None) -> FakeMessage:
        interaction = self._hooked(request)
        wanted = message_id or request.params.get("message_id")
        if wanted is None:
            wanted = interaction.original_message_id
        message = self.find_message(wanted) if wanted else None
        mine = message is not None and (
            message.interaction_id == interaction.id
            or message.id == interaction.original_message_id
        )
        if message is None or message.deleted or not mine:
            raise unknown_message()
        return message

    async def _get_hooked(self, request: RestRequest) -> Answer:
        return 200, self._hooked_message(request).payload()

    async def _edit_hooked(self, request: RestRequest) -> Answer:
        return self.edit(self._hooked_message(request), request)

    async def _delete_hooked(self, request: RestRequest) -> Answer:
        return self.delete(self._hooked_message(request))

    async def _follow_up(self, request: RestRequest) -> Answer:
        interaction = self._hooked(request)
        if not interaction.acknowledged:
            raise DiscordError(404, 10015, "Unknown Webhook")
        body = request.json if isinstance(request.json, dict) else {}
        check_form(message_errors(body))
        original = self.find_message(interaction.original_message_id or "")
        if original is not None and original.loading and not original.deleted:
            # Discord's rule: the first follow-up after a deferral replaces the "thinking"
            # message, keeping the deferral's ephemeral state.
            original.edit({k: v for k, v in body.items() if k != "flags"}, request.files)
            self.echo("MESSAGE_UPDATE", original)
            return 200, original.payload()
        flags = int(body.get("flags") or 0) & (payloads.EPHEMERAL | 4096)
        message = self.new_message(
            interaction.channel_id,
            {**body, "flags": flags},
            interaction_id=interaction.id,
            interaction_user=interaction.person,
            webhook=True,
            files=request.files,
        )
        return 200, message.payload()
