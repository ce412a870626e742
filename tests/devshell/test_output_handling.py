"""The pieces between a child's bytes and what a person sees: the head/tail buffer, the
batched progress feed, and the test-summary readers (on output the runners really print)."""

from __future__ import annotations

import asyncio

import pytest

from logomesh.devshell.capture import HeadTailBuffer, OutputLimits, complete_head
from logomesh.devshell.progress import ProgressFeed
from logomesh.devshell.summaries import TestSummary, parse_summary


def test_head_and_tail_are_kept_exactly_and_the_middle_counted() -> None:
    buffer = HeadTailBuffer(OutputLimits(head_bytes=4, tail_bytes=3))
    for chunk in (b"ab", b"cdef", b"ghij", b"k"):
        buffer.write(chunk)
    assert (buffer.total, buffer.cut) == (11, 4)
    assert buffer.text() == "abcd\n[... 4 bytes cut ...]\nijk"
    small = HeadTailBuffer(OutputLimits(head_bytes=4, tail_bytes=3))
    small.write(b"abcdefg")
    assert small.text() == "abcdefg" and small.cut == 0


def test_complete_head_drops_the_record_the_cut_went_through() -> None:
    buffer = HeadTailBuffer(OutputLimits(head_bytes=10, tail_bytes=4))
    buffer.write(b"one\0two\0three\0four\0five\0")
    assert complete_head(buffer.text(), "\0").split("\0") == ["one", "two", ""]
    assert complete_head("a\0b\0", "\0") == "a\0b\0"


def test_progress_batches_lines_and_counts_what_it_skips() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    async def scenario() -> None:
        feed = ProgressFeed(send, interval_s=3600, max_lines=3)
        feed.feed(b"one\ntw")
        feed.feed(b"o\nthree\n")
        await feed.flush()
        feed.feed(b"".join(b"line %d\n" % n for n in range(1000)) + b"tail without newline")
        await feed.flush(final=True)
        await feed.flush(final=True)  # nothing pending: nothing sent

    asyncio.run(scenario())
    assert sent == [
        "one\ntwo\nthree",
        "[... 998 lines not shown ...]\nline 998\nline 999\ntail without newline",
    ]


PYTEST_OUTPUT = "collected 9 items\n\n==== 2 failed, 5 passed, 1 skipped, 1 error in 0.31s ====\n"
GO_OUTPUT = """\
=== RUN   TestAdd
--- PASS: TestAdd (0.00s)
=== RUN   TestSub
--- FAIL: TestSub (0.00s)
    --- SKIP: TestSub/negative (0.00s)
FAIL\texample.com/calc\t0.002s
FAIL\texample.com/broken [build failed]
"""
JEST_OUTPUT = "Tests:       1 failed, 2 skipped, 4 passed, 7 total\nTime: 1.2 s\n"
VITEST_OUTPUT = " Test Files  1 failed (1)\n      Tests  1 failed | 3 passed (4)\n"
MOCHA_OUTPUT = "  3 passing (12ms)\n  1 pending\n  2 failing\n"
CARGO_OUTPUT = (
    "test result: FAILED. 3 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out\n"
    "test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n"
)


@pytest.mark.parametrize(
    ("runner", "output", "expected"),
    [
        ("pytest", PYTEST_OUTPUT, TestSummary(passed=5, failed=2, skipped=1, errors=1)),
        ("pytest", "==== no tests ran in 0.01s ====", TestSummary()),
        ("go", GO_OUTPUT, TestSummary(passed=1, failed=1, skipped=1, errors=1)),
        ("npm", JEST_OUTPUT, TestSummary(passed=4, failed=1, skipped=2)),
        ("npm", VITEST_OUTPUT, TestSummary(passed=3, failed=1)),
        ("npm", MOCHA_OUTPUT, TestSummary(passed=3, failed=2, skipped=1)),
        ("cargo", CARGO_OUTPUT, TestSummary(passed=7, failed=1, skipped=2)),
        ("pytest", "nothing recognisable", None),
    ],
)
def test_summaries_are_read_from_each_runner(
    runner: str, output: str, expected: TestSummary | None
) -> None:
    assert parse_summary(runner, output) == expected
