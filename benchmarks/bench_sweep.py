"""`dpn sweep`'s cost against moto: one account with many queues, some of them orphans.

    python benchmarks/bench_sweep.py [--queues 1000] [--orphans 200] [--runs 3]

moto runs in a process of its own on loopback (`bench_provision.moto_server`), with no
added latency: the figures are dpn's and botocore's work plus moto's, not a network's.

* scan, one type: `sweep.scan` with `types=["aws_sqs_queue"]` over `--queues` queues, of
  which `--orphans` carry dpn's mark of a transaction years ago, a tenth dpn's mark of a
  transaction a blueprint describes and the rest no mark: one paginated listing, one tag
  read per queue (`--max-parallel` at a time). Median of `--runs`.
* scan, every AWS type: the same account, the default choice (every type of the cloud the
  blueprint uses): 13 listings, the other 12 empty.
* delete: `sweep.delete` of the orphans, one transaction (lock, recovery of nothing, a read
  of each orphan, then intent, ownership check, delete and outcome of each), once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_provision import moto_server  # noqa: E402

OLD_TXN = "20200102T030405060708Z-0badc0de"
KEPT_TXN = "20200102T030405060708Z-0000feed"


def populate(queues: int, orphans: int) -> list[str]:
    """The queues, made with boto3 directly: orphans, described ones, others'. Returns
    the names a blueprint describes."""
    import boto3

    sqs = boto3.client("sqs")
    described = [f"bench-dev-d{i}-events" for i in range(queues // 10)]

    def make(i: int) -> None:
        if i < orphans:
            name, tags = f"bench-dev-o{i}-events", {"managed-by": "dpn", "dpn-transaction": OLD_TXN}
        elif i < orphans + len(described):
            name = described[i - orphans]
            tags = {"managed-by": "dpn", "dpn-transaction": KEPT_TXN}
        else:
            name, tags = f"someone-else-{i}", {"team": "them"}
        sqs.create_queue(QueueName=name, tags=tags)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(make, range(queues)))
    return [n.removeprefix("bench-dev-").removesuffix("-events") for n in described]


def planned(work: Path, purposes: list[str]) -> list[object]:
    from dpn_action.analysis import analyse
    from dpn_action.naming.config import Configs
    from dpn_action.plan import planned as plan

    data = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": "bench", "region": "us-east-1"},
        "resources": {
            "aws": {"sqs_queues": [{"purpose": p, "queue_type": "events"} for p in purposes]}
        },
    }
    path = work / "blueprints" / "dev.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    result = analyse(Configs(None, None, (), display_root=work), [path], display_root=work)
    assert not [f for f in result.findings if f.is_error], result.findings
    return list(plan(result.resources))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queues", type=int, default=1000)
    ap.add_argument("--orphans", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-parallel", type=int, default=16)
    args = ap.parse_args()
    server, url = moto_server()
    try:
        os.environ.update(
            AWS_ENDPOINT_URL=url,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_REGION="us-east-1",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        from dpn_action import sweep
        from dpn_action.provision import build_providers

        purposes = populate(args.queues, args.orphans)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            items = planned(work, purposes)
            wal = work / ".dpn-wal"
            for label, types in (("one type", ["aws_sqs_queue"]), ("every AWS type", [])):
                times = []
                for _ in range(args.runs):
                    providers = build_providers(["aws"])  # fresh clients: no warm caches
                    start = time.perf_counter()
                    report = sweep.scan(
                        items,  # type: ignore[arg-type]
                        wal_dir=wal,
                        types=types,
                        max_parallel=args.max_parallel,
                        providers=providers,
                    )
                    times.append(time.perf_counter() - start)
                    assert len(report.orphans) == args.orphans, len(report.orphans)
                    assert not report.errors, report.errors
                med = statistics.median(times)
                print(
                    f"scan, {label}: {args.queues} queues ({len(report.found)} with dpn's mark, "
                    f"{args.orphans} orphans): median {med:.2f} s of {args.runs} "
                    f"(min {min(times):.2f} s), {1000 * med / args.queues:.2f} ms per queue"
                )
            start = time.perf_counter()
            result = sweep.delete(
                report,
                items=items,
                wal_dir=wal,
                max_parallel=args.max_parallel,  # type: ignore[arg-type]
            )
            took = time.perf_counter() - start
            assert len(result.deleted) == args.orphans, result.status
            print(
                f"delete: {args.orphans} orphans in one transaction: {took:.2f} s "
                f"({1000 * took / args.orphans:.1f} ms per orphan), {result.status}"
            )
    finally:
        server.kill()


if __name__ == "__main__":
    main()
