"""The latency models of `bench_provision.py`: how long each request takes, and how long a
resource stays unusable after its create. Every figure carries where it comes from.

`flat`: every request takes the same time (50 ms), nothing is ever not ready. The model the
earlier figures used; it tells dpn's own overhead apart from the cloud's.

`cloud`: each operation its own latency, and the readiness times users wait for. Where a
service publishes a figure it is used; where only reports from users and tools exist, the
model takes a value inside the reported range and says so; where nothing is published or
reported, the value is an assumption, marked as one. docs/provisioning.md#speed has the same
table, with links.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """A number the model uses, and its basis: `published` (the provider's documentation),
    `reported` (users' and tools' measurements, no figure from the provider) or `assumed`
    (neither exists; an estimate)."""

    value: float
    basis: str
    source: str


#: Per-request latency, milliseconds (`cloud`). AWS publishes no latency for any
#: control-plane operation, so every figure here is an estimate of an in-region client
#: with a warm connection: reads and listings of a regional control plane ~40 ms, writes
#: ~80 ms. Three are higher, for reasons that are published: IAM has one control plane for
#: every commercial region, in us-east-1, so its calls cross the continent from most
#: regions; S3 CreateBucket registers a name that is unique across all accounts; Lambda
#: CreateFunction uploads and validates the code archive.
IAM_ONE_CONTROL_PLANE = (
    "IAM User Guide, Resilience in IAM: 'There is one IAM control plane for all commercial "
    "AWS Regions, which is located in the US East (N. Virginia) Region' "
    "(https://docs.aws.amazon.com/IAM/latest/UserGuide/disaster-recovery-resiliency.html)"
)
NO_LATENCY_FIGURE = "AWS publishes no per-operation latency; estimate"
LATENCY_MS: dict[str, Figure] = {
    "read": Figure(40.0, "assumed", NO_LATENCY_FIGURE + " (a regional read or listing)"),
    "write": Figure(80.0, "assumed", NO_LATENCY_FIGURE + " (a regional create)"),
    "iam.read": Figure(120.0, "assumed", NO_LATENCY_FIGURE + "; " + IAM_ONE_CONTROL_PLANE),
    "iam.write": Figure(150.0, "assumed", NO_LATENCY_FIGURE + "; " + IAM_ONE_CONTROL_PLANE),
    "s3.CreateBucket": Figure(250.0, "assumed", NO_LATENCY_FIGURE + " (a global name)"),
    "lambda.CreateFunction": Figure(
        400.0, "assumed", NO_LATENCY_FIGURE + " (uploads and checks the code archive)"
    ),
}

#: Seconds from a create until the resource is usable (`cloud`).
READY_S: dict[str, Figure] = {
    # The wait every blueprint with a Lambda function, a Glue crawler or a state machine and
    # its role pays: the role is refused until IAM has propagated it.
    "iam_role": Figure(
        8.0,
        "reported",
        "IAM is eventually consistent and AWS gives no figure (IAM User Guide, "
        "troubleshooting: 'Changes that I make are not always immediately visible', "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html). "
        "Reported: 'anywhere between 5 and 10 seconds for the role to be accessible by "
        "Lambda' (ansible-collections/community.aws#710); Ansible roles sleep 5-6 s after a "
        "role (codeenigma/ce-provision#2438); Chalice retries CreateFunction for 30 s, 15 s "
        "being 'not enough' at times (aws/chalice#172). 8 s: inside the reported 5-10 s",
    ),
    "dynamodb_table": Figure(
        8.0,
        "reported",
        "CreateTable returns CREATING; AWS gives no duration (DynamoDB API Reference, "
        "CreateTable). Reported: 'about 5-10 seconds to create table' with the Java SDK's "
        "waiter (aws/aws-sdk-java-v2#5996). 8 s: inside that range",
    ),
    "kinesis_stream": Figure(
        30.0,
        "assumed",
        "CreateStream returns CREATING; neither AWS nor users publish a duration (Kinesis "
        "API Reference, CreateStream). botocore's stream_exists waiter polls every 10 s, up "
        "to 18 times. 30 s: an assumption",
    ),
}

#: Readiness times of Databricks, for the docs: no Databricks resource is in this
#: benchmark, and no type dpn creates waits for one of these (a create returns when the
#: workspace has accepted it; a job names its cluster by id).
DATABRICKS_READY_S: dict[str, Figure] = {
    "cluster_from_pool": Figure(
        40.0,
        "published",
        "Databricks blog, 'Use Databricks Pools to Speed up your Data Pipelines and Scale "
        "Clusters Quickly' (2019): with a pool 'cluster creation ... takes less than 40 "
        "seconds', pools being 4x faster than starting without one",
    ),
    "cluster": Figure(160.0, "published", "the same source: 4 x 40 s without a pool"),
    "sql_warehouse_pro": Figure(
        240.0,
        "published",
        "Azure Databricks docs, SQL warehouse types: pro warehouses take several minutes "
        "to start, typically about 4 minutes "
        "(https://learn.microsoft.com/en-us/azure/databricks/admin/sql/warehouse-types)",
    ),
    "sql_warehouse_serverless": Figure(
        6.0, "published", "the same page: serverless warehouses start in 2 to 6 seconds"
    ),
}


#: The creates that assume a role (`cloud`), by botocore's event name of the service: how
#: each names the role, and how each refuses one too young to use (the error codes and
#: messages of the services' APIs).
ROLE_USERS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("lambda", "CreateFunction"): (
        "Role",
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    ),
    ("glue", "CreateCrawler"): (
        "Role",
        "InvalidInputException",
        "Service is unable to assume provided role. Please verify role's TrustPolicy",
    ),
    ("sfn", "CreateStateMachine"): (
        "roleArn",
        "AccessDeniedException",
        "Neither the global service principal states.amazonaws.com, nor the regional one is "
        "authorized to assume the provided role.",
    ),
}


@dataclass(frozen=True)
class Throttle:
    """A request rate a service publishes as a limit, per account and region: a token bucket
    of `burst` tokens refilled at `rate` a second, shared by `operations` (every operation of
    the service but `exempt`, where None). `cloud` answers a request with no token left as
    the service does: `status`, error `code`."""

    service: str  # botocore's event name of the service
    operations: frozenset[str] | None
    rate: float
    burst: float
    code: str
    status: int
    figure: Figure
    exempt: frozenset[str] = frozenset()

    def covers(self, service: str, operation: str) -> bool:
        if service != self.service or operation in self.exempt:
            return False
        return self.operations is None or operation in self.operations


def _per_op(service: str, limits: dict[str, float], code: str, figure: Figure) -> list[Throttle]:
    return [
        Throttle(service, frozenset({op}), rate, rate, code, 400, figure)
        for op, rate in limits.items()
    ]


_KINESIS = Figure(
    5.0,
    "published",
    "Kinesis API Reference: CreateStream, ListStreams, AddTagsToStream, ListTagsForStream "
    "'a limit of five transactions per second per account'; DescribeStreamSummary 20",
)
_FIREHOSE = Figure(
    5.0, "published", "Firehose API Reference: TagDeliveryStream, ListTagsForDeliveryStream: 5"
)
#: The published request-rate limits of the calls dpn makes (IAM, Glue, S3, SQS publish none
#: for them). `cloud` enforces them; the benchmark reports the highest rate each one saw.
#: Where the burst is not published it is taken as one second's worth.
THROTTLES: list[Throttle] = [
    Throttle(
        "lambda",
        None,
        15.0,
        15.0,
        "TooManyRequestsException",
        429,
        Figure(
            15.0,
            "published",
            "Lambda quotas: 'Control plane API requests (excludes invocation, GetFunction, "
            "and GetPolicy requests)': 15 per second "
            "(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)",
        ),
        exempt=frozenset({"Invoke", "GetFunction", "GetPolicy"}),
    ),
    Throttle(
        "sfn",
        frozenset({"CreateStateMachine"}),
        1.0,
        100.0,
        "ThrottlingException",
        400,
        Figure(
            1.0,
            "published",
            "Step Functions quotas: CreateStateMachine, a bucket of 100 refilled at 1 a "
            "second (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html)",
        ),
    ),
    Throttle(
        "dynamodb",
        None,
        2500.0,
        2500.0,
        "ThrottlingException",
        400,
        Figure(
            2500.0,
            "published",
            "DynamoDB developer guide, control plane best practices: a control-plane throttle "
            "of 2,500 requests per second",
        ),
        exempt=frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"}),
    ),
    Throttle(
        "sns",
        frozenset({"TagResource"}),
        10.0,
        10.0,
        "Throttling",
        400,
        Figure(
            10.0,
            "published",
            "SNS API Reference, TagResource: 'Tagging actions are limited to 10 TPS per "
            "account, per Region' (whether a tagged CreateTopic counts is not said: it is not "
            "throttled here)",
        ),
    ),
    *_per_op(
        "sns",
        {"ListTopics": 30.0},
        "Throttling",
        Figure(30.0, "published", "SNS API Reference, ListTopics: 'throttled at 30 TPS'"),
    ),
    *_per_op(
        "kinesis",
        {
            "CreateStream": 5.0,
            "ListStreams": 5.0,
            "AddTagsToStream": 5.0,
            "ListTagsForStream": 5.0,
            "DescribeStreamSummary": 20.0,
        },
        "LimitExceededException",
        _KINESIS,
    ),
    *_per_op(
        "firehose",
        {"TagDeliveryStream": 5.0, "ListTagsForDeliveryStream": 5.0},
        "LimitExceededException",
        _FIREHOSE,
    ),
]

#: the flat model's latency, milliseconds
FLAT_MS = 50.0


def is_read(operation: str) -> bool:
    return operation.startswith(("Get", "List", "Describe", "Head"))


class Model:
    """A latency model: how long each request takes, and how long a resource stays
    unusable after its create (no time at all in `flat`)."""

    def __init__(self, name: str, flat_ms: float | None) -> None:
        self.name = name
        self.flat = None if flat_ms is None else flat_ms / 1000
        self.realistic = flat_ms is None
        self.ready = {k: f.value for k, f in READY_S.items()} if self.realistic else {}

    @classmethod
    def flat_model(cls, ms: float = FLAT_MS) -> Model:
        return cls(f"flat ({ms:.0f} ms a request)", ms)

    @classmethod
    def cloud_model(cls) -> Model:
        return cls("cloud (per-operation latency, readiness times)", None)

    @property
    def propagation(self) -> float:
        """Seconds from CreateRole until the services that assume the role accept it."""
        return self.ready.get("iam_role", 0.0)

    def latency(self, service: str, operation: str) -> float:
        """Seconds one request of `service.operation` takes."""
        if self.flat is not None:
            return self.flat
        kind = "read" if is_read(operation) else "write"
        for key in (f"{service}.{operation}", f"{service}.{kind}", kind):
            if key in LATENCY_MS:
                return LATENCY_MS[key].value / 1000
        raise AssertionError("unreachable")  # pragma: no cover
