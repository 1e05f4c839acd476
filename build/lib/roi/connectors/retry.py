"""The one retry policy: which errors are tried again, how long to wait, when to give up.

Connectors raise TransientError for what may work on a second try (a timeout, a dropped
connection, HTTP 429/5xx), with the wait the server asked for (`Retry-After`) when it
said one. `RetryPolicy.call` runs an operation under a tenacity `Retrying`: it waits
what the server asked, else backs off exponentially (capped); it fails at once when the
server asks for more than `max_retry_after`; after `attempts` tries it gives up with
one TransientError saying so. Every error is retried at exactly one level: an HTTP
source per request (the policy is attached to its client's session), any other source
per batch read (services.batches); a failed pull is tried again at the next run.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from ..errors import TransientError

log = logging.getLogger("roi.connectors")

T = TypeVar("T")


def _too_long(error: BaseException, limit: float) -> bool:
    wait = getattr(error, "retry_after", None)
    return wait is not None and wait > limit


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 1  # tries in all: 1 is no retry
    backoff: float = 1.0  # first wait; doubles each time
    max_backoff: float = 60.0
    max_retry_after: float = math.inf  # a longer Retry-After fails the operation now
    sleep: Callable[[float], None] = time.sleep

    def call(self, operation: Callable[[], T], *, where: str = "", redact: Callable[[object], str] = str) -> T:
        """`operation()`, tried again on TransientError as the policy says; the last error raised."""
        exponential = wait_exponential(multiplier=self.backoff, max=self.max_backoff)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            asked = getattr(error, "retry_after", None)
            return asked if asked is not None else exponential(state)

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            log.warning("%stransient error, attempt %d of %d, retrying in %.1fs: %s", f"{where}: " if where else "",
                        state.attempt_number, self.attempts, delay, redact(error))

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait,
            retry=retry_if_exception(
                lambda exc: isinstance(exc, TransientError) and not _too_long(exc, self.max_retry_after)
            ),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        tries = 0

        def counted() -> Any:
            nonlocal tries
            tries += 1
            return operation()

        try:
            return retrying(counted)
        except TransientError as exc:
            if _too_long(exc, self.max_retry_after):
                raise TransientError(redact(
                    f"{exc}: the server asks to wait {exc.retry_after:.0f}s, more than "
                    f"max_retry_after_seconds ({self.max_retry_after:.0f}s); the next run tries again"
                )) from None
            if tries > 1:
                raise TransientError(redact(f"{exc} (gave up after {tries} attempts)")) from None
            raise
