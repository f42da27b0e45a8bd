"""First install of dpn, the slim core against core + [cloud], side by side in one run.

    python benchmarks/bench_install.py [--runs 3] [--python python3]

The core (`pip install dpn-action`) is what the pre-commit hook environment installs now;
core + `[cloud]` (boto3, databricks-sdk) is what it installed before the cloud SDKs became
extras. Each run starts from nothing: a fresh virtual environment (`python -m venv`), an empty
pip cache (`PIP_CACHE_DIR` in a new directory) and a fresh copy of this repository's source,
then `python -m pip install <copy>` or `<copy>[cloud]` from the package index, building
dpn-action's wheel as pre-commit does. The runs alternate core, cloud, core, cloud, so both
see the same network and machine load. Measured per run:

- the wall time of the `pip install` (the venv's creation is the same for both and not timed);
- the size of the environment's site-packages, in MB (10^6 bytes, the sum of the files'
  sizes), and what the install added to it (minus the empty venv's pip and setuptools);
- the number of distributions installed.

Pip's own configuration files are not read (`PIP_CONFIG_FILE=/dev/null`), so a machine's
local wheel directories or extra indexes do not change the figures. Prints a table and, last,
one JSON line with every run. Needs the package index.
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
VARIANTS = {"core": "", "core+cloud": "[cloud]"}
SOURCE = ("pyproject.toml", "README.md", "dpn_action")


def pip_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_CACHE_DIR=str(cache),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_PROGRESS_BAR="off",
    )
    if "PIP_CERT" in os.environ:  # a machine's own certificate bundle for the index
        env["PIP_CERT"] = os.environ["PIP_CERT"]
    return env


def copy_source(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in SOURCE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def site_packages(venv: Path) -> Path:
    (found,) = venv.glob("lib/python3*/site-packages")
    return found


def size_mb(directory: Path) -> float:
    total = 0
    for dirpath, _, files in os.walk(directory):
        for f in files:
            total += os.lstat(os.path.join(dirpath, f)).st_size
    return total / 1e6


def distributions(venv: Path) -> list[str]:
    return sorted(p.name.split("-")[0].lower() for p in site_packages(venv).glob("*.dist-info"))


def one_run(python: str, variant: str, work: Path) -> dict[str, Any]:
    venv, cache = work / "venv", work / "pip-cache"
    cache.mkdir()
    src = copy_source(work / "src")
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    empty = size_mb(site_packages(venv))
    before = set(distributions(venv))
    cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{src}{variant}"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=pip_env(cache))
    seconds = time.perf_counter() - start
    total = size_mb(site_packages(venv))
    added = sorted(set(distributions(venv)) - before)
    return {
        "seconds": round(seconds, 2),
        "site_packages_mb": round(total, 1),
        "added_mb": round(total - empty, 1),
        "distributions": len(added),
        "has_sdk": any(d in ("boto3", "botocore", "databricks_sdk") for d in added),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs of each variant (at least 2)")
    ap.add_argument("--python", default=sys.executable, help="interpreter of the venvs")
    args = ap.parse_args(argv)
    if args.runs < 2:
        ap.error("--runs must be at least 2")
    version = subprocess.run(
        [args.python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for i in range(args.runs):
        for variant, extra in VARIANTS.items():
            with tempfile.TemporaryDirectory(prefix="dpn-bench-install-") as tmp:
                r = one_run(args.python, extra, Path(tmp))
            runs[variant].append(r)
            mb = r["site_packages_mb"]
            print(f"run {i + 1} {variant:<11} {r['seconds']:6.2f} s  {mb:6.1f} MB")

    def median(variant: str, key: str) -> float:
        return float(statistics.median(r[key] for r in runs[variant]))

    print(f"\nPython {version}, median of {args.runs} runs each, fresh venv and empty pip cache:")
    print(f"{'':<11} {'install':>9} {'site-packages':>14} {'added':>9} {'dists':>6}")
    for variant in VARIANTS:
        print(
            f"{variant:<11} {median(variant, 'seconds'):7.2f} s "
            f"{median(variant, 'site_packages_mb'):11.1f} MB "
            f"{median(variant, 'added_mb'):6.1f} MB {median(variant, 'distributions'):6.0f}"
        )
    for key, unit in (("seconds", "time"), ("site_packages_mb", "size"), ("added_mb", "added")):
        ratio = median("core", key) / median("core+cloud", key)
        print(f"core / core+cloud, {unit}: {ratio:.2f}")
    print(json.dumps({"python": version, "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
