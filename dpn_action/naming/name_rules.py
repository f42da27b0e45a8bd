"""The naming rules of each resource type, as data, each with the page that documents it.

A rule's `level` says whose it is: `cloud` rules are the cloud's hard rules (a create call
with a name that breaks one is refused: an error); `advice` rules are what the cloud's
documentation recommends and `house` rules are dpn's own, both warnings unless their `note`
gives a reason the name would not work as planned (`error=True`).

The AWS rules follow the API reference and botocore's service model of each create call
(`sources.MODEL_NAMES`, checked against the installed models by a test); the Databricks
rules follow the REST API reference and the SDK's docstrings. Where sources disagree, the
stricter reading is taken and `sources.DISAGREEMENTS` says why.
"""

from __future__ import annotations

from typing import Any

from dpn_action.naming.rules import ADVICE, HOUSE, Rule

# --- sources --------------------------------------------------------------------------------
_AWS = "https://docs.aws.amazon.com"
_S3 = f"{_AWS}/AmazonS3/latest/userguide/bucketnamingrules.html"
_GLUE_DB = f"{_AWS}/glue/latest/webapi/API_DatabaseInput.html"
_GLUE_TABLE = f"{_AWS}/glue/latest/webapi/API_TableInput.html"
_ATHENA = f"{_AWS}/athena/latest/ug/tables-databases-columns-names.html"
_CRAWLER = f"{_AWS}/glue/latest/webapi/API_CreateCrawler.html"
_LAMBDA = f"{_AWS}/lambda/latest/api/API_CreateFunction.html"
_IAM_ROLE = f"{_AWS}/IAM/latest/APIReference/API_CreateRole.html"
_IAM_POLICY = f"{_AWS}/IAM/latest/APIReference/API_CreatePolicy.html"
_KINESIS = f"{_AWS}/kinesis/latest/APIReference/API_CreateStream.html"
_FIREHOSE = f"{_AWS}/firehose/latest/APIReference/API_CreateDeliveryStream.html"
_DYNAMO = f"{_AWS}/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"
_SNS = f"{_AWS}/sns/latest/api/API_CreateTopic.html"
_SQS = f"{_AWS}/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"
_SFN = f"{_AWS}/step-functions/latest/apireference/API_CreateStateMachine.html"
_DBX = "https://docs.databricks.com"
_DBX_WS = f"{_DBX}/api/account/workspaces/create"
_DBX_CLUSTER = f"{_DBX}/api/workspace/clusters/create"
_DBX_JOB = f"{_DBX}/api/workspace/jobs/create"
_DBX_WSPATH = f"{_DBX}/api/workspace/workspace/mkdirs"
_DBX_FILES = f"{_DBX}/en/files/workspace.html"
_DBX_REPO = f"{_DBX}/api/workspace/repos/create"
_DBX_PIPE = f"{_DBX}/api/workspace/pipelines/create"
_DBX_WH = f"{_DBX}/api/workspace/warehouses/create"
_UC_NAMES = f"{_DBX}/en/sql/language-manual/sql-ref-names.html"
_UC_CASE = f"{_DBX}/en/sql/language-manual/sql-ref-identifiers.html"
_DBX_SECRETS = f"{_DBX}/api/workspace/secrets/createscope"
_DBX_POOL = f"{_DBX}/api/workspace/instancepools/create"
_DBX_POLICY = f"{_DBX}/api/workspace/clusterpolicies/create"


# --- rule builders ---------------------------------------------------------------------------
def _len(lo: int, hi: int | None, src: str, unit: str = "chars", **kw: Any) -> Rule:
    return Rule("length", (lo, hi), src, {"unit": unit}, **kw)


def _chars(chars: str, src: str, **kw: Any) -> Rule:
    return Rule("charset", chars, src, **kw)


#: AWS's "single-line string" (the Glue name pattern): any character but the controls below
#: U+0020 other than tab, U+FFFE, U+FFFF and lone surrogates
SINGLE_LINE = r"\t\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff"


def _single_line(src: str) -> Rule:
    label = "one line (no control character but tab; no U+FFFE, U+FFFF)"
    return _chars(SINGLE_LINE, src, opts={"label": label})


def _glue_catalog(src: str) -> tuple[Rule, ...]:
    """A Glue database or table name: the API's rules, then Athena's and Hive's."""
    return (
        _len(1, 255, src, "bytes"),
        _single_line(src),
        _chars(
            "a-z0-9_",
            _ATHENA,
            level=ADVICE,
            error=True,
            note="Athena, which queries the Glue Data Catalog, does not accept special "
            "characters other than '_' in database and table names",
        ),
        Rule(
            "lowercase",
            None,
            src,
            level=ADVICE,
            error=True,
            note="Glue folds the name to lower case when it stores it (for Hive), so a name "
            "with capitals is not the name dpn records and looks up",
        ),
    )


_PRINTABLE_NOTE = (
    "dpn keeps names to printable characters: a control or invisible character makes a name "
    "hard to read, and two names that look the same differ"
)


def _printable(src: str) -> Rule:
    """dpn's own rule for free-text names."""
    return Rule("forbidden", "", src, level=HOUSE, note=_PRINTABLE_NOTE)


def _named(src: str) -> Rule:
    """A name the cloud lets be empty (or sets no bounds for); dpn needs one."""
    return _len(
        1,
        None,
        src,
        level=HOUSE,
        error=True,
        note="dpn finds a resource again by its name, so the name cannot be empty",
    )


def _workspace_path(src: str) -> tuple[Rule, ...]:
    return (
        _len(
            1,
            4096,
            _DBX_FILES,
            "bytes",
            level=HOUSE,
            error=True,
            note="the API documents no limit; clusters open workspace files under /Workspace, "
            "where a path longer than Linux's PATH_MAX of 4096 bytes cannot be opened",
        ),
        _printable(src),
    )


def _unity_catalog() -> tuple[Rule, ...]:
    """Catalog, schema, table and volume names."""
    return (
        _len(1, 255, _UC_NAMES),
        Rule("forbidden", " ./", _UC_NAMES),
        Rule(
            "lowercase",
            None,
            _UC_CASE,
            level=ADVICE,
            error=True,
            note="Unity Catalog stores names in lower case, so a name with capitals is not "
            "the name dpn records and looks up",
        ),
    )


NAME_RULES: dict[str, tuple[Rule, ...]] = {
    # ------------------------------------------------------------------------------- AWS
    "aws_s3_bucket": (
        _len(3, 63, _S3),
        _chars("a-z0-9.-", _S3),
        Rule("edges", "a-z0-9", _S3),
        Rule("substring", ("..",), _S3),
        Rule("not_ip", None, _S3),
        Rule("prefix", ("xn--", "sthree-", "amzn-s3-demo-"), _S3),
        Rule("suffix", ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"), _S3),
        Rule(
            "forbidden",
            ".",
            _S3,
            {"controls": False, "instead": "use '-' instead"},
            level=ADVICE,
            note="AWS advises against '.' in bucket names but for static websites: "
            "virtual-hosted-style HTTPS and Transfer Acceleration do not work with it",
        ),
    ),
    "aws_glue_database": _glue_catalog(_GLUE_DB),
    "aws_glue_table": _glue_catalog(_GLUE_TABLE),
    "aws_glue_crawler": (
        _len(1, 255, _CRAWLER, "bytes"),
        _single_line(_CRAWLER),
        _printable(_CRAWLER),
    ),
    "aws_lambda_function": (_len(1, 64, _LAMBDA), _chars("A-Za-z0-9_-", _LAMBDA)),
    "aws_iam_role": (_len(1, 64, _IAM_ROLE), _chars("A-Za-z0-9_+=,.@-", _IAM_ROLE)),
    "aws_iam_policy": (_len(1, 128, _IAM_POLICY), _chars("A-Za-z0-9_+=,.@-", _IAM_POLICY)),
    "aws_kinesis_stream": (_len(1, 128, _KINESIS), _chars("A-Za-z0-9_.-", _KINESIS)),
    "aws_kinesis_firehose": (_len(1, 64, _FIREHOSE), _chars("A-Za-z0-9_.-", _FIREHOSE)),
    "aws_dynamodb_table": (_len(3, 255, _DYNAMO), _chars("A-Za-z0-9_.-", _DYNAMO)),
    "aws_sns_topic": (
        _len(1, 256, _SNS),
        _chars("A-Za-z0-9_-", _SNS, opts={"suffix": ".fifo"}),
        Rule("fifo", None, _SNS),
    ),
    "aws_sqs_queue": (
        _len(1, 80, _SQS),
        _chars("A-Za-z0-9_-", _SQS, opts={"suffix": ".fifo"}),
        Rule("fifo", None, _SQS),
    ),
    "aws_step_function": (
        _len(1, 80, _SFN, "bytes"),
        Rule(
            "forbidden",
            ' <>{}[]?*"#%\\^|~`$&,;:/',
            _SFN,
            {"instead": "remove it, or use '-' or '_' instead"},
        ),
        _chars(
            "A-Za-z0-9_-",
            _SFN,
            level=ADVICE,
            note="logging to CloudWatch Logs needs a name of only 0-9, A-Z, a-z, '-' and '_'",
        ),
    ),
    # ------------------------------------------------------------------------ Databricks
    "dbx_workspace": (
        _named(_DBX_WS),
        *(
            Rule(
                kind,
                arg,
                _DBX_WS,
                opts,
                level=HOUSE,
                note="the API sets no rule for workspace_name; dpn keeps it a DNS label (at "
                "most 63 lower-case letters, digits and '-', a letter or digit at each end), "
                "the form a deployment name and the workspace URL need",
            )
            for kind, arg, opts in (
                ("length", (1, 63), {"unit": "chars"}),
                ("charset", "a-z0-9-", {}),
                ("edges", "a-z0-9", {}),
            )
        ),
    ),
    "dbx_cluster": (_named(_DBX_CLUSTER), _printable(_DBX_CLUSTER)),
    "dbx_job": (_len(1, 4096, _DBX_JOB, "bytes"), _printable(_DBX_JOB)),
    "dbx_notebook_path": (*_workspace_path(_DBX_WSPATH), Rule("abs_path", None, _DBX_WSPATH)),
    "dbx_repo": (*_workspace_path(_DBX_REPO), Rule("repos_path", None, _DBX_REPO)),
    "dbx_pipeline": (_named(_DBX_PIPE), _printable(_DBX_PIPE)),
    "dbx_sql_warehouse": (_len(1, 99, _DBX_WH), _printable(_DBX_WH)),
    "dbx_catalog": _unity_catalog(),
    "dbx_schema": _unity_catalog(),
    "dbx_table": _unity_catalog(),
    "dbx_volume": _unity_catalog(),
    "dbx_secret_scope": (_len(1, 128, _DBX_SECRETS), _chars("A-Za-z0-9_.-", _DBX_SECRETS)),
    "dbx_instance_pool": (_len(1, 100, _DBX_POOL), _printable(_DBX_POOL)),
    "dbx_policy": (_len(1, 100, _DBX_POLICY), _printable(_DBX_POLICY)),
}
