"""Requests per resource in a clean create of the provisioning benchmark's 200 resources.

The blueprint of `benchmarks/bench_provision.py` (11 types, dependency depth 2) is created as
one transaction, as the benchmark does, against a moto server of this module's own that
keeps create-time bucket tags as AWS does (`moto_as_aws`). Every HTTP request any client of
the session sends is counted (a botocore `before-send` hook on the session, so retries,
waiter polls and the access check count too). The count is exact: one create per resource,
one listing per surveyed type, and for an S3 bucket the reads and the setting its API
cannot take in the create. Timing is the benchmark's business; this is only the count.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from moto_as_aws import keep_tags_given_at_create

from dpn_action.providers.aws import AwsProvider
from dpn_action.provision import apply_plan
from dpn_action.txn.model import TxnStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_provision import RESOURCES, plan

#: what a clean create of the benchmark's blueprint sends, request by request
EXPECTED = Counter(
    {
        # one create per resource, dpn's marks in it
        "glue.CreateTable": 40,
        "glue.CreateDatabase": 20,
        "iam.CreateRole": 20,
        "lambda.CreateFunction": 20,
        "s3.CreateBucket": 20,
        "sns.CreateTopic": 20,
        "sqs.CreateQueue": 20,
        "dynamodb.CreateTable": 10,
        "glue.CreateCrawler": 10,
        "iam.CreatePolicy": 10,
        "sfn.CreateStateMachine": 10,
        # the pre-flight: one listing per type; a bucket name may be another account's, so
        # each bucket is read (no tables are listed: their databases are free)
        "dynamodb.ListTables": 1,
        "glue.GetDatabases": 1,
        "glue.ListCrawlers": 1,
        "iam.ListPolicies": 1,
        "iam.ListRoles": 1,
        "lambda.ListFunctions": 1,
        "sfn.ListStateMachines": 1,
        "sns.ListTopics": 1,
        "sqs.ListQueues": 1,
        # a bucket: read in the pre-flight and again right before CreateBucket (which in
        # us-east-1 answers a bucket of one's own with success), versioning set after it;
        # the first bucket's tags read back once, so none is tagged again
        "s3.HeadBucket": 40,
        "s3.PutBucketVersioning": 20,
        "s3.GetBucketTagging": 1,
        # the access check, once per provider
        "sts.GetCallerIdentity": 1,
    }
)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    undo = keep_tags_given_at_create()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as env:
        for key in list(os.environ):
            if key.startswith("AWS_"):
                env.delenv(key)
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield f"http://{host}:{port}"
    server.stop()
    undo()


class Sent:
    """Every request the session's clients send, as `service.Operation`."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, event_name: str = "", **_: Any) -> None:
        with self._lock:
            self.sent[event_name.split(".", 1)[1]] += 1


@pytest.mark.parametrize("max_parallel", [1, 16])
def test_a_clean_create_sends_at_most_1_5_requests_per_resource(
    endpoint: str, tmp_path: Path, max_parallel: int
) -> None:
    items = plan(tmp_path)
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    counted = Sent()
    session.events.register("before-send", counted)  # every client made from it
    aws = AwsProvider(session, "us-east-1", endpoint, settle_delay=0)
    aws.caller()  # the access check every command makes first

    result = apply_plan(
        items, wal_dir=tmp_path / "wal", max_parallel=max_parallel, providers={"aws": aws}
    )

    assert result.status is TxnStatus.COMMITTED, result.error
    assert counted.sent == EXPECTED
    assert sum(EXPECTED.values()) / RESOURCES <= 1.5
    assert len(items) == RESOURCES == 200
