from __future__ import annotations

import grpc
import pytest

from scintirete_integrations._retry import RetryPolicy
from scintirete_integrations.errors import error_for


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=6, initial_backoff=0.5, max_backoff=2.0, jitter=0.0)
    assert list(policy.delays()) == [0.5, 1.0, 2.0, 2.0, 2.0]


def test_jitter_stays_within_its_fraction() -> None:
    policy = RetryPolicy(max_attempts=50, initial_backoff=1.0, max_backoff=1.0, jitter=0.25)
    delays = list(policy.delays())
    assert len(delays) == 49
    assert all(0.75 <= d <= 1.25 for d in delays)
    assert len(set(delays)) > 1


def test_disabled_policy_has_no_delays() -> None:
    assert list(RetryPolicy.disabled().delays()) == []


@pytest.mark.parametrize("rpc", ["Search", "GetCollectionInfo", "DeleteVectors", "EmbedText"])
def test_idempotent_calls_retry_on_unavailable_and_rate_limits(rpc: str) -> None:
    policy = RetryPolicy()
    assert policy.should_retry(rpc, error_for(grpc.StatusCode.UNAVAILABLE, "Socket closed"))
    assert policy.should_retry(rpc, error_for(grpc.StatusCode.RESOURCE_EXHAUSTED, "rate limited"))
    assert not policy.should_retry(rpc, error_for(grpc.StatusCode.INVALID_ARGUMENT, "bad"))
    assert not policy.should_retry(rpc, error_for(grpc.StatusCode.INTERNAL, "bad"))


@pytest.mark.parametrize("rpc", ["InsertVectors", "EmbedAndInsert"])
def test_inserts_retry_only_when_the_request_was_not_applied(rpc: str) -> None:
    policy = RetryPolicy()
    refused = error_for(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses; Connection refused")
    dropped = error_for(grpc.StatusCode.UNAVAILABLE, "Socket closed")
    assert policy.should_retry(rpc, refused)
    assert not policy.should_retry(rpc, dropped)
    assert policy.should_retry(rpc, error_for(grpc.StatusCode.RESOURCE_EXHAUSTED, "rate limited"))
    too_big = error_for(grpc.StatusCode.RESOURCE_EXHAUSTED, "Received message larger than max (5 vs. 4)")
    assert not policy.should_retry(rpc, too_big)


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"initial_backoff": -1}, {"multiplier": 0.5}, {"jitter": 2.0}]
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
