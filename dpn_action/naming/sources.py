"""Where the naming rules of the catalogue come from, and where their sources disagree.

Each AWS type's name is a parameter of one create call, which botocore's service model
describes (`min`, `max` and `pattern` of the parameter's shape) and the API reference
documents. `MODEL_NAMES` says where: a test (tests/test_rule_sources.py) reads the installed
botocore models and fails when a bound or pattern there differs from the catalogue's cloud
rules without a `Disagreement` that records the model's value and why dpn chose otherwise.

Where sources disagree, dpn takes the stricter reading and says why; `DISAGREEMENTS` holds
every such case, for AWS and Databricks alike, and docs/resource-types.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

_API = "https://docs.aws.amazon.com"


@dataclass(frozen=True, slots=True)
class ModelName:
    """The name parameter of an AWS type's create call in botocore's service model."""

    service: str
    operation: str
    #: members from the operation's input down to the name (`DatabaseInput`, `Name`)
    member: tuple[str, ...]
    #: the API reference page of the operation
    reference: str

    @property
    def label(self) -> str:
        return f"{self.service} {self.operation} {'.'.join(self.member)}"


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Two sources that say different things about one aspect of a type's names.

    aspect    `min`, `max`, `pattern` (compared with botocore's model by a test), or
              `unit`, `characters`, `case` (documentation only)
    says      what each source says, each named
    choice    what dpn does
    reason    why: the stricter reading, and what makes it right
    model     botocore's value of a `min`, `max` or `pattern` aspect, exactly as the model
              has it; the test fails when the model changes, so a reason never goes stale
    """

    aspect: str
    says: str
    choice: str
    reason: str
    model: int | str | None = None


MODEL_NAMES: dict[str, ModelName] = {
    "aws_s3_bucket": ModelName(
        "s3", "CreateBucket", ("Bucket",), f"{_API}/AmazonS3/latest/API/API_CreateBucket.html"
    ),
    "aws_glue_database": ModelName(
        "glue",
        "CreateDatabase",
        ("DatabaseInput", "Name"),
        f"{_API}/glue/latest/webapi/API_DatabaseInput.html",
    ),
    "aws_glue_table": ModelName(
        "glue",
        "CreateTable",
        ("TableInput", "Name"),
        f"{_API}/glue/latest/webapi/API_TableInput.html",
    ),
    "aws_glue_crawler": ModelName(
        "glue", "CreateCrawler", ("Name",), f"{_API}/glue/latest/webapi/API_CreateCrawler.html"
    ),
    "aws_lambda_function": ModelName(
        "lambda",
        "CreateFunction",
        ("FunctionName",),
        f"{_API}/lambda/latest/api/API_CreateFunction.html",
    ),
    "aws_iam_role": ModelName(
        "iam", "CreateRole", ("RoleName",), f"{_API}/IAM/latest/APIReference/API_CreateRole.html"
    ),
    "aws_iam_policy": ModelName(
        "iam",
        "CreatePolicy",
        ("PolicyName",),
        f"{_API}/IAM/latest/APIReference/API_CreatePolicy.html",
    ),
    "aws_kinesis_stream": ModelName(
        "kinesis",
        "CreateStream",
        ("StreamName",),
        f"{_API}/kinesis/latest/APIReference/API_CreateStream.html",
    ),
    "aws_kinesis_firehose": ModelName(
        "firehose",
        "CreateDeliveryStream",
        ("DeliveryStreamName",),
        f"{_API}/firehose/latest/APIReference/API_CreateDeliveryStream.html",
    ),
    "aws_dynamodb_table": ModelName(
        "dynamodb",
        "CreateTable",
        ("TableName",),
        f"{_API}/amazondynamodb/latest/APIReference/API_CreateTable.html",
    ),
    "aws_sns_topic": ModelName(
        "sns", "CreateTopic", ("Name",), f"{_API}/sns/latest/api/API_CreateTopic.html"
    ),
    "aws_sqs_queue": ModelName(
        "sqs",
        "CreateQueue",
        ("QueueName",),
        f"{_API}/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
    ),
    "aws_step_function": ModelName(
        "stepfunctions",
        "CreateStateMachine",
        ("name",),
        f"{_API}/step-functions/latest/apireference/API_CreateStateMachine.html",
    ),
}

_GLUE_UNIT = Disagreement(
    "unit",
    "the API reference and botocore's model give the length without a unit; the model's "
    "length counts characters, and the service (Java) may count UTF-16 code units",
    "UTF-8 bytes",
    "a count of UTF-8 bytes is never below the count of characters or of UTF-16 code "
    "units, so a name within it is within the limit whichever the service counts; for "
    "names of ASCII characters the three are equal",
)

DISAGREEMENTS: dict[str, tuple[Disagreement, ...]] = {
    "aws_glue_database": (_GLUE_UNIT,),
    "aws_glue_table": (_GLUE_UNIT,),
    "aws_glue_crawler": (_GLUE_UNIT,),
    "aws_lambda_function": (
        Disagreement(
            "max",
            "botocore's model: at most 140 characters; the API reference: 'the length "
            "constraint applies only to the full ARN. If you specify only the function name, "
            "it is limited to 64 characters in length'",
            "64 characters",
            "the 140 are for a full ARN in the same parameter; dpn writes a bare name, which "
            "the stricter 64 governs",
            model=140,
        ),
        Disagreement(
            "pattern",
            "botocore's model: a pattern that also admits full and partial ARNs and a version "
            "or alias qualifier; the name part is [a-zA-Z0-9-_]+",
            "characters [A-Za-z0-9_-], the model's name part",
            "dpn writes a bare name: the ARN prefix and the qualifier are not part of it",
            model=(
                "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?"
                "-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)"
                "(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
            ),
        ),
    ),
    "aws_dynamodb_table": (
        Disagreement(
            "min",
            "botocore's model: at least 1 character (the parameter also takes a table ARN); "
            "the developer guide's naming rules: 3 to 255 characters",
            "3 characters",
            "the naming rules are for the name itself, which dpn writes; the stricter holds",
            model=1,
        ),
        Disagreement(
            "max",
            "botocore's model: at most 1024 characters (room for a table ARN); the developer "
            "guide's naming rules: 3 to 255 characters",
            "255 characters",
            "the naming rules are for the name itself, which dpn writes; the stricter holds",
            model=1024,
        ),
    ),
    "aws_step_function": (
        Disagreement(
            "unit",
            "the API reference and botocore's model give at most 80 without a unit",
            "UTF-8 bytes",
            "a state machine name may hold characters beyond ASCII; a count of UTF-8 bytes "
            "is never below a count of characters or UTF-16 code units",
        ),
        Disagreement(
            "characters",
            "the API reference lists what a name must not contain (white space, brackets, "
            "wildcards, 19 special characters, control characters, surrogates); dpn's check "
            "of control characters refuses every character Python does not print",
            "also no format characters (such as U+200B), private-use or unassigned code points",
            "an invisible character makes two names that look the same differ; no name dpn "
            "generates has one",
        ),
    ),
    "dbx_secret_scope": (
        Disagreement(
            "characters",
            "the API reference (and the SDK's create_scope docstring): 'alphanumeric "
            "characters, dashes, underscores, and periods'; the secret scopes page of the "
            "documentation also allows '@'",
            "characters [A-Za-z0-9_.-], without '@'",
            "the stricter of the two: a name the API reference allows is accepted whichever "
            "page is right",
        ),
    ),
    "dbx_catalog": (
        Disagreement(
            "characters",
            "the names page: no period, space, forward slash, ASCII control character "
            "(00-1F) or DELETE (7F)",
            "also no other character Python does not print (C1 controls, format, "
            "private-use and unassigned code points)",
            "an invisible character makes two names that look the same differ; no name dpn "
            "generates has one",
        ),
    ),
}
# Unity Catalog's rules are shared by its four securables.
for _uc in ("dbx_schema", "dbx_table", "dbx_volume"):
    DISAGREEMENTS[_uc] = DISAGREEMENTS["dbx_catalog"]
