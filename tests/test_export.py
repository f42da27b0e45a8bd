"""`dpn export`: the planned names as Terraform (HCL `locals`, `.auto.tfvars.json`), JSON for
CDK and Pulumi, and dotenv; stable keys and order, the plan hash carried along."""

from __future__ import annotations

import json
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
from conftest import blueprint, dpn, write

from dpn_action.export import FORMATS, Exported, dotenv_keys, hcl_string

DEV = blueprint(
    {
        "aws": {
            "s3_buckets": [
                {"purpose": "landing", "layer": "raw"},
                # its id is the key the first one gets from its values: told apart
                {"id": "landing_raw", "purpose": "landing", "layer": "gold"},
            ],
            "glue_databases": [{"domain": "sales", "layer": "bronze"}],
            "glue_tables": [{"database_ref": "sales-bronze", "entity": "orders"}],
        },
        "databricks": {
            "jobs": [{"id": "nightly", "job_type": "batch", "purpose": "load"}],
            "unity_catalog": {
                "catalogs": [
                    {
                        "catalog_type": "main",
                        "schemas": [
                            {"domain": "sales", "layer": "silver", "tables": [{"entity": "x"}]}
                        ],
                    }
                ]
            },
        },
    }
)
PRD = blueprint(
    {"aws": {"s3_buckets": [{"purpose": "landing", "layer": "raw"}]}},
    metadata={"environment": "prd"},
)


@pytest.fixture
def repo(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with a dev and a prd blueprint, as the current directory."""
    write(git_repo / "blueprints" / "dev.json", json.dumps(DEV, indent=2))
    write(git_repo / "blueprints" / "prd.json", json.dumps(PRD, indent=2))
    monkeypatch.chdir(git_repo)
    return git_repo


def export(*args: str) -> str:
    result = dpn("export", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def preview_hash(*files: str) -> str:
    doc = json.loads(dpn("plan", "preview", "--format", "json", *files).stdout)
    hashed: str = doc["plan_hash"]
    return hashed


# ------------------------------------------------------------------- terraform fmt, restated
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _outside_strings(text: str, change: Any) -> str:
    """`text` with `change` applied to what is not inside a string literal."""
    out, pos = [], 0
    for m in _STRING.finditer(text):
        out += [change(text[pos : m.start()]), m.group()]
        pos = m.end()
    return "".join([*out, change(text[pos:])])


def _brackets(text: str) -> int:
    code = _STRING.sub('""', text).split("#", 1)[0]
    return sum(code.count(c) for c in "{[(") - sum(code.count(c) for c in "}])")


def terraform_fmt(text: str) -> str:
    """`text` as `terraform fmt` leaves it, for HCL of the shape dpn writes (comments,
    blocks, objects of one-line attributes). The rules of hclwrite's formatter, restated:
    a line is indented two spaces for each bracket open around it (a line that opens one
    is indented at the outer level, a line that closes one at the level it returns to);
    tokens are one space apart; and the `=` of neighbouring lines that are each a whole
    attribute (`key = value`, brackets balanced) line up one space after the longest key.
    A line that opens a multi-line value, a closing bracket, a comment or a blank line
    ends such a run."""
    depth = 0
    rows: list[tuple[int, str, str | None] | None] = []
    for raw in text.rstrip("\n").split("\n"):
        line = raw.strip()
        if not line:
            rows.append(None)
            continue
        net = _brackets(line)
        indent = max(depth + min(net, 0), 0)
        depth = indent + (1 if net > 0 else 0)
        spaced = _outside_strings(line, lambda s: re.sub(r"\s*=\s*", " = ", re.sub(r"\s+", " ", s)))
        code = _STRING.sub(lambda m: "x" * len(m.group()), spaced)
        eq = code.find(" = ")
        if eq > 0 and not code.startswith("#") and _brackets(spaced[eq:]) == 0:
            rows.append((indent, spaced[:eq], spaced[eq + 1 :]))
        else:
            rows.append((indent, spaced, None))
    out: list[str] = []
    run: list[tuple[int, str, str]] = []

    def close() -> None:
        width = max((2 * i + len(lead) for i, lead, _ in run), default=0)
        for i, lead, assign in run:
            out.append(" " * (2 * i) + lead + " " * (width - 2 * i - len(lead) + 1) + assign)
        run.clear()

    for row in rows:
        if row is not None and row[2] is not None:
            run.append((row[0], row[1], row[2]))
            continue
        close()
        out.append("" if row is None else " " * (2 * row[0]) + row[1])
    close()
    return "\n".join(out) + "\n"


@pytest.mark.parametrize(
    ("given", "formatted"),
    [
        ("b {\na = 1\n}\n", "b {\n  a = 1\n}\n"),
        ("a = 1\nbungle = 2\n", "a      = 1\nbungle = 2\n"),
        ("a = 1\n\nbungle = 2\n", "a = 1\n\nbungle = 2\n"),
        (
            'x = {\n    a = "1"\n  bb = {\n c=2\n  }\n}\n',
            'x = {\n  a = "1"\n  bb = {\n    c = 2\n  }\n}\n',
        ),
        ('l {\n  "k.1" = "v"\n  k = "a = b"\n}\n', 'l {\n  "k.1" = "v"\n  k     = "a = b"\n}\n'),
    ],
)
def test_the_restated_formatter_formats_as_terraform_fmt_does(given: str, formatted: str) -> None:
    assert terraform_fmt(given) == formatted
    assert terraform_fmt(formatted) == formatted


# -------------------------------------------------------------------------------- terraform
def test_terraform_output_is_fmt_clean_and_parses_to_the_planned_names(repo: Path) -> None:
    text = export("--format", "terraform")
    assert terraform_fmt(text) == text
    assert not [line for line in text.splitlines() if line != line.rstrip() or "\t" in line]
    options = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False)
    [local] = hcl2.loads(text, serialization_options=options)["locals"]
    names = {k.strip('"'): v for k, v in local["dpn_names"]["dev"]["aws_s3_bucket"].items()}
    assert names == {
        "landing_raw": "dataplatform-landing-raw-dev-use1",
        "landing_raw_2": "dataplatform-landing-gold-dev-use1",
    }
    assert local["dpn_names"]["prd"]["aws_s3_bucket"] == {
        "landing_raw": "dataplatform-landing-raw-prd-use1"
    }
    glue = local["dpn_full_names"]["dev"]["aws_glue_table"]
    assert {k.strip('"'): v for k, v in glue.items()} == {
        "sales_bronze.orders": "dataplatform_sales_bronze_dev.fact_orders"
    }
    uc = {k.strip('"'): v for k, v in local["dpn_full_names"]["dev"]["dbx_table"].items()}
    assert uc == {"main.sales_silver.x": "dataplatform_main_dev.sales_silver.fact_x"}
    assert local["dpn_names"]["dev"]["dbx_job"] == {"nightly": "dataplatform-batch-load-dev"}


def test_terraform_output_carries_each_plan_hash_in_a_comment(repo: Path) -> None:
    text = export("--format", "terraform")
    dev, prd = preview_hash("blueprints/dev.json"), preview_hash("blueprints/prd.json")
    assert f"# plan hash of dev: {dev}\n" in text and f"# plan hash of prd: {prd}\n" in text
    assert f"# plan hash: {preview_hash('blueprints/dev.json', 'blueprints/prd.json')}" in text


def test_an_hcl_string_reads_back_as_written() -> None:
    tricky = 'a "quoted" \\ path ${var.x} %{if} tab\there\nline é'
    text = f"locals {{\n  x = {hcl_string(tricky)}\n}}\n"
    options = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False)
    parsed = hcl2.loads(text, serialization_options=options)["locals"][0]["x"]
    # the parser undoes the escapes but the template ones, `$${` and `%%{`
    assert parsed.replace("$${", "${").replace("%%{", "%{") == tricky
    assert "${" not in parsed.replace("$${", "") and "%{" not in parsed.replace("%%{", "")


# ------------------------------------------------------------------------- JSON and tfvars
def test_json_parses_round_trips_and_matches_the_preview(repo: Path) -> None:
    text = export("--format", "json")
    doc = json.loads(text)
    assert json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text
    assert doc["environments"]["dev"]["plan_hash"] == preview_hash("blueprints/dev.json")
    preview = json.loads(dpn("plan", "preview", "--format", "json", "blueprints/dev.json").stdout)
    exported = {
        name for names in doc["environments"]["dev"]["names"].values() for name in names.values()
    }
    assert exported == {r["name"] for r in preview["resources"]}


def test_tfvars_output_sets_three_variables(repo: Path) -> None:
    doc = json.loads(export("--format", "tfvars"))
    assert sorted(doc) == ["dpn_full_names", "dpn_names", "dpn_plan_hash"]
    assert doc["dpn_names"]["prd"] == {
        "aws_s3_bucket": {"landing_raw": "dataplatform-landing-raw-prd-use1"}
    }


def test_output_is_the_same_whatever_the_order_of_files_and_entries(repo: Path) -> None:
    first = {fmt: export("--format", fmt) for fmt in ("terraform", "json", "tfvars")}
    shuffled = json.loads(json.dumps(DEV))
    for provider in shuffled["resources"].values():
        for key in list(provider)[::-1]:
            provider[key] = provider.pop(key)
    write(repo / "blueprints" / "dev.json", json.dumps(shuffled))
    for fmt, text in first.items():
        assert export("--format", fmt, "blueprints/prd.json", "blueprints/dev.json") == text


def test_keys_stay_when_the_naming_pattern_changes(repo: Path) -> None:
    before = json.loads(export("--format", "json"))["environments"]["dev"]["names"]
    write(
        repo / ".dpn" / "naming-patterns.yaml",
        'version: "1.0"\npatterns:\n  aws_s3_bucket: "{project}-{layer}-{purpose}-{environment}"\n',
    )
    after = json.loads(export("--format", "json"))["environments"]["dev"]["names"]
    assert after["aws_s3_bucket"] == {
        "landing_raw": "dataplatform-raw-landing-dev",
        "landing_raw_2": "dataplatform-gold-landing-dev",
    }
    assert {t: sorted(k) for t, k in after.items()} == {t: sorted(k) for t, k in before.items()}


# ----------------------------------------------------------------------------------- dotenv
def test_dotenv_keys_are_unique_shell_names_and_the_file_sources(repo: Path) -> None:
    text = export("--format", "dotenv", "--environment", "dev")
    assert f"# plan hash: {preview_hash('blueprints/dev.json')}\n" in text
    pairs = [line.split("=", 1) for line in text.splitlines() if not line.startswith("#")]
    keys = [k for k, _ in pairs]
    assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*", k) for k in keys)
    assert len(set(keys)) == len(keys) and keys == sorted(keys)
    env_file = write(repo / "names.env", text)
    shell = subprocess.run(
        ["sh", "-c", f'set -a; . "{env_file}"; env'], capture_output=True, text=True, check=True
    )
    got = dict(line.split("=", 1) for line in shell.stdout.splitlines() if line.startswith("DPN_"))
    assert got["DPN_AWS_S3_BUCKET_LANDING_RAW"] == "dataplatform-landing-raw-dev-use1"
    assert got["DPN_AWS_S3_BUCKET_LANDING_RAW_2"] == "dataplatform-landing-gold-dev-use1"
    assert got["DPN_DBX_JOB_NIGHTLY"] == "dataplatform-batch-load-dev"
    assert got["DPN_AWS_GLUE_TABLE_SALES_BRONZE_ORDERS__FULL_NAME"] == (
        "dataplatform_sales_bronze_dev.fact_orders"
    )
    assert len(got) == len(keys)


def test_dotenv_holds_one_environment(repo: Path) -> None:
    result = dpn("export", "--format", "dotenv")
    assert result.exit_code == 2, result.output
    assert "a dotenv file holds one environment; these blueprints plan dev, prd" in result.output
    assert "--environment" in result.output


def test_dotenv_keys_that_come_out_the_same_are_told_apart_in_order() -> None:
    entries = [
        Exported("dev", "aws_s3_bucket", "landing_raw", "b", "b"),
        Exported("dev", "aws_s3_bucket", "landing-raw", "a", "a"),
        Exported("dev", "aws_s3_bucket", "Landing.Raw", "c", "c"),
    ]
    keys = dotenv_keys(entries)
    assert keys == {
        ("aws_s3_bucket", "Landing.Raw", False): "DPN_AWS_S3_BUCKET_LANDING_RAW",
        ("aws_s3_bucket", "landing-raw", False): "DPN_AWS_S3_BUCKET_LANDING_RAW_2",
        ("aws_s3_bucket", "landing_raw", False): "DPN_AWS_S3_BUCKET_LANDING_RAW_3",
    }
    assert dotenv_keys(entries[::-1]) == keys


# ------------------------------------------------------------------------ output and errors
def test_output_file_is_written_atomically_in_the_format_its_name_says(repo: Path) -> None:
    target = write(repo / "infra" / "dpn.auto.tfvars.json", "{}\n")
    target.chmod(0o600)
    result = dpn("export", "-o", "infra/dpn.auto.tfvars.json")
    assert result.exit_code == 0 and result.stdout == ""
    assert sorted(json.loads(target.read_text(encoding="utf-8"))) == [
        "dpn_full_names",
        "dpn_names",
        "dpn_plan_hash",
    ]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    dpn("export", "-o", "infra/names.tf")
    assert (repo / "infra" / "names.tf").read_text(encoding="utf-8").startswith("# Names planned")
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_blueprint_with_errors_exports_nothing(repo: Path) -> None:
    bad = json.loads(json.dumps(DEV))
    bad["resources"]["aws"]["s3_buckets"][0]["name"] = "xn--bucket"
    write(repo / "blueprints" / "dev.json", json.dumps(bad))
    result = dpn("export", "--format", "terraform", "-o", "names.tf")
    assert result.exit_code == 1
    assert result.stdout == "" and "DPN103" in result.stderr
    assert not (repo / "names.tf").exists()


def test_the_command_line_offers_every_format() -> None:
    from dpn_action.cli.exporting import _FORMATS

    assert _FORMATS == FORMATS


def test_the_examples_of_docs_export_md_are_lines_of_real_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Terraform and dotenv examples are shortened output for the example blueprint:
    every line they show is a line dpn writes for it, in the same order."""
    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "export.md").read_text(encoding="utf-8")
    monkeypatch.chdir(root / "examples")
    for fence, fmt in (("```hcl\n# Names", "terraform"), ("```\n# Names", "dotenv")):
        start = doc.index(fence) + len(fence.split("\n")[0]) + 1
        shown = doc[start : doc.index("```", start)].splitlines()
        real = export("--format", fmt, "blueprints/dev.json").splitlines()
        at = 0
        for line in shown:
            assert line in real[at:], f"{line!r} is not dpn's output (in this order)"
            at = real.index(line, at) + 1
