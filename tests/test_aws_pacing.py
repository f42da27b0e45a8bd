"""Keeping to the request rates the services publish (`providers.aws.pacing`), with a clock
of its own: a burst passes at once, then requests are spaced at the rate, operations a limit
does not cover never wait, and the provider's clients of such services are paced."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Clock
from test_aws_provider import endpoint  # noqa: F401

from dpn_action.providers.aws import AwsProvider
from dpn_action.providers.aws.pacing import PUBLISHED, Pace, Rate


def _send(pace: Pace, operation: str, times: int = 1) -> None:
    for _ in range(times):
        pace(event_name=f"before-send.lambda.{operation}")


def test_a_burst_passes_then_requests_are_spaced_at_the_rate() -> None:
    clock = Clock(50.0)
    pace = Pace((Rate(15, 15),), clock, clock.sleep)
    _send(pace, "CreateFunction", 15)
    assert clock.slept == []
    _send(pace, "CreateFunction", 3)
    assert clock.slept == [pytest.approx(1 / 15)] * 3


def test_requests_waiting_together_queue_behind_each_other() -> None:
    """Threads that find the bucket empty at the same moment wait 1, 2, 3 ... tokens' time
    (each takes its own place in the queue before it sleeps)."""
    clock = Clock(50.0)
    slept: list[float] = []
    pace = Pace((Rate(5, 1),), clock, slept.append)  # the clock stands still meanwhile
    _send(pace, "CreateStream", 4)
    assert slept == [pytest.approx(0.2), pytest.approx(0.4), pytest.approx(0.6)]


def test_exempt_and_uncovered_operations_never_wait() -> None:
    clock = Clock(50.0)
    limits = (
        Rate(1, 1, exempt=frozenset({"GetFunction"})),
        Rate(1, 1, frozenset({"CreateStateMachine"})),
    )
    pace = Pace(limits, clock, clock.sleep)
    _send(pace, "GetFunction", 10)
    assert clock.slept == []
    _send(pace, "ListFunctions", 2)  # the first limit only
    assert clock.slept == [pytest.approx(1.0)]


def test_the_bucket_refills_while_no_one_asks() -> None:
    clock = Clock(50.0)
    pace = Pace((Rate(10, 10),), clock, clock.sleep)
    _send(pace, "CreateFunction", 10)
    clock.now += 0.5  # five tokens back
    _send(pace, "CreateFunction", 5)
    assert clock.slept == []
    _send(pace, "CreateFunction")
    assert clock.slept == [pytest.approx(0.1)]


def test_the_published_limits_are_the_documented_ones() -> None:
    assert {s: [(r.per_second, r.burst) for r in rates] for s, rates in PUBLISHED.items()} == {
        "lambda": [(15, 15)],
        "stepfunctions": [(1, 100)],
        "kinesis": [(5, 5)] * 5 + [(20, 20)],
        "firehose": [(5, 5)] * 2,
        "sns": [(30, 30), (10, 10)],
    }
    (lam,) = PUBLISHED["lambda"]
    assert lam.covers("CreateFunction") and not lam.covers("Invoke")


@pytest.mark.parametrize("service", ["lambda", "sqs"])
def test_clients_of_services_with_published_rates_are_paced(
    endpoint: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    service: str,
) -> None:
    seen: list[str] = []
    original = Pace.__call__

    def spy(self: Pace, event_name: str = "", **kw: Any) -> None:
        seen.append(event_name)
        original(self, event_name=event_name, **kw)

    monkeypatch.setattr(Pace, "__call__", spy)
    aws = AwsProvider(settle_delay=0)
    if service == "lambda":
        aws.client("lambda").list_functions()
        assert seen == ["before-send.lambda.ListFunctions"]
    else:
        aws.client("sqs").list_queues()
        assert seen == []  # SQS publishes no rate for it
