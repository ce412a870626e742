"""Discord's message limits as the loopback Discord checks them (pure functions; no client).

Real: the limit checks of :mod:`tests.bots.discord.discord_limits`, on bodies shaped as
discord.py sends them. Discord itself is replaced by the loopback fake these checks serve.
"""

from __future__ import annotations

from tests.bots.discord.discord_limits import choices_errors, message_errors


def test_a_body_within_every_limit_has_no_errors() -> None:
    body = {
        "content": "x" * 2000,
        "embeds": [
            {"title": "t", "description": "d" * 4096, "fields": [{"name": "n", "value": "v"}]}
        ],
        "components": [
            {"type": 1, "components": [{"type": 2, "label": "ok", "custom_id": "c"}] * 5}
        ],
    }
    assert message_errors(body) == {}


def test_each_limit_names_its_field_as_discord_does() -> None:
    too_long = {
        "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 256 or fewer in length."}]
    }
    errors = message_errors({"embeds": [{}, {"title": "t" * 257}]})
    assert errors == {"embeds": {"1": {"title": too_long}}}
    assert (
        "0"
        in message_errors({"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]})["embeds"]
    )
    assert "embeds" in message_errors({"embeds": [{}] * 11})
    total = message_errors({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]})
    assert total["embeds"]["_errors"][0]["code"] == "MAX_EMBED_SIZE_EXCEEDED"
    rows = message_errors({"components": [{"type": 1, "components": [{"type": 2}] * 6}]})
    assert rows == {"components": {"0": {"components": rows["components"]["0"]["components"]}}}
    label = message_errors({"components": [{"components": [{"type": 2, "label": "l" * 81}]}]})
    assert "label" in label["components"]["0"]["components"]["0"]
    assert "components" in message_errors({"components": [{"components": []}] * 6})


def test_autocomplete_choices_are_limited_to_25_of_100_characters() -> None:
    assert choices_errors({"choices": [{"name": "a", "value": "a"}] * 25}) == {}
    assert "choices" in choices_errors({"choices": [{"name": "a", "value": "a"}] * 26})
    long_name = choices_errors({"choices": [{"name": "n" * 101, "value": "v"}]})
    assert "name" in long_name["choices"]["0"]
    assert "choices" in choices_errors({})
