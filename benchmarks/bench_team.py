"""Team mode's cost: the lease lock's acquire and release, and a transaction with the lock
and the WAL mirror against one without, all against moto.

    python benchmarks/bench_team.py [--rounds 50] [--queues 40] [--runs 3]

moto runs in a process of its own on loopback (`bench_provision.moto_server`), with no
added latency: the figures are dpn's and botocore's work plus moto's, not a network's.

* lock: `Lease.acquire` + `Lease.release` of an S3 and a DynamoDB lease (three requests:
  read, conditional create or replace, conditional replace), `--rounds` times; median and
  90th percentile. The start-up self-test (four requests, once per bucket or table and
  process) is reported on its own.
* transaction: `provision.apply_plan` of `--queues` SQS queues (default `--max-parallel`),
  without team mode, and with `--lock s3://...` and `--wal-mirror s3://...`; median of
  `--runs`, a fresh project each run. The difference is the lease, the pull of the mirror,
  and one copy of the whole log per group commit.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_provision import moto_server  # noqa: E402

BUCKET = "dpn-bench-team"
TABLE = "dpn-bench-locks"


def setup(url: str) -> None:
    import boto3

    kw = {"endpoint_url": url, "region_name": "us-east-1"}
    boto3.client("s3", **kw).create_bucket(Bucket=BUCKET)
    boto3.client("dynamodb", **kw).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def lock_latency(url: str, rounds: int) -> tuple[float, float, float]:
    """Self-test seconds, then median and p90 seconds of acquire + release."""
    from dpn_action.team import lease_store
    from dpn_action.txn.lock import Lease

    store, _ = lease_store(f"{url}-{secrets.token_hex(3)}")
    start = time.perf_counter()
    store.self_test()
    self_test = time.perf_counter() - start
    times = []
    for _ in range(rounds):
        lease = Lease(store, seconds=60, timeout=5)
        start = time.perf_counter()
        lease.acquire()
        lease.release()
        times.append(time.perf_counter() - start)
    times.sort()
    return self_test, statistics.median(times), times[int(len(times) * 0.9) - 1]


def blueprint(work: Path, project: str, queues: int) -> Path:
    path = work / f"{project}.json"
    entries = [{"purpose": f"p{i}", "queue_type": "events"} for i in range(queues)]
    data = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": project, "region": "us-east-1"},
        "resources": {"aws": {"sqs_queues": entries}},
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def transaction(work: Path, queues: int, team: bool) -> float:
    from dpn_action.analysis import analyse
    from dpn_action.naming.config import load_config
    from dpn_action.plan import planned
    from dpn_action.provision import apply_plan
    from dpn_action.team import shared_from

    project = f"b{secrets.token_hex(3)}"
    cfg, _ = load_config(None, None, {})
    items = planned(analyse(cfg, [blueprint(work, project, queues)]).resources)
    shared = (
        shared_from(f"s3://{BUCKET}/locks/{project}.lock", f"s3://{BUCKET}/wal/{project}")
        if team
        else None
    )
    start = time.perf_counter()
    result = apply_plan(items, wal_dir=work / project, shared=shared)
    elapsed = time.perf_counter() - start
    if str(result.status) != "COMMITTED":
        raise SystemExit(f"the transaction ended {result.status}: {result.error}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--queues", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
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
        setup(url)
        print(f"lock: acquire + release, {args.rounds} rounds (moto, no added latency)")
        for name, lock in (
            ("s3", f"s3://{BUCKET}/locks/bench"),
            ("dynamodb", f"dynamodb://{TABLE}/b"),
        ):
            self_test, median, p90 = lock_latency(lock, args.rounds)
            print(
                f"  {name:<9} median {median * 1000:6.1f} ms  p90 {p90 * 1000:6.1f} ms  "
                f"(self-test once: {self_test * 1000:.1f} ms)"
            )
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            transaction(work, 4, True)  # warm up imports, clients and moto's backends
            plain = sorted(transaction(work, args.queues, False) for _ in range(args.runs))
            team = sorted(transaction(work, args.queues, True) for _ in range(args.runs))
        a, b = statistics.median(plain), statistics.median(team)
        print(f"transaction: {args.queues} SQS queues, median of {args.runs}")
        print(f"  local file lock          {a:6.2f} s")
        print(f"  lease lock + WAL mirror  {b:6.2f} s  (+{b - a:.2f} s, {b / a:.2f}x)")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
