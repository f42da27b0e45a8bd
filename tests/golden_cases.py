"""Inputs and commands whose output is pinned byte for byte (`tests/test_golden.py`).

Each case lays out a small repository in a directory and names the `dpn` commands to run
there; `tests/fixtures/golden/<case>.txt` holds what those commands printed (exit status,
stdout, stderr) when the files were made. The outputs are the previews, plan hashes,
findings and exports users and the GitHub Action depend on, so a speed-up must leave them
as they are.

The files were written by dpn 0.2.0 before the work on large previews, with

    PYTHONPATH=<a checkout of that commit> python tests/golden_cases.py --write

Write them again only for a change whose new output is intended, and say so in its commit.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden"


def generated(n: int, environment: str = "dev", tag: str = "") -> dict[str, Any]:
    """About `n` clean resources over S3, Glue, Lambda, SQS, clusters, jobs and a Unity
    Catalog tree (the shape `benchmarks/generate.py` writes, kept here so that the pinned
    input never changes)."""
    aws: dict[str, list[dict[str, Any]]] = {
        "s3_buckets": [],
        "glue_databases": [],
        "glue_tables": [],
        "lambda_functions": [],
        "sqs_queues": [],
    }
    dbx: dict[str, Any] = {"clusters": [], "jobs": [], "unity_catalog": {"catalogs": []}}
    per = max(n // 8, 1)
    for i in range(per):
        aws["s3_buckets"].append({"purpose": f"p{tag}{i}", "layer": "raw", "versioning": True})
        aws["glue_databases"].append({"id": f"db{i}", "domain": f"d{tag}{i}", "layer": "bronze"})
        aws["glue_tables"].append(
            {
                "database_ref": f"db{i}",
                "entity": f"orders{i}",
                "columns": [{"name": "id", "type": "bigint"}],
            }
        )
        aws["lambda_functions"].append({"domain": f"d{tag}{i}", "trigger": "s3", "action": "load"})
        aws["sqs_queues"].append({"purpose": f"q{tag}{i}", "queue_type": "std"})
        dbx["clusters"].append(
            {"id": f"c{i}", "workload": f"w{tag}{i}", "cluster_type": "shared", "node_type": "i3"}
        )
        dbx["jobs"].append(
            {"job_type": "batch", "purpose": f"load{tag}{i}", "cluster_ref": f"c{i}"}
        )
    schemas = [
        {"domain": f"s{tag}{i}", "layer": "silver", "tables": [{"entity": "t"}]}
        for i in range(max((n - 7 * per) // 2, 1))
    ]
    dbx["unity_catalog"]["catalogs"].append({"catalog_type": f"main{tag}", "schemas": schemas})
    return {
        "version": "1.0",
        "metadata": {"environment": environment, "project": "bench", "region": "us-east-1"},
        "resources": {"aws": aws, "databricks": dbx},
    }


def messy() -> dict[str, Any]:
    """A blueprint with a bit of everything a finding can be about: clashes (case folded
    too, within a Unity Catalog schema, a Glue database), values normalised, unknown and
    misspelt fields, a missing required value, names over the limit (an error, and
    shortened with a hash), an explicit name, references by id and short key, a bad one,
    depends_on, tags, FIFO queues, a scope that leaves a type out."""
    return {
        "version": "1.0",
        "metadata": {
            "environment": "dev",
            "project": "Data Platform",
            "region": "eu-west-1",
            "team": "data-engineering",
            "cost_center": "IT-1001",
        },
        "scope": {"mode": "exclude", "patterns": ["dbx_volume"]},
        "resources": {
            "aws": {
                "s3_buckets": [
                    {"id": "landing", "purpose": "landing", "layer": "raw"},
                    {"purpose": "landing", "layer": "raw"},
                    {"purpose": " Lake House ", "layer": "Bronze", "tags": {"owner": "x/y"}},
                    {"purpose": "a" * 70, "layer": "raw"},
                    {"purpsoe": "typo", "layer": "raw"},
                    {"name": "my-explicit-bucket", "purpose": "explicit", "layer": "raw"},
                    {"purpose": "dots.and~tilde/slash", "layer": "raw", "nested~key/x": "v"},
                ],
                "glue_databases": [
                    {"id": "db", "domain": "sales", "layer": "bronze"},
                    {"domain": "sales", "layer": "silver"},
                ],
                "glue_tables": [
                    {"database_ref": "db", "entity": "orders", "columns": []},
                    {"database_ref": "sales-silver", "entity": "orders", "columns": []},
                    {"database_ref": "db", "entity": "Orders", "columns": []},
                    {"database_ref": "nope", "entity": "lost", "columns": []},
                ],
                "iam_roles": [
                    {"id": "r1", "service": "glue", "purpose": "crawler"},
                    {"service": "GLUE", "purpose": "Crawler"},
                    {
                        "service": "lambda",
                        "purpose": "x" * 60,
                        "on_too_long": "hash",
                        "keep": ["project"],
                    },
                ],
                "sqs_queues": [
                    {"purpose": "orders", "queue_type": "q", "fifo": True},
                    {"purpose": "orders", "queue_type": "q"},
                    {"purpose": "events", "queue_type": "std", "depends_on": ["landing", "zz"]},
                ],
                "lambda_functions": [
                    {"domain": "orders", "trigger": "s3", "role_ref": "r1"},
                ],
            },
            "databricks": {
                "clusters": [
                    {"workload": "etl", "cluster_type": "shared"},
                    {"workload": "ETL", "cluster_type": "Shared", "num_workers": 2},
                ],
                "jobs": [
                    {"job_type": "batch", "purpose": "load", "cluster_ref": "etl"},
                    {"job_type": "batch", "purpose": "load", "schedule": "daily"},
                ],
                "unity_catalog": {
                    "catalogs": [
                        {
                            "catalog_type": "main",
                            "schemas": [
                                {
                                    "domain": "sales",
                                    "layer": "gold",
                                    "tables": [{"entity": "t"}, {"entity": "t"}],
                                    "volumes": [{"data_type": "raw", "purpose": "files"}],
                                },
                                {"domain": "Sales", "layer": "Gold", "tables": [{"entity": "u"}]},
                            ],
                        },
                        {"catalog_type": "main", "schemas": []},
                    ]
                },
            },
        },
    }


def _write_json(path: Path, doc: Any, indent: int | None = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=indent) + "\n", encoding="utf-8")


def _examples(root: Path) -> None:
    shutil.copytree(REPO / "examples", root, dirs_exist_ok=True)


def _big(root: Path) -> None:
    _write_json(root / "big.json", generated(2000))


def _messy(root: Path) -> None:
    _write_json(root / "blueprints" / "messy.json", messy())
    (root / "blueprints" / "messy.yaml").write_text(
        "version: '1.0'\nmetadata: {environment: prd, project: acme, region: us-west-2}\n"
        "resources:\n  aws:\n    s3_buckets:\n"
        "      - {purpose: landing, layer: raw}\n      - {purpose: landing, layer: raw}\n"
        "      - {purpose: Mixed Case, layer: raw, extra_field: 1}\n",
        encoding="utf-8",
    )


def _repository(root: Path) -> None:
    """A repository of blueprints with its configs; the first one changes, clashing with
    two of the others (one of them twice), which also clash among themselves."""
    shutil.copytree(REPO / "examples" / ".dpn", root / ".dpn")
    (root / ".git").mkdir()
    for k in range(6):
        _write_json(root / "blueprints" / f"bp{k}.json", generated(40, tag=f"f{k}"))
    changed = generated(40, tag="f0")
    changed["resources"]["aws"]["s3_buckets"][0]["purpose"] = "pf20"
    changed["resources"]["aws"]["s3_buckets"][1]["purpose"] = "pf31"
    changed["resources"]["aws"]["sqs_queues"][0]["purpose"] = "Mixed Case"
    _write_json(root / "blueprints" / "bp0.json", changed)
    other = generated(40, tag="f3")
    other["resources"]["aws"]["s3_buckets"][2]["purpose"] = "pf31"
    _write_json(root / "blueprints" / "bp3.json", other)
    team = root / "teams" / "a"
    (team / ".dpn").mkdir(parents=True)
    shutil.copy(REPO / "examples" / ".dpn" / "naming-values.yaml", team / ".dpn")
    _write_json(team / "blueprints" / "t.json", generated(16, tag="f2"))


#: case -> (lay out its files in a directory, the commands to run there)
CASES: dict[str, tuple[Callable[[Path], None], list[list[str]]]] = {
    "examples": (
        _examples,
        [
            [
                "plan",
                "preview",
                "--format",
                "json",
                *sorted(
                    f"blueprints/{n}"
                    for n in ("analytics.yaml", "dev.json", "prd.json", "stg.json")
                ),
            ],
            ["plan", "preview", "--format", "json", "blueprints/dev.json"],
            ["plan", "preview", "--format", "json", "--type", "aws_*", "blueprints/prd.json"],
            [
                "plan",
                "preview",
                "--format",
                "json",
                "original/blueprints/dev.json",
                "original/blueprints/prd.json",
            ],
            ["plan", "preview", "blueprints/stg.json"],
            ["export", "--format", "json", "blueprints/dev.json", "blueprints/prd.json"],
            ["lint", "--format", "json"],
        ],
    ),
    "generated-2000": (
        _big,
        [
            ["plan", "preview", "--format", "json", "big.json"],
            ["plan", "preview", "--format", "json", "--override", "project=Other Name", "big.json"],
            ["lint", "--format", "json", "big.json"],
        ],
    ),
    "messy": (
        _messy,
        [
            ["plan", "preview", "--format", "json", "blueprints/messy.json"],
            [
                "plan",
                "preview",
                "--format",
                "json",
                "blueprints/messy.json",
                "blueprints/messy.yaml",
            ],
            ["plan", "preview", "blueprints/messy.json"],
            ["lint", "--format", "json", "blueprints/messy.json"],
            ["lint", "--format", "text"],
            ["export", "--format", "json", "blueprints/messy.json"],
        ],
    ),
    "repository": (
        _repository,
        [
            ["lint", "--format", "json", "blueprints/bp0.json"],
            ["lint", "--format", "text", "blueprints/bp3.json"],
            ["lint", "--format", "text", "teams/a/blueprints/t.json"],
            [
                "lint",
                "--format",
                "text",
                "--context",
                "blueprints/bp[12].json",
                "blueprints/bp0.json",
            ],
            ["lint", "--format", "json"],
            ["plan", "preview", "--format", "json", "blueprints/bp0.json", "blueprints/bp3.json"],
        ],
    ),
}


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run(args: list[str]) -> str:
    """`dpn ARGS` in this process, in the current directory: its exit status and what it
    printed, as one text."""
    from dpn_action.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main.main(args, prog_name="dpn", standalone_mode=False)
            code: object = 0
        except SystemExit as exc:
            code = exc.code
    return f"$ dpn {' '.join(args)}\n[exit {code}]\n{out.getvalue()}[stderr]\n{err.getvalue()}"


def outputs(case: str, where: Path, *, lay_out: bool = True) -> str:
    """Lay out `case` in the empty directory `where` (unless `lay_out` is false: it is
    there already), run its commands there, and return everything they printed."""
    layout, commands = CASES[case]
    if lay_out:
        where.mkdir(parents=True)
        layout(where)
    env = {k: os.environ.pop(k) for k in ("GITHUB_ACTIONS", "COLUMNS") if k in os.environ}
    os.environ["COLUMNS"] = "120"
    try:
        with _cwd(where):
            return "".join(run(c) for c in commands)
    finally:
        os.environ.pop("COLUMNS", None)
        os.environ.update(env)


def golden_path(case: str) -> Path:
    """Where a case's outputs are kept (the large ones gzipped)."""
    plain = GOLDEN / f"{case}.txt"
    return plain if case in SMALL else plain.with_suffix(".txt.gz")


#: cases whose outputs are kept as plain text
SMALL = frozenset({"examples", "messy", "repository"})


def read_golden(case: str) -> str:
    path = golden_path(case)
    raw = path.read_bytes()
    return (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")


def write_golden(case: str, text: str) -> None:
    path = golden_path(case)
    raw = text.encode("utf-8")
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--write"]:
        raise SystemExit(__doc__)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        with tempfile.TemporaryDirectory() as d:
            text = outputs(name, Path(d) / "run")
        write_golden(name, text)
        print(f"{golden_path(name)}: {len(text):,} characters")
