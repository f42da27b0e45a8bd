"""Generate large, valid blueprints for benchmarks.

python benchmarks/generate.py 10000 > /tmp/big.json
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any


def script(name: str) -> str | None:
    """The console script `name` installed next to this interpreter, else on PATH: a version
    manager's shim on PATH would add its own start-up to every timed run."""
    here = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(name, path=here)


def blueprint(n: int, environment: str = "dev", tag: str = "") -> dict[str, Any]:
    """A blueprint of about `n` resources spread over S3, Glue, Lambda, SQS, clusters, jobs
    and a Unity Catalog tree. `tag` keeps names unique across generated files."""
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
            {
                "id": f"c{i}",
                "workload": f"w{tag}{i}",
                "cluster_type": "shared",
                "node_type": "i3.xlarge",
            }
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


def count(doc: dict[str, Any]) -> int:
    res = doc["resources"]
    n = sum(len(v) for v in res["aws"].values())
    n += len(res["databricks"]["clusters"]) + len(res["databricks"]["jobs"])
    for c in res["databricks"]["unity_catalog"]["catalogs"]:
        n += 1 + sum(1 + len(s.get("tables", [])) for s in c["schemas"])
    return n


if __name__ == "__main__":
    doc = blueprint(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
    json.dump(doc, sys.stdout, indent=1)
