"""Provisioning speed: a 200-resource AWS blueprint against moto, 50 ms added to every call.

    python benchmarks/bench_provision.py [--latency-ms 50] [--runs 3] [--wide 64]

Each run creates the blueprint's 200 resources (S3, Glue databases and tables, IAM roles
and policies, Lambda, Glue crawlers, SQS, SNS, DynamoDB, Step Functions; dependency depth 2)
as one transaction through `dpn_action.provision.apply_plan`, in this process, against a
moto server on loopback running in its own process (so the emulator's CPU does not compete
with the measured process for its interpreter lock). A botocore `before-send` hook sleeps
`--latency-ms` before every HTTP request (retries and waiter polls included), as a cloud
API far away would, and counts the requests each resource makes, per phase.

Reported, median of `--runs` (a fresh project name, so fresh resources, every run):

* wall time with `--max-parallel 1`, with the default (8), and with `--wide`;
* the critical-path bound: the longest dependency chain, each resource on it costing its
  own measured create calls x latency, plus the slowest pre-flight read. It is the wall time
  with unlimited parallelism and free CPU. With P calls at a time there is a second bound,
  all calls x latency / P; the larger of the two is the best P can reach;
* the zero-latency wall time at the default: the CPU cost of botocore, moto and dpn;
* the WAL's cost: the default again with `DPN_WAL_FSYNC=0` (fsync off: benchmarks only).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: (collection, count, entry factory); the factory gets the index
SHAPE: list[tuple[str, int, Callable[[int], dict[str, Any]]]] = [
    ("s3_buckets", 20, lambda i: {"id": f"b{i}", "purpose": f"p{i}", "layer": "raw"}),
    ("glue_databases", 20, lambda i: {"id": f"db{i}", "domain": f"d{i}", "layer": "bronze"}),
    (
        "glue_tables",
        40,
        lambda i: {
            "database_ref": f"db{i // 2}",
            "entity": f"e{i}",
            "columns": [{"name": "id", "type": "bigint"}],
        },
    ),
    ("iam_roles", 20, lambda i: {"id": f"r{i}", "service": "svc", "purpose": f"p{i}"}),
    ("iam_policies", 10, lambda i: {"service": "svc", "purpose": f"p{i}"}),
    (
        "lambda_functions",
        20,
        lambda i: {"domain": f"d{i}", "trigger": "s3", "action": "run", "role_ref": f"r{i}"},
    ),
    (
        "glue_crawlers",
        10,
        lambda i: {
            "database": f"d{i}",
            "source": "s3",
            "database_ref": f"db{i}",
            "role_ref": f"r{i}",
            "bucket_ref": f"b{i}",
            "s3_path": "in/",
        },
    ),
    ("sqs_queues", 20, lambda i: {"purpose": f"p{i}", "queue_type": "events"}),
    ("sns_topics", 20, lambda i: {"event_type": f"e{i}", "purpose": "alerts"}),
    ("dynamodb_tables", 10, lambda i: {"entity": f"e{i}", "purpose": "state"}),
    (
        "step_functions",
        10,
        lambda i: {"workflow": f"w{i}", "purpose": "run", "role_ref": f"r{10 + i}"},
    ),
]


def blueprint(project: str) -> dict[str, Any]:
    aws = {name: [make(i) for i in range(n)] for name, n, make in SHAPE}
    return {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": project, "region": "us-east-1"},
        "resources": {"aws": aws},
    }


class Latency:
    """`before-send`: sleep, and count the request against the resource being worked on."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.current = threading.local()
        self.calls: dict[tuple[str, str], int] = defaultdict(int)  # (key, phase) -> calls
        self._lock = threading.Lock()
        #: of the run that used this hook: wall time, CPU of this process and of moto
        self.wall = self.own_cpu = self.server_cpu = 0.0

    def __call__(self, **_: Any) -> None:
        where = getattr(self.current, "where", None)
        if where is not None:
            with self._lock:
                self.calls[where] += 1
        time.sleep(self.seconds)


def counting_provider(aws: Any, latency: Latency) -> Any:
    """The AWS provider, telling the latency hook which resource each call belongs to."""

    class Counting:
        name = aws.name
        tag_types = aws.tag_types
        archive_types = aws.archive_types
        late_marked_types = aws.late_marked_types

        def _in(self, key: str, phase: str, fn: Callable[[], Any]) -> Any:
            latency.current.where = (key, phase)
            try:
                return fn()
            finally:
                latency.current.where = None

        def create(self, op: Any, txn_id: str, resolved: Any) -> Any:
            return self._in(op.key, "create", lambda: aws.create(op, txn_id, resolved))

        def read(self, type_key: str, name: str, scope: dict[str, str]) -> Any:
            key = f"{type_key}:{'.'.join([*scope.values(), name])}"
            return self._in(key, "read", lambda: aws.read(type_key, name, scope))

        def delete(self, state: Any) -> None:
            aws.delete(state)

        def tag(self, state: Any, tags: dict[str, str]) -> None:
            aws.tag(state, tags)

        def archive(self, state: Any) -> None:
            aws.archive(state)

    return Counting()


def plan(work: Path) -> list[Any]:
    from dpn_action.analysis import analyse
    from dpn_action.naming.config import load_config
    from dpn_action.plan import planned

    project = "b" + secrets.token_hex(3)
    path = work / f"{project}.json"
    path.write_text(json.dumps(blueprint(project)), encoding="utf-8")
    cfg, _ = load_config(None, None, {}, display_root=work)
    result = analyse(cfg, [path], display_root=work)
    errors = [f for f in result.findings if f.is_error]
    if errors:
        raise SystemExit(f"the generated blueprint has errors: {errors[:3]}")
    items = planned(result.resources)
    if len(items) != 200:
        raise SystemExit(f"expected 200 planned resources, got {len(items)}")
    return items


def critical_path(items: list[Any], calls: dict[tuple[str, str], int], latency: float) -> float:
    """Longest chain of create calls (each resource: its own count), plus the longest read."""
    finish: dict[str, float] = {}
    for p in items:  # planned() is in dependency order
        start = max((finish[d] for d in p.depends_on), default=0.0)
        finish[p.key] = start + calls.get((p.key, "create"), 0) * latency
    reads = max(calls.get((p.key, "read"), 0) for p in items) * latency
    return reads + max(finish.values())


def depth(items: list[Any]) -> int:
    level: dict[str, int] = {}
    for p in items:
        level[p.key] = 1 + max((level[d] for d in p.depends_on), default=0)
    return max(level.values())


#: the moto server's process id, once started
SERVER_PID = [0]


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process `pid` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(
    aws_url: str, work: Path, latency_s: float, max_parallel: int, fsync: bool
) -> tuple[float, Latency, list[Any]]:
    import boto3

    from dpn_action.providers.aws import AwsProvider
    from dpn_action.provision import apply_plan
    from dpn_action.txn.model import TxnStatus

    os.environ["DPN_WAL_FSYNC"] = "1" if fsync else "0"
    items = plan(work)
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    aws = AwsProvider(session, "us-east-1", aws_url, settle_delay=0)
    latency = Latency(latency_s)
    for service in ("s3", "glue", "iam", "lambda", "sqs", "sns", "dynamodb", "stepfunctions"):
        aws.client(service).meta.events.register("before-send", latency)
    aws.client("sts").get_caller_identity()  # account id: once per provider, not per resource
    wal = work / f"wal-{secrets.token_hex(3)}"
    start, own0, server0 = time.perf_counter(), time.process_time(), server_cpu(SERVER_PID[0])
    result = apply_plan(
        items,
        wal_dir=wal,
        max_parallel=max_parallel,
        providers={"aws": counting_provider(aws, latency)},
    )
    elapsed = time.perf_counter() - start
    latency.wall = elapsed
    latency.own_cpu = time.process_time() - own0
    latency.server_cpu = server_cpu(SERVER_PID[0]) - server0
    if result.status is not TxnStatus.COMMITTED:
        raise SystemExit(f"the transaction ended {result.status}: {result.error}")
    return elapsed, latency, items


def moto_server() -> tuple[subprocess.Popen[bytes], str]:
    """`moto_server` in a process of its own, on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    SERVER_PID[0] = proc.pid
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("moto server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--wide", type=int, default=64, help="a wide --max-parallel to compare")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from dpn_action.txn.model import DEFAULT_MAX_PARALLEL

    parallel = DEFAULT_MAX_PARALLEL
    latency = args.latency_ms / 1000
    os.environ.pop("AWS_PROFILE", None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    server, url = moto_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)

            def median(p: int, lat: float, fsync: bool = True) -> tuple[float, Latency, list[Any]]:
                runs = [run(url, work, lat, p, fsync) for _ in range(args.runs)]
                runs.sort(key=lambda r: r[0])
                return runs[len(runs) // 2]

            run(url, work, 0.0, parallel, True)  # warm up moto's backends and the imports
            _, zero, _ = median(parallel, 0.0)
            t_cpu, own_cpu, moto_cpu = zero.wall, zero.own_cpu, zero.server_cpu
            t_seq = median(1, latency)[0]
            t_par, counted, items = median(parallel, latency)
            t_nosync = median(parallel, latency, fsync=False)[0]
            t_wide = median(args.wide, latency)[0]
    finally:
        server.terminate()
        server.wait()
        os.environ.pop("DPN_WAL_FSYNC", None)

    creates = [counted.calls.get((p.key, "create"), 0) for p in items]
    reads = [counted.calls.get((p.key, "read"), 0) for p in items]
    total = sum(counted.calls.values())
    span = critical_path(items, counted.calls, latency)
    work_bound = total * latency / parallel
    bound = max(span, work_bound)
    print(f"resources                 : {len(items)}, dependency depth {depth(items)}")
    print(
        f"calls per resource        : create {statistics.mean(creates):.2f} on average "
        f"(max {max(creates)}), pre-flight read {statistics.mean(reads):.2f} (max {max(reads)}); "
        f"{total} calls in all"
    )
    print(f"latency added per call    : {args.latency_ms:.0f} ms; median of {args.runs} runs")
    print(f"--max-parallel 1          : {t_seq:6.2f} s")
    print(f"--max-parallel {parallel} (default): {t_par:6.2f} s  ({t_seq / t_par:.1f}x faster)")
    print(f"--max-parallel {args.wide:<11}: {t_wide:6.2f} s  ({t_seq / t_wide:.1f}x faster)")
    print(f"critical-path bound       : {span:6.2f} s  (longest chain + slowest read)")
    print(f"calls x latency / {parallel}      : {work_bound:6.2f} s")
    print(f"default vs max(bounds)    : {t_par / bound:.2f}x of {bound:.2f} s")
    print(
        f"no latency, default       : {t_cpu:6.2f} s  (CPU in that time: dpn + botocore "
        f"{own_cpu:.2f} s, moto {moto_cpu:.2f} s)"
    )
    print(
        f"WAL fsync                 : on {t_par:.2f} s, off {t_nosync:.2f} s "
        f"({(t_par - t_nosync) / t_par * 100:+.1f}% of the wall time)"
    )


if __name__ == "__main__":
    main()
