"""`dpn action` on a pull request that touches 50 blueprints of about 20 resources each.

    python benchmarks/bench_action.py [--runs 7] [--blueprints 50] [--resources 20]

Measures the whole `python -m dpn_action action` process, from its start to the last
comment posted (the process exits right after), against the loopback GitHub API of the
tests (tests/github_api_server.py, which validates every call against GitHub's OpenAPI
description). The package is already installed: installing it is not part of the figure.
Every run starts with no comment on the pull request, so each run creates its comments.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))
from generate import blueprint, count  # noqa: E402
from github_api_server import GitHubServer, State  # noqa: E402

TOKEN = "bench-token"
REPOSITORY = "Codertocat/Hello-World"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    out = subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return out.stdout.decode().strip()


def make_repo(root: Path, blueprints: int, resources: int) -> tuple[Path, str, str, int]:
    """A repository whose pull request renames one bucket in every blueprint."""
    repo = root / "repo"
    (repo / "blueprints").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    total = 0
    docs = []
    for i in range(blueprints):
        doc = blueprint(resources, environment=("dev", "stg", "prd")[i % 3], tag=f"b{i}")
        total += count(doc)
        docs.append(doc)
        (repo / "blueprints" / f"team{i:02d}.json").write_text(json.dumps(doc, indent=2))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "change")
    for i, doc in enumerate(docs):
        doc["resources"]["aws"]["s3_buckets"][0]["purpose"] += "x"
        (repo / "blueprints" / f"team{i:02d}.json").write_text(json.dumps(doc, indent=2))
    git(repo, "commit", "-q", "-am", "rename one bucket per blueprint")
    return repo, base, git(repo, "rev-parse", "HEAD"), total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--blueprints", type=int, default=50)
    ap.add_argument("--resources", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dpn-bench-action-") as tmp:
        root = Path(tmp)
        repo, base, head, total = make_repo(root, args.blueprints, args.resources)
        event = root / "event.json"
        event.write_text(
            json.dumps(
                {
                    "action": "synchronize",
                    "number": 1,
                    "pull_request": {
                        "number": 1,
                        "html_url": f"https://github.com/{REPOSITORY}/pull/1",
                        "base": {"sha": base, "ref": "main", "repo": {"full_name": REPOSITORY}},
                        "head": {"sha": head, "ref": "change", "repo": {"full_name": REPOSITORY}},
                    },
                    "repository": {"full_name": REPOSITORY, "default_branch": "main"},
                }
            )
        )
        times = []
        state = State(tokens={TOKEN})
        with GitHubServer(state) as server:
            env = {
                **os.environ,
                "GITHUB_ACTIONS": "true",
                "GITHUB_EVENT_NAME": "pull_request",
                "GITHUB_EVENT_PATH": str(event),
                "GITHUB_REPOSITORY": REPOSITORY,
                "GITHUB_SHA": head,
                "GITHUB_RUN_ID": "1",
                "GITHUB_OUTPUT": str(root / "output"),
                "GITHUB_STEP_SUMMARY": str(root / "summary.md"),
                "DPN_GITHUB_TOKEN": TOKEN,
                "DPN_API_URL": server.url,
            }
            for _ in range(args.runs):
                with state.lock:
                    state.comments.clear()
                    state.threads.clear()
                t = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-m", "dpn_action", "action"],
                    cwd=repo,
                    env=env,
                    capture_output=True,
                    check=False,
                )
                times.append(time.perf_counter() - t)
                if proc.returncode != 0:
                    raise SystemExit(proc.stdout.decode()[-2000:] + proc.stderr.decode()[-2000:])
            comments = state.thread(1)
            assert not state.violations, state.violations
        print(
            f"dpn action, pull request touching {args.blueprints} blueprints "
            f"({total} resources, {args.blueprints} renamed names), start to comments posted:"
        )
        print(
            f"  median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
            f"max {max(times):.2f} s over {args.runs} runs"
        )
        print(
            f"  {len(comments)} comments posted, largest "
            f"{max(len(c['body']) for c in comments)} characters"
        )


if __name__ == "__main__":
    main()
