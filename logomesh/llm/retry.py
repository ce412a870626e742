"""The retry policy, built on tenacity: which failures are retried, and how long to wait.

Retried: timeouts, connection errors, 5xx, and 429 (after the server's ``Retry-After`` when
it sends one, unless that is longer than ``max_retry_after_s``: then the fallbacks are
quicker). Never retried: other 4xx, malformed responses, and anything after part of an
answer was delivered (the registry only retries the opening of a stream).
"""

from __future__ import annotations

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from logomesh.errors import ModelCallError, RateLimitedError
from logomesh.llm.settings import RetrySettings


def should_retry(exc: BaseException, settings: RetrySettings) -> bool:
    if not isinstance(exc, ModelCallError) or not exc.retryable:
        return False
    if isinstance(exc, RateLimitedError) and exc.retry_after_s is not None:
        return exc.retry_after_s <= settings.max_retry_after_s
    return True


class _WaitHonouringRetryAfter:
    """Exponential backoff with full jitter, unless the server said how long to wait."""

    def __init__(self, settings: RetrySettings) -> None:
        self._backoff = wait_random_exponential(
            multiplier=settings.initial_delay_s, max=settings.max_delay_s
        )

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after_s is not None:
            return exc.retry_after_s
        return float(self._backoff(state))


def retrying(settings: RetrySettings) -> AsyncRetrying:
    return AsyncRetrying(
        stop=stop_after_attempt(settings.attempts),
        wait=_WaitHonouringRetryAfter(settings),
        retry=retry_if_exception(lambda exc: should_retry(exc, settings)),
        reraise=True,
    )
