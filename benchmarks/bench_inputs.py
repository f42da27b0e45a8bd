"""Hostile inputs through `dpn lint`, each in its own process: exit code, finding, wall time
and peak memory (the child's maximum resident set size, from `wait4`).

    python benchmarks/bench_inputs.py [--before DIR] [--timeout 60] [--memory-cap 4]

Every case is a fresh git repository holding one hostile file (and, for reference, clean
generated blueprints of 10,000 and 100,000 resources). With `--before DIR`, the
`dpn_action` package in DIR (an older version, say `git archive <commit> dpn_action | tar -x
-C DIR`) runs the same cases side by side. Each run is capped: its address space at
`--memory-cap` GiB and its time at `--timeout` seconds, so an old version that hangs or
grows without bound is stopped and shown as such.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from generate import blueprint, count

GIB = 1024**3
HEADER = 'version: "1.0"\nmetadata: {environment: dev, project: bench, region: us-east-1}\n'


def alias_bomb(levels: int, fan: int) -> str:
    lines = [HEADER.rstrip("\n"), "resources:", "  aws:", "    s3_buckets:"]
    lines += ["      - purpose: p", "        layer: raw", "        tags:"]
    lines.append(f"          l0: &l0 [{', '.join(['lol'] * fan)}]")
    for i in range(1, levels + 1):
        lines.append(f"          l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]")
    return "\n".join(lines) + "\n"


def linear_aliasing(anchor: int, aliases: int) -> str:
    """One anchor of `anchor` scalars, named `aliases` times: no nesting, only repetition."""
    scalars = ", ".join(["x"] * anchor)
    refs = "\n".join(["            - *big"] * aliases)
    return (
        HEADER
        + "resources:\n  aws:\n    s3_buckets:\n      - purpose: p\n        layer: raw\n"
        + f"        tags:\n          big: &big [{scalars}]\n          copies:\n{refs}\n"
    )


def merge_many(keys: int, times: int) -> str:
    """One mapping of `keys` keys, merged `times` times into another (`<<: [*big, ...]`)."""
    pairs = ", ".join(f"k{i}: v" for i in range(keys))
    refs = ", ".join(["*big"] * times)
    return (
        HEADER
        + "resources:\n  aws:\n    s3_buckets:\n      - purpose: p\n        layer: raw\n"
        + f"        tags: &big {{{pairs}}}\n"
        + f"      - {{purpose: q, layer: raw, tags: {{<<: [{refs}]}}}}\n"
    )


SURROGATE = (
    '{"version": "1.0", "metadata": {"environment": "dev", "project": "bench", '
    '"region": "us-east-1"}, "resources": {"aws": {"s3_buckets": '
    '[{"purpose": "p\\ud800", "layer": "raw"}]}}}\n'
)


def lambda_with(zip_file: str) -> str:
    return HEADER + (
        "resources:\n  aws:\n    lambda_functions:\n"
        "      - {domain: d, trigger: s3, action: a, code: {zip_file: " + zip_file + "}}\n"
    )


def sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.truncate(size)


def text_file(rel: str, text: str) -> Callable[[Path], str]:
    def make(root: Path) -> str:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        return rel

    return make


def link(rel: str, target: str) -> Callable[[Path], str]:
    def make(root: Path) -> str:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(target)
        return rel

    return make


def fifo(root: Path) -> str:
    (root / "blueprints").mkdir()
    os.mkfifo(root / "blueprints" / "pipe.yaml")
    return "blueprints/pipe.yaml"


def huge(root: Path) -> str:
    sparse(root / "blueprints" / "huge.json", GIB)
    return "blueprints/huge.json"


def zip_huge(root: Path) -> str:
    sparse(root / "build" / "fn.zip", GIB)
    return text_file("blueprints/fn.yaml", lambda_with("../build/fn.zip"))(root)


def zip_zero(root: Path) -> str:
    link("build/fn.zip", "/dev/zero")(root)
    return text_file("blueprints/fn.yaml", lambda_with("../build/fn.zip"))(root)


def generated(n: int) -> Callable[[Path], str]:
    def make(root: Path) -> str:
        doc = blueprint(n)
        return text_file("blueprints/big.json", json.dumps(doc, indent=1))(root)

    return make


CASES: list[tuple[str, Callable[[Path], str]]] = [
    (
        f"alias bomb 9x9 ({len(alias_bomb(9, 9))} bytes)",
        text_file("blueprints/b.yaml", alias_bomb(9, 9)),
    ),
    (
        f"alias bomb 12x12 ({len(alias_bomb(12, 12))} bytes)",
        text_file("blueprints/b.yaml", alias_bomb(12, 12)),
    ),
    (
        "40,000 aliases of a 2,000-item anchor",
        text_file("blueprints/l.yaml", linear_aliasing(2000, 40_000)),
    ),
    (
        "a 10,000-key mapping merged 100,000 times",
        text_file("blueprints/m.yaml", merge_many(10_000, 100_000)),
    ),
    ("lone surrogate in JSON", text_file("blueprints/u.json", SURROGATE)),
    ("link to /dev/zero", link("blueprints/zero.json", "/dev/zero")),
    ("named pipe", fifo),
    ("1 GiB file (sparse)", huge),
    ("zip_file: link to /dev/zero", zip_zero),
    ("zip_file: 1 GiB (sparse)", zip_huge),
    (f"clean {count(blueprint(10_000)):,}-resource blueprint", generated(10_000)),
    (f"clean {count(blueprint(100_000)):,}-resource blueprint", generated(100_000)),
]


def run(root: Path, rel: str, pythonpath: str | None, timeout: float, cap: int) -> str:
    """One `dpn lint` process: `exit N CODE, S s, M MiB` (or how it was stopped)."""

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    env["HOME"] = str(root)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "dpn_action", "lint", "--no-context", rel],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=limits,
        )
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                return f"hung: killed after {timeout:.0f} s"
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    rss = usage.ru_maxrss / 1024  # KiB on Linux
    if "Traceback" in text or "MemoryError" in text:
        what = "traceback (" + text.strip().splitlines()[-1][:40] + ")"
    else:
        codes = sorted(set(re.findall(r"\bDPN\d{3}\b", text)))
        what = ",".join(codes) or "clean"
    return f"exit {proc.returncode} {what}, {wall:.2f} s, {rss:,.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", help="a directory holding an older dpn_action package")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per run")
    ap.add_argument("--memory-cap", type=float, default=4.0, help="GiB of address space per run")
    args = ap.parse_args()
    cap = int(args.memory_cap * GIB)
    print(f"{'case':44} | this version" + (" | before" if args.before else ""))
    for name, make in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "repo"
            root.mkdir()
            subprocess.run(["git", "init", "-q", str(root)], check=True)
            rel = make(root)
            now = run(root, rel, None, args.timeout, cap)
            line = f"{name:44} | {now}"
            if args.before:
                line += " | " + run(root, rel, str(Path(args.before).resolve()), args.timeout, cap)
            print(line, flush=True)


if __name__ == "__main__":
    main()
