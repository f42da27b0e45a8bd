"""Waiting for IAM to propagate the roles a run creates (`providers.aws.propagation`).

The protocol with a clock of its own: one create per service and region probes, the others
wait for its answer and then start when their own role is as old as the accepted one was; a
probe that fails hands over. Then the provider against moto, with a hook that refuses a
create while its role is younger than a propagation time, as the services do: many creates
assuming young roles cost one prober's refusals, not one round of refusals each.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.awsrequest import AWSResponse
from conftest import Clock
from test_aws_provider import TXN, Cloud, _Body, endpoint, fresh_aws  # noqa: F401

from dpn_action.providers.aws import AwsProvider
from dpn_action.providers.aws.propagation import Propagation

KEY = ("lambda", "us-east-1")


def test_a_role_not_made_here_is_not_waited_for() -> None:
    p = Propagation(30)
    p.made("arn:role/young")
    assert p.young("arn:role/young")
    assert not p.young("arn:role/adopted") and not p.young(None)


def test_the_first_create_probes_and_the_others_start_when_their_role_is_as_old() -> None:
    clock = Clock()
    p = Propagation(30, clock, clock.sleep)
    p.made("r1")
    clock.now += 0.5
    p.made("r2")
    token = p.before(KEY, "r1")
    assert token is not None  # the prober: no waiting

    started: list[object | None] = []
    other = threading.Thread(target=lambda: started.append(p.before(KEY, "r2")))
    other.start()
    other.join(0.2)
    assert other.is_alive()  # waits for the probe's answer

    clock.now = 108.0  # the prober's attempt sent 8 s after r1 was made got through
    p.after(KEY, "r1", token, sent=108.0)
    other.join(5)

    assert started == [None]
    assert clock.slept == [0.5]  # r2 is 8 s old at 108.5
    assert p.before(KEY, "r1") is None  # old enough: at once, no probe


def test_the_least_accepted_age_is_kept() -> None:
    clock = Clock()
    p = Propagation(30, clock, clock.sleep)
    p.made("r1")
    token = p.before(KEY, "r1")
    p.after(KEY, "r1", token, sent=clock.now + 9.0)
    p.made("r2")
    p.after(KEY, "r2", None, sent=clock.now + 6.0)
    clock.now += 1.0
    p.made("r3")
    assert p.before(KEY, "r3") is None
    assert clock.slept == [6.0]


def test_a_probe_that_fails_hands_over_to_a_waiting_create() -> None:
    clock = Clock()
    p = Propagation(30, clock, clock.sleep)
    p.made("r1")
    p.made("r2")
    first = p.before(KEY, "r1")
    got: list[object | None] = []
    other = threading.Thread(target=lambda: got.append(p.before(KEY, "r2")))
    other.start()
    other.join(0.2)
    p.after(KEY, "r1", first, sent=None)  # failed for another reason
    other.join(5)
    assert got and got[0] is not None  # the next prober


def test_services_and_regions_probe_each_on_their_own() -> None:
    p = Propagation(30)
    p.made("r1")
    assert p.before(("lambda", "us-east-1"), "r1") is not None
    assert p.before(("glue", "us-east-1"), "r1") is not None
    assert p.before(("lambda", "eu-west-1"), "r1") is not None


def test_no_create_waits_longer_than_the_bound() -> None:
    p = Propagation(0.2)
    p.made("r1")
    assert p.before(KEY, "r1") is not None
    begun = time.monotonic()
    assert p.before(KEY, "r1") is None  # tries on its own after 0.2 s
    assert time.monotonic() - begun < 10  # a guard against a hang, not a timing claim


# --- the provider against moto --------------------------------------------------------------


class YoungRoles:
    """`before-send` on Lambda: refuse CreateFunction while its role is younger than
    `propagation` seconds (its age counted from when CreateRole answered), as Lambda does."""

    def __init__(self, propagation: float) -> None:
        self.propagation = propagation
        self.made: dict[str, float] = {}
        self.refused: Counter[str] = Counter()
        self._lock = threading.Lock()

    def role_made(self, parsed: Any = None, **_: Any) -> None:
        with self._lock:
            self.made[parsed["Role"]["Arn"]] = time.monotonic()

    def __call__(self, request: Any = None, **_: Any) -> AWSResponse | None:
        role = json.loads(request.body)["Role"]
        with self._lock:
            young = time.monotonic() - self.made.get(role, 0.0) < self.propagation
            if young:
                self.refused[role] += 1
        if not young:
            return None
        body = b'{"message": "The role defined for the function cannot be assumed by Lambda."}'
        headers = {"x-amzn-ErrorType": "InvalidParameterValueException"}
        return AWSResponse(request.url, 400, headers, _Body(body))


def test_creates_assuming_young_roles_cost_one_probers_refusals(endpoint: str) -> None:  # noqa: F811
    aws = AwsProvider(settle_delay=0.05)
    young = YoungRoles(propagation=0.5)
    aws.client("iam").meta.events.register("after-call.iam.CreateRole", young.role_made)
    aws.client("lambda").meta.events.register("before-send.lambda.CreateFunction", young)
    cloud = Cloud(aws)
    planned = [cloud.plan("aws_lambda_function") for _ in range(6)]  # each with a new role

    with ThreadPoolExecutor(max_workers=6) as pool:
        made = list(pool.map(lambda p: aws.create(p[0], TXN, p[1]), planned))

    assert all(m.transaction_id == TXN for m in made)
    refused = sorted(young.refused.values(), reverse=True)
    # One create probed and was refused until its role was old enough; each other one
    # waited for that answer and was refused at most once (its role a moment younger).
    assert refused and refused[0] >= 2
    assert all(n <= 1 for n in refused[1:]), young.refused
