"""A bridge from a model's synchronous chunk iterator, in a thread, to async callers.

llama.cpp generates in C and the provider SDKs' sync clients block, so each attempt runs in
its own daemon thread and hands chunks to the event loop through a queue. A dedicated thread
(not the loop's default executor) is used on purpose: ``asyncio.run`` waits for executor
threads at exit, and a timed-out call must never hold the process.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_ITEM, _ERROR, _DONE = 0, 1, 2


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

    threading.Thread(target=pump, name="logomesh-llm-call", daemon=True).start()
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
