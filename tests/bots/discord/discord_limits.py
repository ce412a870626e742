"""The limits Discord checks before it accepts a message, and its "Invalid Form Body" answer.

A bot that renders a long result into one embed, or twelve buttons into a row, works against
a lenient fake and fails in production with ``400 Invalid Form Body (50035)``. So the loopback
Discord refuses what Discord refuses, naming the field the way Discord does: an ``errors``
object that mirrors the body's shape down to the offending value, each leaf an ``_errors``
list (``{"embeds": {"0": {"description": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
"message": "Must be 4096 or fewer in length."}]}}}}``); discord.py shows that path in the
``HTTPException``'s text (``In embeds.0.description: Must be 4096 or fewer in length.``).
"""

from __future__ import annotations

from typing import Any

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR_NAME = 256
MAX_EMBED_TOTAL = 6000
MAX_ACTION_ROWS = 5
MAX_ROW_COMPONENTS = 5
MAX_CUSTOM_ID = 100
MAX_LABEL = 80
MAX_CHOICES = 25
MAX_CHOICE_TEXT = 100

Errors = dict[str, Any]


def _too_long(limit: int) -> Errors:
    return {
        "_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}
        ]
    }


def _check_length(errors: Errors, key: str, value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        errors[key] = _too_long(limit)


def message_errors(body: dict[str, Any]) -> Errors:
    """What Discord would refuse in a message body (create, edit, follow-up): {} if nothing."""
    errors: Errors = {}
    _check_length(errors, "content", body.get("content"), MAX_CONTENT)
    embeds = body.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        errors["embeds"] = _too_long(MAX_EMBEDS)
    else:
        embed_errors = {str(i): e for i, embed in enumerate(embeds) if (e := _embed_errors(embed))}
        total = sum(_embed_text_length(embed) for embed in embeds)
        if embed_errors:
            errors["embeds"] = embed_errors
        elif total > MAX_EMBED_TOTAL:
            errors["embeds"] = {
                "_errors": [
                    {
                        "code": "MAX_EMBED_SIZE_EXCEEDED",
                        "message": f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}",
                    }
                ]
            }
    rows = body.get("components") or []
    if len(rows) > MAX_ACTION_ROWS:
        errors["components"] = _too_long(MAX_ACTION_ROWS)
    else:
        row_errors = {str(i): e for i, row in enumerate(rows) if (e := _row_errors(row))}
        if row_errors:
            errors["components"] = row_errors
    return errors


def choices_errors(body: dict[str, Any]) -> Errors:
    """What Discord would refuse in an autocomplete result's ``data``."""
    choices = body.get("choices")
    if not isinstance(choices, list):
        return {
            "choices": {
                "_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]
            }
        }
    if len(choices) > MAX_CHOICES:
        return {"choices": _too_long(MAX_CHOICES)}
    found = _each(choices, {"name": MAX_CHOICE_TEXT, "value": MAX_CHOICE_TEXT})
    return {"choices": found} if found else {}


def _each(items: list[dict[str, Any]], limits: dict[str, int]) -> Errors:
    """Errors by index for ``items`` whose named string fields pass their limits."""
    found: Errors = {}
    for index, item in enumerate(items):
        one: Errors = {}
        for key, limit in limits.items():
            _check_length(one, key, item.get(key), limit)
        if one:
            found[str(index)] = one
    return found


def invalid_form_body(errors: Errors) -> dict[str, Any]:
    return {"message": "Invalid Form Body", "code": 50035, "errors": errors}


def _embed_errors(embed: dict[str, Any]) -> Errors:
    errors: Errors = {}
    _check_length(errors, "title", embed.get("title"), MAX_EMBED_TITLE)
    _check_length(errors, "description", embed.get("description"), MAX_EMBED_DESCRIPTION)
    footer = embed.get("footer") or {}
    if isinstance(footer.get("text"), str) and len(footer["text"]) > MAX_FOOTER:
        errors["footer"] = {"text": _too_long(MAX_FOOTER)}
    author = embed.get("author") or {}
    if isinstance(author.get("name"), str) and len(author["name"]) > MAX_AUTHOR_NAME:
        errors["author"] = {"name": _too_long(MAX_AUTHOR_NAME)}
    fields = embed.get("fields") or []
    if len(fields) > MAX_EMBED_FIELDS:
        errors["fields"] = _too_long(MAX_EMBED_FIELDS)
    elif field_errors := _each(fields, {"name": MAX_FIELD_NAME, "value": MAX_FIELD_VALUE}):
        errors["fields"] = field_errors
    return errors


def _embed_text_length(embed: dict[str, Any]) -> int:
    parts = [embed.get("title"), embed.get("description")]
    parts.append((embed.get("footer") or {}).get("text"))
    parts.append((embed.get("author") or {}).get("name"))
    for field in embed.get("fields") or []:
        parts.extend([field.get("name"), field.get("value")])
    return sum(len(part) for part in parts if isinstance(part, str))


def _row_errors(row: dict[str, Any]) -> Errors:
    components = row.get("components") or []
    if len(components) > MAX_ROW_COMPONENTS:
        return {"components": _too_long(MAX_ROW_COMPONENTS)}
    found = _each(components, {"custom_id": MAX_CUSTOM_ID, "label": MAX_LABEL})
    return {"components": found} if found else {}
