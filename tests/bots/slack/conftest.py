"""Fixtures for the Slack tests: the loopback Slack (tests/bots/slack/fake_slack.py), and the
whole bot on it in HTTP mode (tests/bots/slack/harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.bots.slack.fake_slack import FakeSlack
from tests.bots.slack.harness import Load, SlackStack, slack_stack


@pytest_asyncio.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A loopback Slack on the test's own loop (for ``async`` tests)."""
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def fake_slack_thread() -> Iterator[FakeSlack]:
    """A loopback Slack on its own thread and loop: for sync tests, or when the code under
    test runs its own loop (``asyncio.run``, a subprocess); use ``fake.blocking(...)`` to
    wait or push from a sync test."""
    with FakeSlack.running() as fake:
        yield fake


@pytest_asyncio.fixture
async def stack(load: Load) -> AsyncIterator[SlackStack]:
    """The bot in HTTP mode on the loopback Slack, with team mode's rules (harness.py)."""
    async with slack_stack(load) as running:
        yield running
