"""Waiting until a resource is usable, or gone.

Kinesis streams, Firehose streams, DynamoDB tables and Lambda functions are waited for after
a create until usable (an entry's `ready`), and streams and tables after a delete until gone
(`gone`), each bounded by the provider's `wait_timeout`: besides being unusable before, a
stream or table still being created cannot be deleted, so a rollback right after would fail.
A resource the cloud is deleting reads as absent (`api.alive`).

Waiters are botocore's own, by name, except the few botocore does not ship, defined here in
its waiter language.
"""

from __future__ import annotations

import math

from dpn_action.providers.aws.api import Client, Kw, Target, Waiter

#: seconds between two polls of a waiter
WAIT_DELAY = 5.0

#: waiters botocore does not ship
CUSTOM_WAITERS: dict[str, Kw] = {
    "DeliveryStreamActive": {
        "operation": "DescribeDeliveryStream",
        "delay": 10,
        "maxAttempts": 60,
        "acceptors": [
            {
                "state": "success",
                "matcher": "path",
                "argument": "DeliveryStreamDescription.DeliveryStreamStatus",
                "expected": "ACTIVE",
            },
            {
                "state": "failure",
                "matcher": "path",
                "argument": "DeliveryStreamDescription.DeliveryStreamStatus",
                "expected": "CREATING_FAILED",
            },
        ],
    }
}


def wait(client: Client, spec: Waiter | None, target: Target, timeout: float) -> None:
    """Block until the waiter `spec` succeeds for `target`, at most `timeout` seconds."""
    if spec is None:
        return
    name, params = spec
    if name in CUSTOM_WAITERS:
        from botocore.waiter import WaiterModel, create_waiter_with_client

        model = WaiterModel({"version": 2, "waiters": {name: CUSTOM_WAITERS[name]}})
        waiter = create_waiter_with_client(name, model, client)
    else:
        waiter = client.get_waiter(name)
    attempts = max(1, math.ceil(timeout / WAIT_DELAY))
    waiter.wait(**params(target), WaiterConfig={"Delay": WAIT_DELAY, "MaxAttempts": attempts})
