"""Core speed, measured side by side in one run.

    python benchmarks/bench_core.py [--runs 15] [--large-runs 5] [--profile]

1. `dpn lint` of one blueprint with its configs (whole process) against
   `check-jsonschema --schemafile schemas/blueprint.schema.json` on the same file.
2. `dpn plan preview --format json` of a generated 10,000-resource blueprint: wall time and
   names per second.
3. `dpn plan preview --format json` of a generated 100,000-resource blueprint (what
   `python benchmarks/generate.py 100000` writes): the CPU time (user + system) and the peak
   resident memory of the process, median and largest of `--large-runs`.
4. `dpn lint` of one changed blueprint in a repository of 1,000 blueprints of 20 resources
   (20,000 resources): the first run, with an empty cache (every other blueprint read and
   named), then with the cache the first run left (the changed blueprint changed again
   before each run), and with `--no-cache`; wall and CPU time, medians of `--runs`.

With `--profile`, the 100,000-resource preview is also timed phase by phase (CPU and memory
after each), and run once under cProfile: its top lines by own time, and the cumulative time
of each phase's function (docs/benchmarks.md keeps them, before and after).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from bench_hooks import make_repo  # noqa: E402
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


def measured(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """One run of `cmd` (its output thrown away): wall seconds, CPU seconds (user +
    system) and peak resident memory in MB, as the kernel accounts them for the process."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{cmd} failed ({code}): {err[-500:]}")
    return took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def large_preview(dpn: str, work: Path, runs: int) -> None:
    big = work / "big100k.json"
    doc = blueprint(100_000)
    with open(big, "w") as fh:
        json.dump(doc, fh, indent=1)  # as `python benchmarks/generate.py 100000` writes it
    n = count(doc)
    cmd = [dpn, "plan", "preview", "--format", "json", str(big)]
    measured(cmd, work)  # warm the page cache and __pycache__
    results = [measured(cmd, work) for _ in range(runs)]
    cpu = [r[1] for r in results]
    peak = [r[2] for r in results]
    print(
        f"preview {n:,} resources (json)  : CPU median {statistics.median(cpu):.2f} s "
        f"(max {max(cpu):.2f}), peak RSS median {statistics.median(peak):.0f} MB "
        f"(max {max(peak):.0f}), wall median {statistics.median(r[0] for r in results):.2f} s, "
        f"{runs} runs (goal < 3 s CPU, < 250 MB)"
    )


def lint_one_of_many(dpn: str, work: Path, runs: int) -> None:
    repo = work / "many"
    make_repo(repo, 1000, 20)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    changed = repo / "blueprints" / "bp500.json"
    original = changed.read_text()
    env = {**os.environ, "DPN_CACHE_DIR": str(work / "cache")}
    env.pop("GITHUB_ACTIONS", None)
    cmd = [dpn, "lint", "blueprints/bp500.json"]

    def change(n: int) -> None:
        text = original.replace('"purpose": "pb500x0"', f'"purpose": "c{n}"')
        assert text != original, "the changed blueprint must change"
        changed.write_text(text)

    change(0)
    cold = measured(cmd, repo, env)
    warm, fresh = [], []
    for n in range(1, runs + 1):
        change(n)
        warm.append(measured(cmd, repo, env))
        fresh.append(measured([*cmd, "--no-cache"], repo, env))
    resources = sum(count_resources(p) for p in (repo / "blueprints").glob("*.json"))

    def line(label: str, rs: list[tuple[float, float, float]]) -> str:
        return (
            f"  {label:<28}: wall median {statistics.median(r[0] for r in rs):.2f} s, "
            f"CPU {statistics.median(r[1] for r in rs):.2f} s"
        )

    print(f"lint 1 changed blueprint of 1,000 ({resources:,} resources), {runs} runs:")
    print(line("first run (empty cache)", [cold]))
    print(line("cache from earlier runs", warm) + " (goal < 1 s)")
    print(line("--no-cache", fresh))


def count_resources(path: Path) -> int:
    res = json.loads(path.read_text())["resources"]
    n = sum(len(v) for v in res["aws"].values())
    n += len(res["databricks"]["clusters"]) + len(res["databricks"]["jobs"])
    for c in res["databricks"]["unity_catalog"]["catalogs"]:
        n += 1 + len(c["schemas"])
    return n


PROFILE = """
import cProfile, io, os, pstats, sys
from dpn_action.cli import main
out, sys.stdout = sys.stdout, open(os.devnull, "w")
profile = cProfile.Profile()
profile.enable()
try:
    main.main(sys.argv[1:], prog_name="dpn", standalone_mode=False)
except SystemExit:
    pass
profile.disable()
sys.stdout = out
text = io.StringIO()
stats = pstats.Stats(profile, stream=text)
stats.sort_stats("tottime").print_stats(int(os.environ["TOP"]))
# the phases: cumulative time of the functions each one is
stats.sort_stats("cumulative").print_stats(os.environ["PHASES"])
print(text.getvalue().replace(os.path.dirname(os.path.dirname(os.__file__)), "<stdlib>"))
"""
#: the functions of the preview's phases (those that exist in the code profiled)
PHASES = (
    r"\((analyse|load_blueprint|document|validate|expand|name_blueprint|_uniqueness|planned"
    r"|plan_hash|preview_json|write_plan_preview|_json_lines)\)"
)


PHASE_TIMES = """
import gc, os, sys, time
gc.disable()  # as `dpn plan preview` runs (`cli.common.one_pass`)
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
start = time.process_time()
laps = []
def lap(name):
    global start
    now = time.process_time()
    laps.append((name, now - start, rss()))
    start = now
from pathlib import Path
from dpn_action import analysis, plan
from dpn_action.blueprint.expand import BlueprintFile, expand
from dpn_action.cli.common import naming_configs
from dpn_action.structure import validate
from dpn_action.tree import source_of
lap("start-up: imports")
src = source_of(Path(sys.argv[1]))
doc = src.document()
lap("read and parse the JSON")
validate(doc, "blueprint", "blueprint")
lap("structural check")
bp = BlueprintFile(doc, source=src.path, root=src.tree.root)
expand(bp)
lap("expand: resources, references, cycles")
namer = analysis._Namer(naming_configs(None, None, ()).for_file(src), {doc.path: doc}, None)
namer.name_blueprint(bp)
namer.unknown_fields(bp)
lap("name every resource")
analysis._uniqueness([bp], {doc.path})
lap("uniqueness")
order = plan.plan_order(bp.resources)
with open(os.devnull, "w") as out:
    plan.write_plan_preview(out, order)
lap("plan hash and the JSON lines")
for name, cpu, mb in laps:
    print(f"  {name:<40} {cpu:5.2f} s  {mb:4.0f} MB after")
print(f"  {'total':<40} {sum(c for _, c, _ in laps):5.2f} s")
"""


def phases(work: Path) -> None:
    """The 100,000-resource preview's phases, one after the other in one process (the
    analysis's own parts are called by name): CPU time of each, resident memory after."""
    cmd = [sys.executable, "-c", PHASE_TIMES, str(work / "big100k.json")]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=True)
    print("preview of 100,000 resources, phase by phase (CPU, memory after):")
    print(proc.stdout.rstrip())


def profile(work: Path, top: int = 15) -> None:
    """The 100,000-resource preview under cProfile (in a process of this interpreter):
    the top lines by own time."""
    big = work / "big100k.json"
    env = {**os.environ, "TOP": str(top), "PHASES": PHASES}
    cmd = [sys.executable, "-c", PROFILE, "plan", "preview", "--format", "json", str(big)]
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=True)
    print(proc.stdout.replace(str(ROOT) + "/", ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--large-runs", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="profile the 100,000 preview too")
    args = ap.parse_args()
    dpn, cjs = script("dpn"), script("check-jsonschema")
    if dpn is None or cjs is None:
        raise SystemExit("install dpn and check-jsonschema first: pip install '.[test]'")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
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
        large_preview(dpn, work, args.large_runs)
        lint_one_of_many(dpn, work, max(3, args.runs // 3))
        if args.profile:
            phases(work)
            profile(work)


if __name__ == "__main__":
    main()
