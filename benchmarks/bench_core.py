"""Core speed, measured side by side in one run.

    python benchmarks/bench_core.py [--runs 15]

1. `dpn lint` of one blueprint with its configs (whole process) against
   `check-jsonschema --schemafile schemas/blueprint.schema.json` on the same file.
2. `dpn plan preview --format json` of a generated 10,000-resource blueprint: wall time and
   names per second.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from generate import blueprint, count, script  # noqa: E402


def wall(cmd: list[str], cwd: Path, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - t)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{cmd} failed: {proc.stderr.decode()[-500:]}")
    return statistics.median(times), min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    dpn, cjs = script("dpn"), script("check-jsonschema")
    if dpn is None or cjs is None:
        raise SystemExit("install dpn and check-jsonschema first: pip install '.[test]'")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "examples" / ".dpn", work / ".dpn")
        (work / "blueprints").mkdir()
        bp = work / "blueprints" / "dev.json"
        shutil.copy(ROOT / "examples" / "blueprints" / "dev.json", bp)
        schema = str(ROOT / "schemas" / "blueprint.schema.json")
        # warm both up once (page cache, .pyc)
        wall([dpn, "lint", str(bp)], work, 1)
        wall([cjs, "--schemafile", schema, str(bp)], work, 1)
        lint_med, lint_min = wall([dpn, "lint", str(bp)], work, args.runs)
        cjs_med, cjs_min = wall([cjs, "--schemafile", schema, str(bp)], work, args.runs)
        print(
            f"lint one blueprint + configs : median {lint_med * 1000:6.0f} ms "
            f"(min {lint_min * 1000:.0f})"
        )
        print(
            f"check-jsonschema same file   : median {cjs_med * 1000:6.0f} ms "
            f"(min {cjs_min * 1000:.0f})"
        )
        print(f"ratio dpn / check-jsonschema : {lint_med / cjs_med:.2f} (goal <= 0.50)")

        big = work / "big.json"
        doc = blueprint(10_000)
        big.write_text(json.dumps(doc, indent=1))
        n = count(doc)
        med, best = wall(
            [dpn, "plan", "preview", "--format", "json", str(big)], work, max(3, args.runs // 3)
        )
        print(
            f"preview {n} resources (json)  : median {med:.2f} s (min {best:.2f}), "
            f"{n / med:,.0f} names/s including start-up (goal < 1.5 s)"
        )


if __name__ == "__main__":
    main()
