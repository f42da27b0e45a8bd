"""Speed of the pre-commit hooks, measured side by side in one run.

    python benchmarks/bench_hooks.py [--runs 15] [--blueprints 200] [--per-blueprint 20]

1. One hook invocation (`dpn-hook-lint`, the `dpn-lint` hook's entry, as a whole process) on
   one blueprint plus both naming configs, against `check-jsonschema --schemafile
   schemas/blueprint.schema.json` on the same blueprint. Runs alternate between the two
   commands; the medians and their ratio are printed.
2. `pre-commit run dpn-lint --all-files` in a generated git repository of N blueprints of M
   resources each (plus `.dpn/` configs), with the hook taken from a snapshot of this
   repository. The hook environment is installed first and not timed.

Needs `check-jsonschema` and `pre-commit` on PATH (`pip install '.[test]'`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from generate import script  # noqa: E402

SCHEMA = ROOT / "schemas" / "blueprint.schema.json"


def resources(tag: str, n: int) -> dict[str, Any]:
    """`n` resources (n >= 10) over AWS and Databricks; `tag` keeps names unique per file."""
    aws: dict[str, list[dict[str, Any]]] = {
        "s3_buckets": [],
        "glue_databases": [],
        "glue_tables": [],
        "lambda_functions": [],
        "sqs_queues": [],
    }
    dbx: dict[str, Any] = {"clusters": [], "jobs": [], "unity_catalog": {"catalogs": []}}
    schemas: list[dict[str, Any]] = []
    dbx["unity_catalog"]["catalogs"].append({"catalog_type": f"c{tag}", "schemas": schemas})
    made = 1  # the catalog
    i = 0
    makers = [
        lambda i: aws["s3_buckets"].append({"purpose": f"p{tag}x{i}", "layer": "raw"}),
        lambda i: aws["glue_databases"].append(
            {"id": f"db{i}", "domain": f"d{tag}x{i}", "layer": "bronze"}
        ),
        lambda i: aws["glue_tables"].append(
            {"database_ref": "db0", "entity": f"e{i}", "columns": [{"name": "id", "type": "int"}]}
        ),
        lambda i: aws["lambda_functions"].append(
            {"domain": f"d{tag}x{i}", "trigger": "s3", "action": "load"}
        ),
        lambda i: aws["sqs_queues"].append({"purpose": f"q{tag}x{i}", "queue_type": "std"}),
        lambda i: dbx["clusters"].append(
            {"id": f"c{i}", "workload": f"w{tag}x{i}", "cluster_type": "shared"}
        ),
        lambda i: dbx["jobs"].append(
            {"job_type": "batch", "purpose": f"l{tag}x{i}", "cluster_ref": "c0"}
        ),
        lambda i: schemas.append({"domain": f"s{i}", "layer": "silver"}),
    ]
    while made < n:
        makers[i % len(makers)](i // len(makers))
        made += 1
        i += 1
    return {"aws": aws, "databricks": dbx}


def blueprint(tag: str, n: int) -> str:
    doc = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": "bench", "region": "us-east-1"},
        "resources": resources(tag, n),
    }
    return json.dumps(doc, indent=2) + "\n"


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return took


def make_repo(path: Path, blueprints: int, per: int) -> None:
    (path / "blueprints").mkdir(parents=True)
    subprocess.run(["dpn", "config", "init"], cwd=path, check=True, capture_output=True)
    for k in range(blueprints):
        (path / "blueprints" / f"bp{k:03d}.json").write_text(blueprint(f"b{k}", per))


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com"}
    env |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    out = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env
    )
    return out.stdout.strip()


def snapshot(dest: Path) -> str:
    """This repository's files (tracked and new, not ignored) as they are in the working tree,
    committed in a clone, so pre-commit installs the code being measured. Returns the commit."""
    git("clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest), cwd=ROOT)
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        src, dst = ROOT / name, dest / name
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        elif dst.exists():
            dst.unlink()
    git("add", "-A", cwd=dest)
    git("commit", "--quiet", "--allow-empty", "-m", "snapshot", cwd=dest)
    return git("rev-parse", "HEAD", cwd=dest)


def bench_one(tmp: Path, runs: int, per: int) -> None:
    repo = tmp / "one"
    make_repo(repo, 1, per)
    files = ["blueprints/bp000.json", ".dpn/naming-values.yaml", ".dpn/naming-patterns.yaml"]
    hook = [script("dpn-hook-lint") or "dpn-hook-lint", *files]
    check = [
        script("check-jsonschema") or "check-jsonschema",
        "--schemafile",
        str(SCHEMA),
        "blueprints/bp000.json",
    ]
    run(hook, repo)  # warm the file cache and __pycache__ of both
    run(check, repo)
    hook_times, check_times = [], []
    for _ in range(runs):
        hook_times.append(run(hook, repo))
        check_times.append(run(check, repo))
    h, c = statistics.median(hook_times), statistics.median(check_times)
    print(f"one blueprint ({per} resources) + both configs, median of {runs} runs each:")
    print(f"  dpn-lint hook entry      {h * 1000:7.0f} ms")
    print(f"  check-jsonschema         {c * 1000:7.0f} ms")
    print(f"  ratio hook / check-jsonschema = {h / c:.2f} (target <= 0.50)")


def bench_all_files(tmp: Path, runs: int, blueprints: int, per: int) -> None:
    src = tmp / "dpn-src"
    rev = snapshot(src)
    repo = tmp / "many"
    make_repo(repo, blueprints, per)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {src}\n  rev: {rev}\n  hooks:\n  - id: dpn-lint\n"
    )
    git("init", "--quiet", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "generated", cwd=repo)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp / "pre-commit-home")}
    env.pop("GITHUB_ACTIONS", None)
    run([script("pre-commit") or "pre-commit", "install-hooks"], repo, env)
    cmd = [script("pre-commit") or "pre-commit", "run", "dpn-lint", "--all-files"]
    times = [run(cmd, repo, env) for _ in range(runs)]
    cores = os.cpu_count()
    print(f"pre-commit run dpn-lint --all-files, {blueprints} blueprints x {per} resources")
    print(f"  ({blueprints * per} resources, {cores} cores), {runs} runs:")
    print(f"  median {statistics.median(times):.2f} s, min {min(times):.2f} s (target < 5 s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="runs per command for the ratio")
    ap.add_argument("--all-files-runs", type=int, default=3)
    ap.add_argument("--blueprints", type=int, default=200)
    ap.add_argument("--per-blueprint", type=int, default=20)
    args = ap.parse_args()
    for tool in ("dpn", "check-jsonschema", "pre-commit", "git"):
        if script(tool) is None:
            sys.exit(f"{tool} is not on PATH: pip install '.[test]'")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="dpn-bench-hooks-") as d:
        tmp = Path(d)
        bench_one(tmp, args.runs, args.per_blueprint)
        bench_all_files(tmp, args.all_files_runs, args.blueprints, args.per_blueprint)


if __name__ == "__main__":
    main()
