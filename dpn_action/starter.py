"""Starter files written by `dpn plan init` and `dpn config init`."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.naming.regions import short_region
from dpn_action.schema_files import SCHEMA_BASE, SCHEMA_FILES


def write_new(path: Path, text: str, force: bool) -> None:
    """Write atomically; never overwrite a user's file unless asked to."""
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _schema_comment(kind: str) -> str:
    return f"# yaml-language-server: $schema={SCHEMA_BASE}/{SCHEMA_FILES[kind]}\n"


def starter_blueprint(environment: str, project: str, region: str, *, yaml: bool = False) -> str:
    doc = {
        "$schema": f"{SCHEMA_BASE}/{SCHEMA_FILES['blueprint']}",
        "version": "1.0",
        "metadata": {
            "environment": environment,
            "project": project,
            "region": region,
            "team": "data-engineering",
            "cost_center": "CC-0000",
            "data_classification": "internal",
        },
        "resources": {
            "aws": {
                "s3_buckets": [{"purpose": "landing", "layer": "raw", "versioning": True}],
                "glue_databases": [{"domain": "sales", "layer": "bronze"}],
                "glue_tables": [
                    {
                        "database_ref": "sales-bronze",
                        "entity": "orders",
                        "columns": [{"name": "order_id", "type": "bigint"}],
                    }
                ],
            },
            "databricks": {
                "clusters": [
                    {"workload": "etl", "cluster_type": "shared", "node_type": "i3.xlarge"}
                ],
                "jobs": [{"job_type": "batch", "purpose": "load", "cluster_ref": "etl"}],
                "unity_catalog": {
                    "catalogs": [
                        {
                            "catalog_type": "main",
                            "schemas": [
                                {
                                    "domain": "sales",
                                    "layer": "bronze",
                                    "tables": [{"entity": "orders"}],
                                }
                            ],
                        }
                    ]
                },
            },
        },
    }
    if yaml:
        import yaml as pyyaml

        del doc["$schema"]
        return _schema_comment("blueprint") + pyyaml.safe_dump(doc, sort_keys=False)
    return json.dumps(doc, indent=2) + "\n"


def starter_values(project: str, environment: str, region: str) -> str:
    import yaml

    envs = {env: {"environment": env} for env in dict.fromkeys(("dev", "stg", "prd", environment))}
    doc = {
        "version": "1.0",
        "defaults": {"project": project, "region": region, "team": "data-engineering"},
        "environments": envs,
        "resource_types": {},
        "custom": {},
    }
    return (
        _schema_comment("naming-values")
        + "# Precedence, lowest to highest: defaults < environments.<env> <\n"
        + "# resource_types.<type> < blueprint metadata < entry fields < --override\n"
        + yaml.safe_dump(doc, sort_keys=False)
    )


def starter_patterns() -> str:
    import yaml

    regions = (
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-2",
        "eu-central-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
    )
    doc = {
        "version": "1.0",
        "patterns": {k: t.pattern for k, t in CATALOGUE.items()},
        "transformations": {
            "region_mapping": {r: short_region(r) for r in regions},
            "lowercase": ["project", "environment"],
            "hash_generation": {"algorithm": "sha256", "length": 8},
        },
        "validation": {
            "max_length": {},
            "allowed_chars": {},
            "required_variables": {},
            "on_too_long": {},
        },
    }
    return (
        _schema_comment("naming-patterns")
        + "# Rules here can only be stricter than the cloud's own.\n"
        + yaml.safe_dump(doc, sort_keys=False)
    )
