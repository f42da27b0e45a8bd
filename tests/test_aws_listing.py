"""Pre-flight by listing, tags in the create call, and waiting only when someone needs it:
the AWS provider against a local moto server.

For every type a listing decides, the pre-flight (`txn.survey`) tells a free name, one of
ours and someone else's under the very name apart, with a third resource whose name only
shares the prefix; it follows a listing over several pages; and it makes one listing per
type and scope instead of one read per name. A create puts dpn's marks on the resource in
the create call itself (S3 and Kinesis, whose create-time tags moto drops, tag again), and a
resource read right after carries them. A readiness waiter runs only when a dependent, a
setting or a delete needs it.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto_as_aws import keep_tags_given_at_create
from test_aws_provider import TXN, Cloud, endpoint, unique_name  # noqa: F401

from dpn_action.providers import aws as aws_module
from dpn_action.providers.aws import AwsProvider
from dpn_action.providers.aws.api import markers
from dpn_action.providers.base import MANAGED_BY_KEY, TXN_TAG_KEY, Operation
from dpn_action.txn.survey import survey

#: the types whose pre-flight one listing decides
SURVEYED = sorted(AwsProvider.survey_types)


class Requests:
    """Every request the provider's clients send, as `service.Operation`."""

    def __init__(self, provider: AwsProvider, services: tuple[str, ...]) -> None:
        self.sent: Counter[str] = Counter()
        self._lock = threading.Lock()
        for service in services:
            provider.client(service).meta.events.register("before-send", self)

    def __call__(self, event_name: str = "", **_: Any) -> None:
        with self._lock:
            self.sent[event_name.split(".", 1)[1]] += 1

    def clear(self) -> None:
        self.sent.clear()

    def of(self, prefix: str) -> int:
        return sum(n for op, n in self.sent.items() if op.startswith(prefix))


SERVICES = ("s3", "glue", "iam", "lambda", "kinesis", "firehose", "dynamodb", "sns", "sqs")
SERVICES += ("stepfunctions",)


@pytest.fixture
def fresh(endpoint: str) -> AwsProvider:  # noqa: F811
    return AwsProvider(settle_delay=0)


# --- someone else's resources, made without dpn -----------------------------------------------


def _role(provider: AwsProvider) -> str:
    name = unique_name("aws_iam_role")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "glue.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = provider.client("iam")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(e, c):\n    return 1\n")
    return buffer.getvalue()


#: type -> makes a resource of that name as another team would: no dpn marks
FOREIGN: dict[str, Callable[[AwsProvider, str, dict[str, str]], object]] = {
    "aws_glue_database": lambda a, n, s: a.client("glue").create_database(
        DatabaseInput={"Name": n}
    ),
    "aws_glue_table": lambda a, n, s: a.client("glue").create_table(
        DatabaseName=s["database"], TableInput={"Name": n}
    ),
    "aws_glue_crawler": lambda a, n, s: a.client("glue").create_crawler(
        Name=n, Role=_role(a), Targets={"S3Targets": [{"Path": "s3://lake/x/"}]}
    ),
    "aws_lambda_function": lambda a, n, s: a.client("lambda").create_function(
        FunctionName=n,
        Runtime="python3.12",
        Role=_role(a),
        Handler="index.handler",
        Code={"ZipFile": _zip()},
    ),
    "aws_iam_role": lambda a, n, s: a.client("iam").create_role(
        RoleName=n, AssumeRolePolicyDocument="{}"
    ),
    "aws_iam_policy": lambda a, n, s: a.client("iam").create_policy(
        PolicyName=n,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    ),
    "aws_kinesis_stream": lambda a, n, s: a.client("kinesis").create_stream(
        StreamName=n, ShardCount=1
    ),
    "aws_kinesis_firehose": lambda a, n, s: a.client("firehose").create_delivery_stream(
        DeliveryStreamName=n,
        ExtendedS3DestinationConfiguration={"RoleARN": _role(a), "BucketARN": "arn:aws:s3:::x"},
    ),
    "aws_dynamodb_table": lambda a, n, s: a.client("dynamodb").create_table(
        TableName=n,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    ),
    "aws_sns_topic": lambda a, n, s: a.client("sns").create_topic(
        Name=n, Attributes={"FifoTopic": "true"} if n.endswith(".fifo") else {}
    ),
    "aws_sqs_queue": lambda a, n, s: a.client("sqs").create_queue(
        QueueName=n, Attributes={"FifoQueue": "true"} if n.endswith(".fifo") else {}
    ),
    "aws_step_function": lambda a, n, s: a.client("stepfunctions").create_state_machine(
        name=n,
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
        roleArn=_role(a),
    ),
}


def _listing_call(provider: AwsProvider, type_key: str) -> str:
    """`service.Operation` of the type's listing."""
    api = aws_module.APIS[type_key]
    assert api.listing is not None
    client = provider.client(api.service)
    service = client.meta.service_model.service_id.hyphenize()
    return f"{service}.{client.meta.method_to_api_mapping[api.listing.method]}"


def _sibling(name: str) -> str:
    """A name that starts with `name` (so a prefix listing holds it) and is another one."""
    if name.endswith(".fifo"):
        return name.removesuffix(".fifo") + "-x.fifo"
    return name + "-x"


def test_every_type_a_listing_decides_can_be_made_by_someone_else_here() -> None:
    assert set(SURVEYED) == set(FOREIGN)


@pytest.mark.parametrize("type_key", SURVEYED)
def test_the_pre_flight_tells_free_ours_and_someone_elses_apart_by_listing(
    fresh: AwsProvider, type_key: str
) -> None:
    cloud = Cloud(fresh)
    ours, resolved = cloud.plan(type_key)
    fresh.create(ours, TXN, resolved)
    theirs = Operation(
        f"{type_key}:theirs", type_key, "aws", unique_name(type_key), scope=ours.scope
    )
    FOREIGN[type_key](fresh, theirs.name, dict(ours.scope))
    FOREIGN[type_key](fresh, _sibling(theirs.name), dict(ours.scope))
    free = Operation(f"{type_key}:free", type_key, "aws", unique_name(type_key), scope=ours.scope)
    # a planned name that only starts like one that exists is free
    prefix = Operation(
        f"{type_key}:prefix", type_key, "aws", theirs.name[:-3] + "zz", scope=ours.scope
    )
    if theirs.name.endswith(".fifo"):
        prefix = Operation(
            prefix.key, type_key, "aws", theirs.name[:-8] + "zz.fifo", scope=ours.scope
        )
    bare = Operation(ours.key, type_key, "aws", ours.name, scope=ours.scope)
    requests = Requests(fresh, SERVICES)

    found = survey([bare, theirs, free, prefix], {"aws": fresh}, max_parallel=4)

    assert found.failed == {}
    assert found.found[free.key] is None
    assert found.found[prefix.key] is None
    mine = found.found[bare.key]
    assert mine is not None and mine.managed_by_dpn and mine.transaction_id == TXN
    other = found.found[theirs.key]
    assert other is not None and not other.managed_by_dpn and other.marks == {}
    assert requests.sent[_listing_call(fresh, type_key)] == 1, requests.sent


def test_a_listing_is_followed_over_every_page(endpoint: str) -> None:  # noqa: F811
    small = AwsProvider(settle_delay=0, page_size=2)
    prefix = "dpn-dev-sqs-queue-"
    made = [
        small.create(Operation(f"q{i}", "aws_sqs_queue", "aws", f"{prefix}{i}-paged"), TXN, {})
        for i in range(7)
    ]
    requests = Requests(small, ("sqs",))
    names = [s.name for s in made] + [f"{prefix}9-paged"]

    decided = small.survey("aws_sqs_queue", {}, names)

    assert decided == {f"{prefix}9-paged": None}  # the last page holds the seventh queue
    assert requests.sent["sqs.ListQueues"] >= 4
    listed = {x.name for x in small.listing("aws_sqs_queue", {}, prefix)}
    assert {s.name for s in made} <= listed
    assert all(name.startswith(prefix) for name in listed)


def test_a_listing_longer_than_reading_each_name_decides_nothing(endpoint: str) -> None:  # noqa: F811
    tiny = AwsProvider(settle_delay=0, page_size=1)
    for i in range(4):
        tiny.create(Operation(f"t{i}", "aws_dynamodb_table", "aws", unique_name("x")), TXN, {})
    requests = Requests(tiny, ("dynamodb",))

    assert tiny.survey("aws_dynamodb_table", {}, ["a-free-one"]) == {}
    assert requests.sent["dynamodb.ListTables"] == 1  # no more than one read would take


def test_a_listing_that_fails_falls_back_to_reading_each_name(fresh: AwsProvider) -> None:
    ops = [
        Operation(
            f"q{i}", "aws_sqs_queue", "aws", unique_name("aws_sqs_queue").removesuffix(".fifo")
        )
        for i in range(3)
    ]

    def refuse(**_: Any) -> None:
        raise RuntimeError("ListQueues is not allowed here")

    fresh.client("sqs").meta.events.register("before-send.sqs.ListQueues", refuse)
    requests = Requests(fresh, ("sqs",))

    found = survey(ops, {"aws": fresh}, max_parallel=2)

    assert found.failed == {}
    assert found.found == {op.key: None for op in ops}
    assert requests.sent["sqs.GetQueueUrl"] == 3


def test_tables_in_a_free_database_are_free_without_a_call(fresh: AwsProvider) -> None:
    db = Operation("db", "aws_glue_database", "aws", unique_name("aws_glue_database"))
    tables = [
        Operation(
            f"t{i}",
            "aws_glue_table",
            "aws",
            f"t{i}",
            depends_on=("db",),
            scope={"database": db.name},
        )
        for i in range(3)
    ]
    requests = Requests(fresh, ("glue",))

    found = survey([db, *tables], {"aws": fresh}, max_parallel=4)

    assert found.found == {"db": None, "t0": None, "t1": None, "t2": None}
    assert requests.sent == {"glue.GetDatabase": 1}  # the database alone: one read


def test_listed_resources_read_their_tags_on_their_own(fresh: AwsProvider) -> None:
    cloud = Cloud(fresh)
    op, state = cloud.create("aws_sns_topic")
    found = [x for x in fresh.listing("aws_sns_topic", {}) if x.name == op.name]
    assert [x.resource_id for x in found] == [state.resource_id]
    assert fresh.read_tags("aws_sns_topic", found[0], {})[MANAGED_BY_KEY] == "dpn"


# --- marks in the create call ----------------------------------------------------------------

#: moto keeps no tags given to CreateBucket or CreateStream (AWS does): these tag again
#: (`moto_as_aws` keeps them: see the read-back tests below)
RETAGGED = {"aws_s3_bucket", "aws_kinesis_stream"}
TAG_CALLS = ("Tag", "AddTags", "PutBucketTagging")


@pytest.mark.parametrize("type_key", sorted(AwsProvider.handled))
def test_the_marks_land_with_the_create_call(fresh: AwsProvider, type_key: str) -> None:
    op, resolved = Cloud(fresh).plan(type_key)
    requests = Requests(fresh, SERVICES)

    made = fresh.create(op, TXN, resolved, absent=True)
    tagging = [o for o in requests.sent if o.split(".")[1].startswith(TAG_CALLS)]
    found = fresh.read(type_key, op.name, op.scope)

    assert found is not None
    assert found.tags[MANAGED_BY_KEY] == "dpn" and found.tags[TXN_TAG_KEY] == TXN
    assert made.resource_id == found.resource_id
    if type_key in RETAGGED:
        assert len(tagging) == 1, requests.sent  # the create's tags, again
    else:
        assert tagging == [], requests.sent
        creates = [o for o in requests.sent if o.split(".")[1].startswith("Create")]
        assert len(creates) == 1, requests.sent


#: where a type whose endpoint may drop create-time tags reads them back, and tags again
READ_BACK = {"aws_s3_bucket": ("s3.GetBucketTagging", "s3.PutBucketTagging")}
READ_BACK["aws_kinesis_stream"] = ("kinesis.ListTagsForStream", "kinesis.AddTagsToStream")


@pytest.fixture
def as_aws() -> Iterator[None]:
    """moto keeping create-time bucket and stream tags, as AWS does."""
    undo = keep_tags_given_at_create()
    yield
    undo()


def _create_three(provider: AwsProvider, type_key: str) -> tuple[Requests, list[str]]:
    ops = [Cloud(provider).plan(type_key, properties={})[0] for _ in range(3)]
    requests = Requests(provider, SERVICES)
    for op in ops:
        provider.create(op, TXN, {}, absent=True)
    return requests, [op.name for op in ops]


def _marked(provider: AwsProvider, type_key: str, names: list[str]) -> bool:
    found = [provider.read(type_key, name, {}) for name in names]
    return all(
        f is not None and markers(f.tags) == {MANAGED_BY_KEY: "dpn", TXN_TAG_KEY: TXN}
        for f in found
    )


@pytest.mark.parametrize("type_key", sorted(READ_BACK))
def test_create_time_tags_are_read_back_once_then_trusted(
    as_aws: None, fresh: AwsProvider, type_key: str
) -> None:
    """Where the endpoint keeps the tags given in the create call, the first create reads
    them back and no create sends a tag call of its own."""
    read_back, tag_call = READ_BACK[type_key]
    requests, names = _create_three(fresh, type_key)
    assert requests.sent[read_back] == 1, requests.sent
    assert requests.sent[tag_call] == 0, requests.sent
    assert _marked(fresh, type_key, names)


@pytest.mark.parametrize("type_key", sorted(READ_BACK))
def test_where_create_time_tags_are_dropped_every_create_tags_again(
    fresh: AwsProvider, type_key: str
) -> None:
    read_back, tag_call = READ_BACK[type_key]
    requests, names = _create_three(fresh, type_key)
    assert requests.sent[read_back] == 1, requests.sent
    assert requests.sent[tag_call] == 3, requests.sent
    assert _marked(fresh, type_key, names)


@pytest.mark.parametrize("keeps", [True, False], ids=["tags-kept", "tags-dropped"])
def test_creates_while_the_first_reads_its_tags_back_wait_for_its_answer(
    fresh: AwsProvider, keeps: bool
) -> None:
    """A create that finishes while the first one's read-back is under way waits for its
    answer rather than reading back or tagging on its own; it tags again only where the
    endpoint drops create-time tags."""
    undo = keep_tags_given_at_create() if keeps else (lambda: None)
    first, second, third = (Cloud(fresh).plan("aws_s3_bucket", properties={})[0] for _ in "abc")
    reading_back, second_made, released = threading.Event(), threading.Event(), threading.Event()

    def hold(event_name: str = "", request: Any = None, **_: Any) -> None:
        if event_name.endswith("GetBucketTagging"):
            reading_back.set()
            assert second_made.wait(30)
            time.sleep(0.3)  # the second create has its answer and is at its check now
            released.set()
        elif event_name.endswith("CreateBucket") and request.url.endswith(f"/{second.name}"):
            second_made.set()

    fresh.client("s3").meta.events.register("before-send", hold)
    requests = Requests(fresh, ("s3",))
    try:
        worker = threading.Thread(
            target=fresh.create, args=(first, TXN, {}), kwargs={"absent": True}
        )
        worker.start()
        assert reading_back.wait(30)
        fresh.create(second, TXN, {}, absent=True)
        second_done_after_release = released.is_set()
        worker.join(30)
        fresh.create(third, TXN, {}, absent=True)
    finally:
        undo()

    assert second_done_after_release
    assert requests.sent["s3.GetBucketTagging"] == 1, requests.sent
    assert requests.sent["s3.PutBucketTagging"] == (0 if keeps else 3), requests.sent
    assert _marked(fresh, "aws_s3_bucket", [first.name, second.name, third.name])


def test_a_create_the_pre_flight_found_free_sends_no_read_first(fresh: AwsProvider) -> None:
    op, _ = Cloud(fresh).plan("aws_sqs_queue")
    requests = Requests(fresh, ("sqs",))
    fresh.create(op, TXN, {}, absent=True)
    assert dict(requests.sent) == {"sqs.CreateQueue": 1}


def test_a_bucket_in_us_east_1_is_read_first_even_when_found_free(fresh: AwsProvider) -> None:
    """CreateBucket answers a bucket of ours with success there, and the tag call after it
    would mark one made by someone else meanwhile: it is always read first."""
    op, _ = Cloud(fresh).plan("aws_s3_bucket")
    requests = Requests(fresh, ("s3",))
    fresh.create(op, TXN, {}, absent=True)
    assert requests.sent["s3.HeadBucket"] == 1


# --- waiting only when someone needs it ------------------------------------------------------


def _waits(requests: Requests) -> Counter[str]:
    polls = ("DescribeTable", "DescribeStream", "GetFunction", "DescribeDeliveryStream")
    return Counter({o: n for o, n in requests.sent.items() if o.split(".")[1].startswith(polls)})


@pytest.mark.parametrize(
    "type_key", ["aws_dynamodb_table", "aws_kinesis_stream", "aws_lambda_function"]
)
def test_nothing_is_waited_for_when_nothing_needs_it(fresh: AwsProvider, type_key: str) -> None:
    properties = {"retention_hours": 24} if type_key == "aws_kinesis_stream" else {}
    op, resolved = Cloud(fresh).plan(type_key, properties=properties)
    requests = Requests(fresh, SERVICES)
    fresh.create(op, TXN, resolved, absent=True)
    assert _waits(requests) == Counter()


def test_a_table_is_waited_for_before_its_time_to_live_is_set(fresh: AwsProvider) -> None:
    op, _ = Cloud(fresh).plan("aws_dynamodb_table", properties={"ttl_attribute": "expires"})
    requests = Requests(fresh, ("dynamodb",))
    fresh.create(op, TXN, {}, absent=True)
    assert requests.sent["dynamodb.DescribeTable"] == 1  # the waiter's one poll: ACTIVE
    assert requests.sent["dynamodb.UpdateTimeToLive"] == 1


def test_a_stream_is_waited_for_once_before_the_firehose_that_reads_it(
    fresh: AwsProvider,
) -> None:
    cloud = Cloud(fresh)
    resolved = {
        "bucket": cloud.create("aws_s3_bucket", properties={})[1],
        "role": cloud.create("aws_iam_role")[1],
        "stream": cloud.create("aws_kinesis_stream", properties={"shard_count": 1})[1],
    }
    refs = {"bucket_ref": "bucket", "role_ref": "role", "stream_ref": "stream"}

    def firehose(key: str) -> Operation:
        name = unique_name("aws_kinesis_firehose")
        return Operation(
            key, "aws_kinesis_firehose", "aws", name, depends_on=tuple(resolved), refs=refs
        )

    requests = Requests(fresh, SERVICES)
    fresh.create(firehose("first"), TXN, resolved, absent=True)
    polls_first = requests.sent["kinesis.DescribeStream"]
    fresh.create(firehose("second"), TXN, resolved, absent=True)

    assert polls_first == 1  # the waiter's one poll: ACTIVE
    assert requests.sent["kinesis.DescribeStream"] == 1  # known ready: not asked again


def test_a_rollback_right_after_the_create_waits_until_the_table_can_go(
    fresh: AwsProvider,
) -> None:
    op, made = Cloud(fresh).create("aws_dynamodb_table", properties={})
    busy = {"left": 1}

    def still_creating(**kw: Any) -> Any:
        if busy["left"]:
            busy["left"] -= 1
            from botocore.awsrequest import AWSResponse

            body = json.dumps(
                {"__type": "ResourceInUseException", "message": "Table is being created"}
            ).encode()
            headers = {"Content-Type": "application/x-amz-json-1.0"}
            return AWSResponse(kw["request"].url, 400, headers, _Body(body))
        return None

    fresh.client("dynamodb").meta.events.register(
        "before-send.dynamodb.DeleteTable", still_creating
    )
    requests = Requests(fresh, ("dynamodb",))

    fresh.delete(made)

    assert requests.sent["dynamodb.DeleteTable"] == 2
    assert requests.sent["dynamodb.DescribeTable"] >= 1  # waited in between
    assert fresh.read("aws_dynamodb_table", op.name, {}) is None


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data
