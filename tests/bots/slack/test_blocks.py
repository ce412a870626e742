"""The rendering model in Block Kit: escaping, layout, and Slack's limits for any reply.

Real parts: ``bots.slack.blocks`` and ``bots.chat.fitting`` as the bot runs them; the
limits are checked with the loopback Slack's own ``invalid_blocks`` check (what the fake
refuses, Slack refuses), since Slack cannot be reached from here.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bots.chat.fitting import monospaced
from bots.chat.render import (
    Block,
    Button,
    Buttons,
    ButtonStyle,
    Code,
    Context,
    Fields,
    Reply,
    Table,
    Text,
)
from bots.slack.blocks import SECTION_CHARS, escape, to_slack
from tests.bots.slack.fake_workspace import check_blocks


def test_markup_in_text_is_escaped_but_a_mention_is_kept() -> None:
    assert escape("<@U0ALICE> ran <!channel> & <http://x|y>") == (
        "<@U0ALICE> ran &lt;!channel&gt; &amp; &lt;http://x|y&gt;"
    )


def test_each_kind_of_block_has_its_block_kit_shape() -> None:
    reply = Reply(
        (
            Text("*done*"),
            Code("a < b\n"),
            Table(("name", "risk"), (("git.status", "read"), ("git.push", "danger"))),
            Fields((("Command", "git.push"), ("Risk", "danger"))),
            Buttons(
                (
                    Button("Approve", "logomesh.approve", "T1", ButtonStyle.PRIMARY),
                    Button("Later", "logomesh.later", "T1"),
                )
            ),
            Context("asked by <@U0ALICE>"),
        ),
        "done",
    )
    message = to_slack(reply)
    assert [block["type"] for block in message.blocks] == [
        "section", "rich_text", "rich_text", "section", "actions", "context",
    ]  # fmt: skip
    code = message.blocks[1]["elements"][0]["elements"][0]["text"]
    assert code == "a < b\n"  # preformatted: shown as it is, not escaped or read as markup
    assert message.blocks[3]["fields"][0]["text"] == "*Command*\ngit.push"
    approve, later = message.blocks[4]["elements"]
    assert approve["style"] == "primary" and approve["value"] == "T1"
    assert "style" not in later
    assert message.blocks[5]["elements"][0]["text"] == "asked by <@U0ALICE>"
    assert message.text == "done"


def test_a_table_is_aligned_under_a_rule() -> None:
    table = Table(("time", "actor"), (("12:00", "alice"), ("12:01", "bob\nsmith")))
    assert monospaced(table).splitlines() == [
        "time   actor",
        "-----  ---------",
        "12:00  alice",
        "12:01  bob smith",
    ]
    assert monospaced(Table(("a",), ())).splitlines()[-1] == "(none)"


def test_text_that_escaping_lengthens_is_split_not_cut() -> None:
    text = "<>" * 1400  # 2,800 characters fit; escaped they are 11,200
    message = to_slack(Reply((Text(text),), "x"))
    sections = [block["text"]["text"] for block in message.blocks]
    assert len(sections) > 1 and all(len(part) <= SECTION_CHARS for part in sections)
    assert "".join(sections) == escape(text)
    assert message.attachments == ()


def test_splitting_never_outgrows_fifty_blocks_and_loses_nothing() -> None:
    texts = [f"{n:02d}" + "<>" * 1399 for n in range(45)]  # 2,800 each, fitted already
    message = to_slack(Reply(tuple(Text(text) for text in texts), "x"))
    check_blocks(message.blocks)
    assert len(message.blocks) <= 50
    assert "cut: the rest attached as more.txt" in message.blocks[-1]["text"]["text"]
    [attachment] = message.attachments
    shown = len(message.blocks) - 1  # each text escaped is four sections
    assert attachment.content == "\n\n".join(texts[shown // 4 :])


def test_long_output_is_cut_with_a_note_and_attached() -> None:
    output = "\n".join(f"line {n}" for n in range(2000))
    message = to_slack(Reply((Code(output),), "log"))
    shown = "".join(
        element["text"]
        for block in message.blocks
        for part in block["elements"]
        for element in part["elements"]
    )
    assert "cut" in shown and len(shown) < len(output)
    [attachment] = message.attachments
    assert attachment.content == output


_text = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=5000),
    st.text(alphabet="<>&\n x", max_size=3000),  # what escaping lengthens
)
_cell = st.text(max_size=120)
_block: st.SearchStrategy[Block] = st.one_of(
    st.builds(Text, _text),
    st.builds(Code, _text),
    st.builds(Context, _text),
    st.builds(
        Table,
        st.just(("a", "b", "c")),
        st.lists(st.tuples(_cell, _cell, _cell), max_size=60).map(tuple),
    ),
    st.builds(Fields, st.lists(st.tuples(_cell, _text), max_size=14).map(tuple)),
    st.builds(
        Buttons,
        st.lists(
            st.builds(Button, _cell, st.just("logomesh.approve"), _cell), min_size=1, max_size=8
        ).map(tuple),
    ),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_block, max_size=70), _text)
def test_any_reply_passes_slacks_block_limits(blocks: list[Block], fallback: str) -> None:
    """Whatever the neutral bot says, Slack accepts the message."""
    message = to_slack(Reply(tuple(blocks), fallback))
    check_blocks(message.blocks)  # raises SlackError as Slack would answer invalid_blocks
    assert len(message.blocks) <= 50
    assert len(message.text) <= SECTION_CHARS
    for block in message.blocks:
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= SECTION_CHARS
            assert len(block.get("fields", [])) <= 10
        if block["type"] == "actions":
            assert 0 < len(block["elements"]) <= 25
