"""A bridge from a model's synchronous chunk iterator, in a thread, to async callers.

llama.cpp generates in C and the provider SDKs' sync clients block, so each attempt runs in
a worker thread and hands chunks to the event loop through a queue. The workers are daemon
threads of our own (not the loop's default executor) on purpose: ``asyncio.run`` waits for
executor threads at exit, and a timed-out call must never hold the process. Idle workers are
reused, because starting a thread costs about a millisecond here, a fifth of the registry's
whole per-call budget.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_ITEM, _ERROR, _DONE = 0, 1, 2


class _Workers:
    """Daemon threads that run jobs; a new one starts only when none is idle."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            start_one = self._idle == 0
            if not start_one:
                self._idle -= 1
        self._jobs.put(job)
        if start_one:
            threading.Thread(target=self._work, name="logomesh-llm-call", daemon=True).start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            job()
            with self._lock:
                self._idle += 1


# Threads are a process resource, like the interpreter's own executor: one set serves all.
_WORKERS = _Workers()


async def iterate_in_thread(
    produce: Callable[[], Iterator[T]],
    cancel: threading.Event,
    *,
    timeout_s: float,
    on_timeout: Callable[[], BaseException],
) -> AsyncGenerator[T, None]:
    """Yield what ``produce()`` yields, waiting at most ``timeout_s`` in all for the model.

    Time the consumer spends between items does not count; on timeout, cancellation or an
    early exit of the consumer, ``cancel`` is set so the producer stops at its next chunk.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()

    def send(kind: int, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:
            cancel.set()  # the loop is gone: nobody is listening any more

    def pump() -> None:
        try:
            iterator = produce()
            try:
                for item in iterator:
                    if cancel.is_set():
                        break
                    send(_ITEM, item)
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:
            send(_ERROR, exc)
        else:
            send(_DONE, None)

    _WORKERS.submit(pump)
    deadline = loop.time() + timeout_s
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise on_timeout()
            try:
                kind, value = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                raise on_timeout() from None
            if kind == _ITEM:
                started = loop.time()
                yield value
                deadline += loop.time() - started  # the consumer's time is not the model's
            elif kind == _ERROR:
                raise value
            else:
                return
    finally:
        cancel.set()
