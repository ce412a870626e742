"""Autocomplete choices (bots.chat.complete) from a real engine on a real SQLite file.

Real parts: the engine with its registry, policy and pipeline catalogue, built from the
chat tests' configuration (alice admin, bob developer, vera viewer, a stranger unmapped).
No chat platform is involved: these are the lists any adapter shows while a person types.
"""

from __future__ import annotations

from bots.chat.complete import (
    MAX_CHARS,
    MAX_CHOICES,
    argument_choices,
    command_choices,
    pipeline_choices,
)
from logomesh.engine import Engine
from tests.bots.chat.conftest import ALICE, BOB, STRANGER, VERA


def values(choices: list) -> list[str]:  # type: ignore[type-arg]
    return [choice.value for choice in choices]


def test_commands_offered_are_only_those_the_person_may_run(chat_engine: Engine) -> None:
    admin = values(command_choices(chat_engine, ALICE, "test."))
    viewer = values(command_choices(chat_engine, VERA, "test."))
    assert "test.guarded" in admin
    assert "test.progress" in viewer
    assert "test.guarded" not in viewer  # a danger command the viewer's roles do not allow
    assert command_choices(chat_engine, STRANGER, "") == []  # unmapped: nothing to run


def test_names_starting_with_what_was_typed_come_first(chat_engine: Engine) -> None:
    found = values(command_choices(chat_engine, ALICE, "long"))
    assert "test.long" in found  # a name containing the words is offered too
    starting = values(command_choices(chat_engine, ALICE, "test.l"))
    assert starting[0] == "test.long"


def test_every_list_respects_the_platform_limits(chat_engine: Engine) -> None:
    choices = command_choices(chat_engine, ALICE, "")
    assert 0 < len(choices) <= MAX_CHOICES
    assert all(len(c.label) <= MAX_CHARS and len(c.value) <= MAX_CHARS for c in choices)
    labelled = {c.value: c.label for c in choices}
    if "status" in labelled:
        assert labelled["status"].startswith("status — ")  # the summary beside the name


def test_argument_keys_not_yet_assigned_follow_what_was_typed(chat_engine: Engine) -> None:
    first = values(argument_choices(chat_engine, BOB, "test.progress", ""))
    assert first == ["count=", "pause_s="]
    after = values(argument_choices(chat_engine, BOB, "test.progress", "count=2 "))
    assert after == ["count=2 pause_s="]
    partial = values(argument_choices(chat_engine, BOB, "test.progress", "count=2 pa"))
    assert partial == ["count=2 pause_s="]
    label = argument_choices(chat_engine, BOB, "test.progress", "")[0].label
    assert "integer" in label and "default 3" in label


def test_no_keys_while_a_value_is_typed_or_for_a_command_not_allowed(chat_engine: Engine) -> None:
    assert argument_choices(chat_engine, BOB, "test.progress", "count=") == []
    assert argument_choices(chat_engine, VERA, "test.guarded", "") == []
    assert argument_choices(chat_engine, ALICE, "no.such.command", "") == []


def test_pipelines_offered_to_who_may_run_them(chat_engine: Engine) -> None:
    assert values(pipeline_choices(chat_engine, BOB, "two")) == ["twostep"]
    assert set(values(pipeline_choices(chat_engine, BOB, ""))) >= {"twostep", "guardedrun"}
    assert pipeline_choices(chat_engine, VERA, "") == []  # viewers may not run pipelines
    inputs = values(argument_choices(chat_engine, BOB, "pipeline.twostep", ""))
    assert inputs == ["count="]
