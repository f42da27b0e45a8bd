"""The IAM actions dpn needs, per AWS type, as data (`dpn doctor` simulates them).

`ACTIONS[type]` lists what the provider calls to create, read, tag, update, archive and
delete a resource of the type, as IAM names the actions, on the resource's own ARN
(`arn_of`). `ELSEWHERE[type]` lists actions on other resources: `(action, resource)`, the
resource an ARN pattern with `{name}` (S3 objects of the bucket being emptied) or `*`
(an action IAM does not scope, or one on resources dpn cannot name in advance). A test runs
every type against moto, records each call the provider makes (`iam_action` names it) and
checks it is listed here, so the lists cannot fall behind the code.

Importing this module costs nothing: it imports no SDK.
"""

from __future__ import annotations

from collections.abc import Mapping


def _actions(service: str, text: str) -> tuple[str, ...]:
    return tuple(f"{service}:{a}" for a in text.split())


ACTIONS: dict[str, tuple[str, ...]] = {
    "aws_s3_bucket": _actions(
        "s3",
        "CreateBucket ListBucket GetBucketTagging PutBucketTagging GetBucketVersioning "
        "PutBucketVersioning GetLifecycleConfiguration PutLifecycleConfiguration "
        "GetEncryptionConfiguration PutEncryptionConfiguration ListBucketVersions DeleteBucket",
    ),
    "aws_glue_database": _actions(
        "glue",
        "CreateDatabase GetDatabase UpdateDatabase DeleteDatabase GetTables GetTags TagResource",
    ),
    "aws_glue_table": _actions("glue", "CreateTable GetTable UpdateTable DeleteTable"),
    "aws_glue_crawler": _actions(
        "glue", "CreateCrawler GetCrawler DeleteCrawler GetTags TagResource"
    ),
    "aws_lambda_function": _actions(
        "lambda",
        "CreateFunction GetFunction GetFunctionConfiguration UpdateFunctionConfiguration "
        "DeleteFunction ListTags TagResource",
    ),
    "aws_iam_role": _actions(
        "iam",
        "CreateRole GetRole UpdateRole UpdateAssumeRolePolicy TagRole ListRoleTags "
        "AttachRolePolicy ListAttachedRolePolicies DetachRolePolicy ListRolePolicies "
        "DeleteRolePolicy ListInstanceProfilesForRole DeleteRole",
    ),
    "aws_iam_policy": _actions(
        "iam",
        "CreatePolicy GetPolicy GetPolicyVersion ListPolicyVersions CreatePolicyVersion "
        "DeletePolicyVersion ListPolicyTags TagPolicy ListEntitiesForPolicy DeletePolicy",
    ),
    "aws_kinesis_stream": _actions(
        "kinesis",
        "CreateStream DescribeStream DescribeStreamSummary AddTagsToStream ListTagsForStream "
        "IncreaseStreamRetentionPeriod DecreaseStreamRetentionPeriod UpdateShardCount "
        "DeleteStream",
    ),
    "aws_kinesis_firehose": _actions(
        "firehose",
        "CreateDeliveryStream DescribeDeliveryStream UpdateDestination "
        "ListTagsForDeliveryStream TagDeliveryStream DeleteDeliveryStream",
    ),
    "aws_dynamodb_table": _actions(
        "dynamodb",
        "CreateTable DescribeTable UpdateTable DescribeTimeToLive UpdateTimeToLive "
        "ListTagsOfResource TagResource CreateBackup DeleteTable",
    ),
    "aws_sns_topic": _actions(
        "sns",
        "CreateTopic GetTopicAttributes SetTopicAttributes ListTagsForResource "
        "TagResource DeleteTopic",
    ),
    "aws_sqs_queue": _actions(
        "sqs",
        "CreateQueue GetQueueUrl GetQueueAttributes SetQueueAttributes ListQueueTags "
        "TagQueue DeleteQueue",
    ),
    "aws_step_function": _actions(
        "states",
        "CreateStateMachine DescribeStateMachine UpdateStateMachine ListTagsForResource "
        "TagResource DeleteStateMachine",
    ),
}

#: the role a Lambda function, Glue crawler, Firehose stream or state machine runs as is
#: handed over with `iam:PassRole` on that role
_PASS_ROLE = ("iam:PassRole", "*")

ELSEWHERE: dict[str, tuple[tuple[str, str], ...]] = {
    # emptying a bucket of dpn's before its delete: every object version in it
    "aws_s3_bucket": (
        ("s3:DeleteObject", "arn:{partition}:s3:::{name}/*"),
        ("s3:DeleteObjectVersion", "arn:{partition}:s3:::{name}/*"),
    ),
    # a policy is found by name in the account's list, and detached before its delete
    "aws_iam_policy": (("iam:ListPolicies", "*"), ("iam:DetachRolePolicy", "*")),
    "aws_glue_crawler": (_PASS_ROLE,),
    "aws_lambda_function": (_PASS_ROLE,),
    "aws_kinesis_firehose": (_PASS_ROLE,),
    "aws_step_function": (_PASS_ROLE,),
}

#: each type's ARN; `{database}` is a Glue table's database
ARNS: dict[str, str] = {
    "aws_s3_bucket": "arn:{partition}:s3:::{name}",
    "aws_glue_database": "arn:{partition}:glue:{region}:{account}:database/{name}",
    "aws_glue_table": "arn:{partition}:glue:{region}:{account}:table/{database}/{name}",
    "aws_glue_crawler": "arn:{partition}:glue:{region}:{account}:crawler/{name}",
    "aws_lambda_function": "arn:{partition}:lambda:{region}:{account}:function:{name}",
    "aws_iam_role": "arn:{partition}:iam::{account}:role/{name}",
    "aws_iam_policy": "arn:{partition}:iam::{account}:policy/{name}",
    "aws_kinesis_stream": "arn:{partition}:kinesis:{region}:{account}:stream/{name}",
    "aws_kinesis_firehose": "arn:{partition}:firehose:{region}:{account}:deliverystream/{name}",
    "aws_dynamodb_table": "arn:{partition}:dynamodb:{region}:{account}:table/{name}",
    "aws_sns_topic": "arn:{partition}:sns:{region}:{account}:{name}",
    "aws_sqs_queue": "arn:{partition}:sqs:{region}:{account}:{name}",
    "aws_step_function": "arn:{partition}:states:{region}:{account}:stateMachine:{name}",
}


def arn_of(type_key: str, name: str, scope: Mapping[str, str], place: Mapping[str, str]) -> str:
    """The ARN a resource of `type_key` named `name` gets; `place` gives `partition`,
    `region` and `account`."""
    return ARNS[type_key].format(name=name, database=scope.get("database", ""), **place)


def needed(type_key: str) -> list[str]:
    """Every IAM action dpn needs for `type_key`, sorted."""
    return sorted({*ACTIONS[type_key], *(a for a, _ in ELSEWHERE.get(type_key, ()))})


#: the IAM name of an API operation where it is not `<prefix>:<operation>`
_IAM_NAMES = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "DeleteBucketLifecycle"): "s3:PutLifecycleConfiguration",
}
#: IAM's prefix of a service where it is not botocore's name for it
_PREFIXES = {"stepfunctions": "states"}


def iam_action(service: str, operation: str) -> str | None:
    """The IAM action an API call needs (`s3`, `HeadBucket` -> `s3:ListBucket`); None for
    STS `GetCallerIdentity`, which needs none."""
    if (service, operation) == ("sts", "GetCallerIdentity"):
        return None
    return _IAM_NAMES.get((service, operation), f"{_PREFIXES.get(service, service)}:{operation}")
