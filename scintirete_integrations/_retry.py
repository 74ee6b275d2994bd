"""When a failed call is tried again, and after how long.

:class:`RetryPolicy` decides; it never sleeps. The clients' ``_call`` loops
sleep with ``time.sleep`` or ``asyncio.sleep`` between the delays it yields.

Only calls that are safe to repeat are retried. The server assigns ids, so an
``InsertVectors`` or ``EmbedAndInsert`` that may have reached the server is
never sent again: repeating it would store the vectors twice. Those two are
retried only when the failure proves the request was not applied: the
connection could not be opened at all (UNAVAILABLE "failed to connect"), or
the server refused it up front (RESOURCE_EXHAUSTED, its rate limiter).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc

from .errors import RequestTooLargeError, ScintireteError

__all__ = ["NON_IDEMPOTENT_RPCS", "RetryPolicy"]

#: RPCs whose repetition would change the result (the server assigns new ids each time).
NON_IDEMPOTENT_RPCS = frozenset({"InsertVectors", "EmbedAndInsert"})

_NOT_SENT_MARKERS = ("failed to connect", "connection refused", "dns resolution failed", "name resolution")


def _request_not_applied(exc: ScintireteError) -> bool:
    details = exc.details.lower()
    if exc.code == grpc.StatusCode.UNAVAILABLE:
        return any(marker in details for marker in _NOT_SENT_MARKERS)
    return exc.code == grpc.StatusCode.RESOURCE_EXHAUSTED  # the rate limiter refused it up front


def _too_large(exc: ScintireteError) -> bool:
    """A message-size refusal: it will not pass next time either, whatever the RPC."""
    return isinstance(exc, RequestTooLargeError) or (
        exc.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in exc.details.lower()
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter on UNAVAILABLE and RESOURCE_EXHAUSTED.

    >>> policy = RetryPolicy(max_attempts=4, initial_backoff=0.1, jitter=0.0)
    >>> list(policy.delays())
    [0.1, 0.2, 0.4]

    ``max_attempts`` counts the first try; ``max_elapsed`` bounds the time spent
    on one call with its retries when the call itself has no deadline (a call's
    timeout always bounds the whole call, retries included). Use
    :meth:`disabled` to send every request exactly once.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 3.0
    multiplier: float = 2.0
    jitter: float = 0.2
    max_elapsed: float | None = 30.0
    retry_codes: frozenset[grpc.StatusCode] = field(
        default=frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoff values must be >= 0 and multiplier >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter is a fraction between 0 and 1, got {self.jitter}")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def delays(self) -> Iterator[float]:
        """The pauses before the second, third, ... attempt (``max_attempts - 1`` of them)."""
        delay = self.initial_backoff
        for _ in range(self.max_attempts - 1):
            spread = delay * self.jitter
            yield max(0.0, delay + random.uniform(-spread, spread))
            delay = min(self.max_backoff, delay * self.multiplier)

    def should_retry(self, rpc: str, exc: ScintireteError) -> bool:
        """Whether a call of ``rpc`` that failed with ``exc`` may be sent again."""
        if exc.code not in self.retry_codes or _too_large(exc):
            return False
        if rpc in NON_IDEMPOTENT_RPCS:
            return _request_not_applied(exc)
        return True
