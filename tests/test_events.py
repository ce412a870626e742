"""The event bus's loop model: events from any thread reach subscribers on the adapter's
loop, in the order they were published; a failing subscriber never stops delivery; with no
loop bound, one private loop of the bus's own delivers them, never a loop per event."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from dataclasses import dataclass

import pytest

from logomesh.events import Event, EventBus

THREADS, PER_THREAD = 8, 50


@dataclass(frozen=True, slots=True)
class Numbered(Event):
    n: int
    publisher: str = ""


@dataclass(frozen=True, slots=True)
class Other(Event):
    n: int


@dataclass(frozen=True)
class Seen:
    n: int
    thread: int
    loop: asyncio.AbstractEventLoop


def _publish_from_threads(bus: EventBus, threads: int = THREADS, each: int = PER_THREAD) -> None:
    """Several threads publish at once; the numbers are taken in publication order."""
    counter = itertools.count()
    order = threading.Lock()
    go = threading.Barrier(threads)

    def publisher(name: str) -> None:
        go.wait()
        for _ in range(each):
            with order:  # the number and the publish happen together: that is the order
                bus.publish_threadsafe(Numbered("", next(counter), name))

    workers = [threading.Thread(target=publisher, args=(f"t{i}",)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_events_from_many_threads_arrive_on_the_bound_loop_in_order() -> None:
    bus = EventBus()
    seen: list[Seen] = []
    total = THREADS * PER_THREAD

    async def main() -> None:
        loop = asyncio.get_running_loop()
        bus.bind(loop)
        all_in = asyncio.Event()

        async def subscriber(event: Numbered) -> None:
            if event.n % 7 == 0:
                await asyncio.sleep(0)  # an async subscriber that yields mid-stream
            seen.append(Seen(event.n, threading.get_ident(), asyncio.get_running_loop()))
            if len(seen) == total:
                all_in.set()

        bus.subscribe(Numbered, subscriber)
        await asyncio.to_thread(_publish_from_threads, bus)
        await asyncio.wait_for(all_in.wait(), 10)
        assert {s.loop for s in seen} == {loop}
        assert {s.thread for s in seen} == {threading.get_ident()}

    asyncio.run(main())
    assert [s.n for s in seen] == list(range(total))


def test_coroutine_and_thread_events_share_one_order_and_publish_waits_for_delivery() -> None:
    bus = EventBus()
    seen: list[tuple[str, int]] = []

    async def main() -> None:
        bus.bind(asyncio.get_running_loop())

        async def slow(event: Numbered) -> None:
            await asyncio.sleep(0.001)
            seen.append(("numbered", event.n))

        bus.subscribe(Numbered, slow)
        bus.subscribe(Other, lambda event: seen.append(("other", event.n)))
        for n in range(20):
            if n % 2:
                await asyncio.to_thread(bus.publish_threadsafe, Other("", n))
            else:
                await bus.publish(Numbered("", n))
                # Returned only once its (async, slow) subscriber had it.
                assert seen[-1] == ("numbered", n)
        await bus.publish(Numbered("", 20))

    asyncio.run(main())
    assert [n for _, n in seen] == list(range(21))


def test_a_failing_subscriber_never_breaks_delivery(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    good: list[int] = []

    def broken(event: Numbered) -> None:
        raise ValueError(f"broken on {event.n}")

    async def broken_async(event: Numbered) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("async subscriber failed")

    async def main() -> None:
        bus.bind(asyncio.get_running_loop())
        bus.subscribe(Numbered, broken)
        bus.subscribe(Numbered, broken_async)
        bus.subscribe(Numbered, lambda event: good.append(event.n))
        await asyncio.to_thread(_publish_from_threads, bus, 3, 10)
        await bus.publish(Numbered("", 30))  # delivered after everything queued before it

    with caplog.at_level(logging.ERROR, logger="logomesh.events"):
        asyncio.run(main())
    assert good == list(range(31))
    failures = [r for r in caplog.records if "event subscriber" in r.getMessage()]
    assert len(failures) == 2 * 31
    assert any("broken on 0" in str(r.exc_info[1]) for r in failures if r.exc_info)


def test_a_subscriber_that_publishes_is_not_waiting_on_itself() -> None:
    """Inside a subscriber, publish queues behind the current event (no deadlock)."""
    bus = EventBus()
    seen: list[str] = []

    async def relay(event: Numbered) -> None:
        seen.append(f"numbered {event.n}")
        await bus.publish(Other("", event.n))
        seen.append(f"relayed {event.n}")

    async def main() -> None:
        bus.bind(asyncio.get_running_loop())
        bus.subscribe(Numbered, relay)
        bus.subscribe(Other, lambda event: seen.append(f"other {event.n}"))
        await asyncio.wait_for(bus.publish(Numbered("", 1)), 5)
        await asyncio.wait_for(bus.publish(Numbered("", 2)), 5)

    asyncio.run(main())
    assert seen == ["numbered 1", "relayed 1", "other 1", "numbered 2", "relayed 2", "other 2"]


def test_without_a_bound_loop_one_private_loop_delivers_in_order() -> None:
    bus = EventBus()
    seen: list[Seen] = []
    names: set[str] = set()
    done = threading.Event()
    total = THREADS * PER_THREAD

    def subscriber(event: Numbered) -> None:
        seen.append(Seen(event.n, threading.get_ident(), asyncio.get_running_loop()))
        names.add(threading.current_thread().name)
        if len(seen) == total:
            done.set()

    bus.subscribe(Numbered, subscriber)
    try:
        _publish_from_threads(bus)
        assert done.wait(10)
    finally:
        bus.close()
    assert [s.n for s in seen] == list(range(total))
    # One loop, in one thread that is the bus's, not any publisher's or the test's.
    assert len({s.loop for s in seen}) == 1 and len({s.thread for s in seen}) == 1
    assert names == {"logomesh-events"}


def test_unbind_hands_what_is_queued_to_the_private_loop() -> None:
    """An adapter leaving (its loop idle, about to close) loses no event."""
    bus = EventBus()
    got: list[int] = []
    done = threading.Event()

    def subscriber(event: Numbered) -> None:
        got.append(event.n)
        if event.n == 4:
            done.set()

    bus.subscribe(Numbered, subscriber)
    with asyncio.Runner() as runner:
        bus.bind(runner.get_loop())
        for n in range(3):  # the loop is not running (an idle shell): they wait on it
            bus.publish_threadsafe(Numbered("", n))
        assert got == []
        bus.unbind()
    bus.publish_threadsafe(Numbered("", 3))
    bus.publish_threadsafe(Numbered("", 4))
    try:
        assert done.wait(5)
    finally:
        bus.close()
    assert got == [0, 1, 2, 3, 4]


def test_run_threadsafe_runs_on_the_bound_loop_else_the_private_one() -> None:
    bus = EventBus()

    async def where() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        bus.bind(loop)
        assert await asyncio.to_thread(bus.run_threadsafe, where()) is loop
        with pytest.raises(RuntimeError, match="on the loop it would wait for"):
            bus.run_threadsafe(where())
        bus.unbind()

    asyncio.run(main())
    try:
        first, second = bus.run_threadsafe(where()), bus.run_threadsafe(where())
        assert first is second and first.is_running()  # the bus's own, not one per call
    finally:
        bus.close()


def test_run_threadsafe_does_not_wait_for_an_idle_bound_loop() -> None:
    """The shell's loop runs only while a line runs: work a plugin asks for meanwhile runs
    on the bus's own loop instead of waiting for the next line."""
    bus = EventBus()

    async def where() -> str:
        return threading.current_thread().name

    with asyncio.Runner() as runner:
        bus.bind(runner.get_loop())
        try:
            assert bus.run_threadsafe(where()) == "logomesh-events"
            result: list[str] = []

            async def line() -> None:  # while a line runs, its loop serves the request
                result.append(await asyncio.to_thread(bus.run_threadsafe, where()))

            runner.run(line())
            assert result == ["MainThread"]
        finally:
            bus.unbind()
            bus.close()
