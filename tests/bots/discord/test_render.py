"""Replies drawn as Discord messages (bots.discord.render), checked against Discord's limits.

Real parts: the neutral rendering model and its fitting, discord.py's own ``Embed``,
``ui.View`` and ``File`` objects, serialised as discord.py would send them. No Discord is
involved: what goes over the wire is checked in the tests against the loopback Discord.
"""

from __future__ import annotations

from bots.chat.approvals import TicketCard, card
from bots.chat.render import Attachment, Code, Context, Fields, Reply, Table, Text
from bots.discord.render import CONTENT_CHARS, bold, fence, to_discord

TICKET = TicketCard("t-1234", "test.guarded", "danger", "alice", {"note": "x"}, "12:00", True)


def test_an_approval_card_has_fields_in_an_embed_and_persistent_buttons() -> None:
    message = to_discord(card(TICKET))
    assert message.content.startswith("🔐 **Approval needed**: `test.guarded`")
    assert "-# Two-person rule: someone other than alice must approve." in message.content
    (embed,) = message.embeds
    assert [(f.name, f.value) for f in embed.fields][:2] == [
        ("Command", "`test.guarded`"),
        ("Risk", "danger"),
    ]
    view = message.view()
    assert view is not None and view.is_persistent()  # survives a restart: no timeout
    (row,) = view.to_components()
    buttons = [(b["label"], b["custom_id"], b["style"]) for b in row["components"]]
    assert buttons == [
        ("Approve", "logomesh.approve:t-1234", 3),  # success (green)
        ("Decline", "logomesh.decline:t-1234", 4),  # danger (red)
    ]


def test_a_fence_inside_code_cannot_close_it() -> None:
    drawn = fence("before\n```\nrm -rf /\n````", "diff")
    assert drawn.startswith("```diff\n") and drawn.endswith("\n```")
    assert drawn.count("```") == 2  # the opening and the closing one only
    assert "rm -rf /" in drawn
    assert fence("x", "not a language!").startswith("```\n")


def test_bold_of_the_neutral_subset_becomes_discords() -> None:
    assert bold("*Approval needed*: go") == "**Approval needed**: go"
    assert bold("2 * 3 * 4") == "2 * 3 * 4"
    assert bold("**already**") == "**already**"


def test_long_output_is_cut_within_the_content_limit_and_attached_whole() -> None:
    output = "\n".join(f"line {n:05d} of the build log" for n in range(400))
    message = to_discord(Reply((Text("✅ *Done*"), Code(output)), "done"))
    assert len(message.content) <= CONTENT_CHARS
    assert "line 00000" in message.content and "attached as output.txt" in message.content
    (attachment,) = message.attachments
    assert attachment.filename == "output.txt" and attachment.content == output
    first, second = message.files(), message.files()
    assert first[0] is not second[0]  # a File is consumed by one send: built anew each time
    assert first[0].fp.read() == output.encode()


def test_parts_that_do_not_fit_together_go_whole_into_one_more_file() -> None:
    paragraphs = tuple(Text(f"paragraph {n}: " + "words " * 250) for n in range(3))
    message = to_discord(Reply(paragraphs, "three long paragraphs"))
    assert len(message.content) <= CONTENT_CHARS
    assert "paragraph 0" in message.content
    (more,) = message.attachments
    assert more.filename == "more.txt"
    assert "paragraph 2" in more.content and "paragraph 2" not in message.content
    assert "attached as more.txt" in message.content


def test_tables_are_monospaced_and_context_is_subtext() -> None:
    table = Table(("command", "outcome"), (("git.status", "ok"), ("test.fail", "error")))
    message = to_discord(Reply((table, Context("asked by <@42>\nin 0.1 s")), "records"))
    lines = message.content.splitlines()
    assert lines[0] == "```" and lines[1].startswith("command     outcome")
    assert "-# asked by <@42>" in lines and "-# in 0.1 s" in lines


def test_an_empty_reply_still_says_something_and_files_keep_their_names() -> None:
    message = to_discord(Reply((), "nothing to show", (Attachment("log.txt", "x"),)))
    assert message.content == "nothing to show"
    assert [file.filename for file in message.files()] == ["log.txt"]


def test_empty_field_values_are_shown_not_refused() -> None:
    (embed,) = to_discord(Reply((Fields((("Arguments", ""),)),), "f")).embeds
    assert embed.fields[0].value  # Discord refuses an empty field value
