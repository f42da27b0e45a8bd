"""Keeping to the request rates the services publish, per account and region.

`--max-parallel` bounds the calls in flight, not their rate: with 16 in flight and a call
that answers in 0.1-0.4 s, one service can see 40-160 requests a second. Most services dpn
creates in publish no control-plane rate for these calls (IAM, Glue, S3, SQS); a few publish
low ones. A client of such a service paces its requests to the published rate (a token
bucket per limit, `before-send`, so retries and waiter polls count), and whoever else uses
the account at the same time is still handled by botocore's `adaptive` retry mode. Without
pacing, a burst (20 Lambda functions whose roles became usable at the same moment) is
throttled, and `adaptive` mode then slows the whole client to a fraction of the published
rate for the rest of the run.

The published limits (per account and region), as data:

* Lambda: control-plane requests, 15 a second (every operation but `Invoke`, `GetFunction`
  and `GetPolicy`; Lambda quotas, "API requests");
* Step Functions: `CreateStateMachine`, a bucket of 100 refilled at 1 a second (Step
  Functions quotas, "API action throttling");
* Kinesis: `CreateStream`, `DeleteStream`, `ListStreams`, `AddTagsToStream`,
  `ListTagsForStream` 5 a second each, `DescribeStreamSummary` 20 (Kinesis API Reference);
* Firehose: `TagDeliveryStream`, `ListTagsForDeliveryStream` 5 a second (Firehose API
  Reference);
* SNS: `ListTopics` 30 a second, `TagResource` 10 (SNS API Reference).

Where a burst is not published, it is one second's worth.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dpn_action.providers.base import waiting


@dataclass(frozen=True)
class Rate:
    """A published limit: `per_second`, up to `burst` at once, shared by `operations`
    (every operation of the service but `exempt`, where None)."""

    per_second: float
    burst: float
    operations: frozenset[str] | None = None
    exempt: frozenset[str] = field(default_factory=frozenset)

    def covers(self, operation: str) -> bool:
        if operation in self.exempt:
            return False
        return self.operations is None or operation in self.operations


def _each(per_second: float, *operations: str) -> tuple[Rate, ...]:
    return tuple(Rate(per_second, per_second, frozenset({op})) for op in operations)


#: the service (as `AwsProvider.client` names it) -> its published limits
PUBLISHED: dict[str, tuple[Rate, ...]] = {
    "lambda": (Rate(15, 15, exempt=frozenset({"Invoke", "GetFunction", "GetPolicy"})),),
    "stepfunctions": (Rate(1, 100, frozenset({"CreateStateMachine"})),),
    "kinesis": (
        *_each(5, "CreateStream", "DeleteStream", "ListStreams"),
        *_each(5, "AddTagsToStream", "ListTagsForStream"),
        *_each(20, "DescribeStreamSummary"),
    ),
    "firehose": _each(5, "TagDeliveryStream", "ListTagsForDeliveryStream"),
    "sns": (*_each(30, "ListTopics"), *_each(10, "TagResource")),
}


class Pace:
    """A `before-send` hook for one client: each request of an operation a published limit
    covers waits for a token of that limit (waiting, it holds no place among
    `--max-parallel`)."""

    def __init__(
        self,
        rates: tuple[Rate, ...],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self.rates = rates
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        now = clock()
        #: per limit: tokens, and when they were counted
        self._buckets = [[rate.burst, now] for rate in rates]

    def __call__(self, event_name: str = "", **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        for rate, bucket in zip(self.rates, self._buckets, strict=True):
            if rate.covers(operation):
                self._take(rate, bucket)

    def _take(self, rate: Rate, bucket: list[float]) -> None:
        """Take a token; the bucket may go negative, which is the queue of requests ahead
        (each waits until its own token has accrued)."""
        with self._lock:
            now = self._clock()
            tokens = min(rate.burst, bucket[0] + (now - bucket[1]) * rate.per_second)
            bucket[0], bucket[1] = tokens - 1, now
        if tokens < 1:
            with waiting():
                self._sleep((1 - tokens) / rate.per_second)
