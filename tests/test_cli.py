"""The `dpn` command line: bad input always becomes located findings, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import dpn, dpn_process, write

GOOD = {
    "version": "1.0",
    "metadata": {"environment": "dev", "project": "dataplatform", "region": "us-east-1"},
    "resources": {
        "aws": {
            "s3_buckets": [{"purpose": "landing", "layer": "raw"}],
            "glue_databases": [{"domain": "sales", "layer": "bronze"}],
            "glue_tables": [{"database_ref": "sales-bronze", "entity": "orders"}],
        },
        "databricks": {
            "clusters": [{"workload": "etl", "cluster_type": "shared"}],
            "jobs": [{"job_type": "batch", "purpose": "load", "cluster_ref": "etl"}],
        },
    },
}


#: every test runs in its own empty directory (no .dpn/ to discover)
pytestmark = pytest.mark.usefixtures("in_tmp")


def test_preview_of_a_good_blueprint_prints_every_name(tmp_path: Path) -> None:
    bp = write(tmp_path / "dev.json", json.dumps(GOOD))
    result = dpn("plan", "preview", "--format", "json", str(bp))
    assert result.exit_code == 0
    names = {r["name"] for r in json.loads(result.output)["resources"]}
    assert names == {
        "dataplatform-landing-raw-dev-use1",
        "dataplatform_sales_bronze_dev",
        "fact_orders",
        "dataplatform-etl-shared-dev",
        "dataplatform-batch-load-dev",
    }


def test_lint_exits_zero_when_clean_and_one_on_errors(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", json.dumps(GOOD))
    assert dpn("lint", "--no-context", str(good)).exit_code == 0
    bad = json.loads(json.dumps(GOOD))
    bad["resources"]["aws"]["s3_buckets"][0]["name"] = "xn--bucket"
    badp = write(tmp_path / "bad.json", json.dumps(bad, indent=2))
    result = dpn("lint", "--no-context", str(badp))
    assert result.exit_code == 1
    assert "DPN103" in result.output and "xn--" in result.output


@pytest.mark.parametrize(
    ("name", "text", "code", "line", "col"),
    [
        ("malformed.json", '{\n  "version": "1.0",\n  "metadata": {,}\n}', "DPN001", 3, 16),
        ("malformed.yaml", "version: '1.0'\nmetadata: [\n", "DPN001", 3, 1),
        (
            "dupe.json",
            '{"version": "1.0",\n "metadata": {"environment": "dev"},\n "version": "1.0"}',
            "DPN002",
            3,
            2,
        ),
        (
            "dupe.yaml",
            "version: '1.0'\nmetadata:\n  environment: dev\n  environment: prd\n",
            "DPN002",
            4,
            3,
        ),
        ("type.json", '{"version": "1.0", "metadata": {"environment": 3}}', "DPN010", 1, 48),
        (
            "collection.json",
            '{"version": "1.0", "metadata": {"environment": "dev"},\n'
            ' "resources": {"aws": {"s3_bucket": []}}}',
            "DPN011",
            2,
            24,
        ),
        ("missing.json", '{"version": "1.0"}', "DPN012", 1, 1),
        ("binary.json", "\x00\x01garbage", "DPN001", 1, 1),
    ],
)
def test_bad_input_is_a_located_finding_with_exit_one(
    tmp_path: Path, name: str, text: str, code: str, line: int, col: int
) -> None:
    p = write(tmp_path / name, text)
    result = dpn("lint", "--no-context", str(p))
    assert result.exit_code == 1
    assert f"{name}:{line}:{col}: {code}" in result.output, result.output


def test_unknown_collection_suggests_the_right_one(tmp_path: Path) -> None:
    p = write(
        tmp_path / "b.json",
        '{"version": "1.0", "metadata": {"environment": "dev"},'
        ' "resources": {"aws": {"s3_bucket": []}}}',
    )
    result = dpn("lint", "--no-context", str(p))
    assert "did you mean 's3_buckets'" in result.output.lower()


def test_unknown_reference_names_the_candidates(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(GOOD))
    bad["resources"]["aws"]["glue_tables"][0]["database_ref"] = "sales-brnze"
    p = write(tmp_path / "b.json", json.dumps(bad, indent=2))
    result = dpn("lint", "--no-context", str(p))
    assert result.exit_code == 1
    assert "DPN020" in result.output and "'sales-bronze'" in result.output


def test_missing_variable_names_the_variable_pattern_and_sources(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(GOOD))
    del bad["resources"]["aws"]["s3_buckets"][0]["layer"]
    p = write(tmp_path / "b.json", json.dumps(bad, indent=2))
    result = dpn("lint", "--no-context", str(p))
    assert result.exit_code == 1
    assert (
        "DPN030" in result.output
        and "{layer}" in result.output
        and "naming-values.yaml" in result.output
    )


def test_override_has_the_highest_precedence(tmp_path: Path) -> None:
    bp = write(tmp_path / "dev.json", json.dumps(GOOD))
    result = dpn("plan", "preview", "--format", "json", "--override", "project=sales", str(bp))
    assert result.exit_code == 0
    assert "sales-landing-raw-dev-use1" in {
        r["name"] for r in json.loads(result.output)["resources"]
    }


def test_bad_override_is_a_usage_finding(tmp_path: Path) -> None:
    bp = write(tmp_path / "dev.json", json.dumps(GOOD))
    result = dpn("lint", "--override", "no-equals-sign", str(bp))
    assert result.exit_code == 1
    assert "DPN205" in result.output


def test_config_that_loosens_a_cloud_limit_names_the_limit(tmp_path: Path) -> None:
    write(
        tmp_path / ".dpn/naming-patterns.yaml",
        'version: "1.0"\nvalidation:\n  max_length:\n    aws_s3_bucket: 80\n',
    )
    result = dpn("config", "validate")
    assert result.exit_code == 1
    assert ".dpn/naming-patterns.yaml:4:20: DPN200" in result.output
    assert "limit of 63" in result.output


def test_explain_shows_each_value_with_its_source(tmp_path: Path) -> None:
    bp = write(tmp_path / "dev.json", json.dumps(GOOD))
    result = dpn("explain", "aws_s3_bucket", "--blueprint", str(bp))
    assert result.exit_code == 0
    assert "project = 'dataplatform'" in result.output and "metadata" in result.output
    assert "region_short = 'use1' from region 'us-east-1'" in result.output
    assert "bucketnamingrules.html" in result.output
    assert "dataplatform-landing-raw-dev-use1" in result.output


def test_explain_rejects_an_unknown_type_with_a_suggestion(tmp_path: Path) -> None:
    result = dpn("explain", "aws_s3_buckt")
    assert result.exit_code == 2
    assert "aws_s3_bucket" in result.output


def test_schema_command_prints_the_committed_schema(tmp_path: Path) -> None:
    result = dpn("plan", "schema", "blueprint")
    assert result.exit_code == 0
    committed = Path(__file__).parent.parent / "schemas" / "blueprint.schema.json"
    assert json.loads(result.output) == json.loads(committed.read_text())


def test_plan_init_and_config_init_write_files_that_lint_clean(tmp_path: Path) -> None:
    assert dpn("config", "init").exit_code == 0
    assert dpn("plan", "init", "--env", "dev").exit_code == 0
    assert dpn("plan", "init", "--env", "dev").exit_code == 1  # never overwrites
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        ".dpn/naming-patterns.yaml",
        ".dpn/naming-values.yaml",
        "blueprints/dev.json",
    ]
    result = dpn("lint")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no problems found"
    named = dpn("lint", "--strict", *written)
    assert (named.exit_code, named.output.strip()) == (0, "no problems found"), named.output


def test_no_traceback_for_a_missing_file(tmp_path: Path) -> None:
    proc = dpn_process(tmp_path, "lint", "--no-context", "nope.json")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "nope.json" in proc.stdout and "DPN003" in proc.stdout


def test_lint_path_imports_no_cloud_sdk_nor_pydantic(tmp_path: Path) -> None:
    bp = write(tmp_path / "dev.json", json.dumps(GOOD))
    code = (
        "import sys\n"
        "from dpn_action.cli import main\n"
        "try:\n"
        f"    main(['lint', '--no-context', {str(bp)!r}])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'databricks', 'pydantic', 'rich'))\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


def test_starting_dpn_imports_no_transaction_code_and_keeps_its_default() -> None:
    """The command line spells the default --max-parallel itself, so that every lint and
    hook does not import the transaction package for one number; it is the core's."""
    from dpn_action.cli.provision import DEFAULT_MAX_PARALLEL as SPELLED
    from dpn_action.txn.model import DEFAULT_MAX_PARALLEL

    assert SPELLED == DEFAULT_MAX_PARALLEL
    code = (
        "import sys\n"
        "import dpn_action.cli\n"
        "print('TXN', sorted(m for m in sys.modules if m.startswith('dpn_action.txn')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "TXN []" in proc.stdout
