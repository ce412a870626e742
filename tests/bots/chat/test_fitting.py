"""Fitting replies to a platform's limits: nothing exceeds them, and nothing is lost.

Property tests (hypothesis) over any reply of any size, against small limits so cuts are
common, and examples that show what a person sees where a cut happened.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.chat.fitting import Limits, block_text, fit
from bots.chat.render import (
    Attachment,
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

SMALL = Limits(
    text_chars=200,
    code_chars=150,
    fields=3,
    field_chars=130,
    table_rows=4,
    cell_chars=12,
    blocks=5,
    buttons=2,
    label_chars=8,
    fallback_chars=140,
)

words = st.text(max_size=400)
short = st.text(max_size=30)


@st.composite
def tables(draw: st.DrawFn) -> Table:
    width = draw(st.integers(1, 4))
    columns = tuple(draw(st.lists(short, min_size=width, max_size=width)))
    rows = draw(st.lists(st.lists(short, min_size=width, max_size=width), max_size=10))
    return Table(columns, tuple(tuple(row) for row in rows))


buttons = st.builds(
    Button, short, st.just("logomesh.approve"), short, st.sampled_from(list(ButtonStyle))
)
blocks: st.SearchStrategy[Block] = st.one_of(
    st.builds(Text, words),
    st.builds(Code, words, st.sampled_from([None, "diff", "json"])),
    st.builds(Context, words),
    tables(),
    st.builds(Fields, st.lists(st.tuples(short, words), max_size=6).map(tuple)),
    st.builds(Buttons, st.lists(buttons, max_size=4).map(tuple)),
)
replies = st.builds(
    Reply,
    st.lists(blocks, max_size=9).map(tuple),
    words,
    st.lists(st.builds(Attachment, st.just("output.txt"), words), max_size=1).map(tuple),
)


def _within(reply: Reply, limits: Limits) -> None:
    assert len(reply.blocks) <= limits.blocks
    assert len(reply.fallback) <= limits.fallback_chars
    for block in reply.blocks:
        if isinstance(block, Text | Context):
            assert len(block.text) <= limits.text_chars
        elif isinstance(block, Code):
            assert len(block.text) <= limits.code_chars
        elif isinstance(block, Table):
            assert len(block.rows) <= limits.table_rows
            assert all(len(cell) <= limits.cell_chars for row in block.rows for cell in row)
            assert all(len(row) == len(block.columns) for row in block.rows)
        elif isinstance(block, Fields):
            assert len(block.pairs) <= limits.fields
            assert all(
                len(label) + len(value) <= limits.field_chars for label, value in block.pairs
            )
        else:
            assert len(block.buttons) <= limits.buttons
            assert all(len(button.label) <= limits.label_chars for button in block.buttons)


@settings(max_examples=150, deadline=None)
@given(replies)
def test_nothing_exceeds_the_limits(reply: Reply) -> None:
    _within(fit(reply, SMALL), SMALL)


@settings(max_examples=150, deadline=None)
@given(replies)
def test_nothing_is_lost(reply: Reply) -> None:
    """Every content block's whole text is either still shown or in an attachment."""
    fitted = fit(reply, SMALL)
    shown = [block_text(block) for block in fitted.blocks]
    attached = [attachment.content for attachment in fitted.attachments]
    for block in reply.blocks:
        if isinstance(block, Buttons):
            continue  # actions, not content
        whole = block_text(block)
        assert whole in shown or any(whole in content for content in attached), whole
    assert fitted.attachments[: len(reply.attachments)] == reply.attachments
    names = [attachment.filename for attachment in fitted.attachments]
    assert len(names) == len(set(names))


@settings(max_examples=50, deadline=None)
@given(replies)
def test_a_reply_within_the_limits_is_left_alone(reply: Reply) -> None:
    once = fit(reply, SMALL)
    assert fit(once, SMALL) == once


def test_long_output_is_cut_visibly_and_attached_whole() -> None:
    output = "\n".join(f"line {n}" for n in range(100))
    reply = Reply((Text("done"), Code(output)), "done")
    fitted = fit(reply, SMALL)
    code = fitted.blocks[1]
    assert isinstance(code, Code)
    assert code.text.startswith("line 0\nline 1\n")
    assert code.text.endswith("… (cut: full output attached as output.txt)")
    assert fitted.attachments == (Attachment("output.txt", output, "output"),)


def test_a_long_table_keeps_its_first_rows_and_says_how_many_more() -> None:
    rows = tuple((f"r{n}", "x" * 30) for n in range(10))
    fitted = fit(Reply((Table(("id", "text"), rows),), "t"), SMALL)
    table = fitted.blocks[0]
    assert isinstance(table, Table)
    assert [row[0] for row in table.rows[:3]] == ["r0", "r1", "r2"]
    assert table.rows[-1][0].startswith("… 7 more")
    assert table.rows[0][1] == "x" * 11 + "…"
    assert fitted.attachments[0].filename == "table.tsv"
    assert fitted.attachments[0].content.splitlines()[0] == "id\ttext"


def test_too_many_blocks_end_with_a_note_naming_the_attachment() -> None:
    reply = Reply(tuple(Text(f"part {n}") for n in range(8)), "parts")
    fitted = fit(reply, SMALL)
    assert len(fitted.blocks) == 5
    last = fitted.blocks[-1]
    assert isinstance(last, Text) and "4 more part(s) attached as more.txt" in last.text
    assert fitted.attachments[0].content == "part 4\n\npart 5\n\npart 6\n\npart 7"


@pytest.mark.parametrize(
    ("field", "value"),
    [("text_chars", 10), ("fields", 0), ("blocks", 1), ("cell_chars", 1)],
)
def test_limits_too_small_to_hold_a_cut_note_are_refused(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"Limits.{field}"):
        Limits(**{field: value})
