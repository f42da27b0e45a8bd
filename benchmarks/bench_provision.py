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
import urllib.parse
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


#: Two latency models. `flat`: every request takes the same time. `cloud`: each operation
#: its own latency, and an IAM role usable by the services that assume it only some seconds
#: after it was made. Sources, and which figures are estimates, in MODELS below and in
#: docs/provisioning.md#speed.
FLAT_MS = 50.0

#: `cloud` model, per request (ms). AWS publishes no per-operation latencies; these are
#: estimates of an in-region client with a warm connection (one TLS round trip is reused):
#: reads and listings of a regional control plane ~40 ms, writes ~80 ms; IAM is served from
#: one global endpoint in us-east-1, writes ~150 ms; S3 CreateBucket ~250 ms and Lambda
#: CreateFunction ~400 ms (it uploads and validates the code archive).
CLOUD_MS_DEFAULT = {"read": 40.0, "write": 80.0}
CLOUD_MS: dict[tuple[str, str], float] = {
    ("iam", "CreateRole"): 150.0,
    ("iam", "CreatePolicy"): 150.0,
    ("iam", "ListRoles"): 120.0,
    ("iam", "ListPolicies"): 120.0,
    ("s3", "CreateBucket"): 250.0,
    ("lambda", "CreateFunction"): 400.0,
}
#: `cloud` model: seconds from CreateRole until Lambda, Glue and Step Functions accept the
#: role. AWS documents IAM as eventually consistent without a figure ("changes are not
#: always immediately visible"); tools wait for it: Terraform's AWS provider retries such
#: creates for up to 2 minutes, Ansible roles sleep 5-6 s after creating a role. 8 s is an
#: estimate in that range.
IAM_PROPAGATION_S = 8.0
#: the creates that assume a role, how each names it, and how each refuses one too young
ROLE_USERS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("lambda", "CreateFunction"): (
        "Role",
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    ),
    ("glue", "CreateCrawler"): (
        "Role",
        "InvalidInputException",
        "Service is unable to assume provided role. Please verify role's TrustPolicy",
    ),
    ("stepfunctions", "CreateStateMachine"): (
        "roleArn",
        "AccessDeniedException",
        "Neither the global service principal states.amazonaws.com, nor the regional one is "
        "authorized to assume the provided role.",
    ),
}


def is_read(operation: str) -> bool:
    return operation.startswith(("Get", "List", "Describe", "Head"))


class Model:
    """A latency model: how long each request takes, and how long a new role stays unusable."""

    def __init__(self, name: str, flat_ms: float | None) -> None:
        self.name = name
        self.flat = None if flat_ms is None else flat_ms / 1000
        self.propagation = 0.0 if flat_ms is not None else IAM_PROPAGATION_S

    def latency(self, service: str, operation: str) -> float:
        if self.flat is not None:
            return self.flat
        default = CLOUD_MS_DEFAULT["read" if is_read(operation) else "write"]
        return CLOUD_MS.get((service, operation), default) / 1000


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


class Latency:
    """`before-send`: sleep as the model says, refuse a role too young, and count each
    request (and its latency) against the resource being worked on."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.current = threading.local()
        self.calls: dict[tuple[str, str], int] = defaultdict(int)  # (key, phase) -> calls
        #: (key, phase) -> seconds of latency of its requests (refused ones apart)
        self.spent: dict[tuple[str, str], float] = defaultdict(float)
        self.refused: dict[str, int] = defaultdict(int)  # key -> creates refused: role too young
        self.total_latency = 0.0
        self._roles: dict[str, float] = {}  # role name -> when it is usable
        self._lock = threading.Lock()
        #: of the run that used this hook: wall time, CPU of this process and of moto
        self.wall = self.own_cpu = self.server_cpu = 0.0

    def __call__(self, request: Any = None, event_name: str = "", **_: Any) -> Any:
        _, service, operation = event_name.split(".", 2)
        seconds = self.model.latency(service, operation)
        where = getattr(self.current, "where", None)
        answer = None
        if self.model.propagation and (service, operation) in ROLE_USERS:
            answer = self._too_young(request, *ROLE_USERS[(service, operation)])
        with self._lock:
            self.total_latency += seconds
            if where is not None:
                self.calls[where] += 1
                if answer is None:
                    self.spent[where] += seconds
                else:
                    self.refused[where[0]] += 1
            if (service, operation) == ("iam", "CreateRole") and self.model.propagation:
                body = request.body
                body = body.decode() if isinstance(body, bytes) else body
                name = urllib.parse.parse_qs(body)["RoleName"][0]
                self._roles[name] = time.monotonic() + seconds + self.model.propagation
        time.sleep(seconds)
        return answer

    def _too_young(self, request: Any, field: str, code: str, message: str) -> Any:
        from botocore.awsrequest import AWSResponse

        role = json.loads(request.body)[field].rsplit("/", 1)[-1]
        with self._lock:
            usable = self._roles.get(role, 0.0)
        if time.monotonic() >= usable:
            return None
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 400, headers, _Body(body))


def counting_provider(aws: Any, latency: Latency) -> Any:
    """The AWS provider, telling the latency hook which resource each call belongs to."""

    class Counting:
        name = aws.name
        tag_types = aws.tag_types
        archive_types = aws.archive_types
        late_marked_types = aws.late_marked_types
        survey_types = aws.survey_types
        trusts_preflight = aws.trusts_preflight

        def _in(self, key: str, phase: str, fn: Callable[[], Any]) -> Any:
            latency.current.where = (key, phase)
            try:
                return fn()
            finally:
                latency.current.where = None

        def create(self, op: Any, txn_id: str, resolved: Any, **kw: Any) -> Any:
            return self._in(op.key, "create", lambda: aws.create(op, txn_id, resolved, **kw))

        def read(self, type_key: str, name: str, scope: dict[str, str]) -> Any:
            key = f"{type_key}:{'.'.join([*scope.values(), name])}"
            return self._in(key, "read", lambda: aws.read(type_key, name, scope))

        def survey(self, type_key: str, scope: dict[str, str], names: list[str]) -> Any:
            key = f"list:{type_key}:{'.'.join(scope.values())}"
            return self._in(key, "read", lambda: aws.survey(type_key, scope, names))

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


#: the types whose create assumes a role (`role_ref`)
ROLE_USER_TYPES = frozenset({"aws_lambda_function", "aws_glue_crawler", "aws_step_function"})


def critical_path(items: list[Any], counted: Latency) -> tuple[float, float]:
    """(pre-flight, create) parts of the critical-path bound: the slowest pre-flight request
    chain of one key or listing, plus the longest dependency chain of creates, each costing
    the latency of its own requests, a create that assumes a role starting no earlier than
    the role's create + the IAM propagation time. The wall time with unlimited parallelism,
    free CPU and a perfect wait."""
    pre = max((t for (_, phase), t in counted.spent.items() if phase == "read"), default=0.0)
    finish: dict[str, float] = {}
    for p in items:  # planned() is in dependency order
        start = 0.0
        for d in p.depends_on:
            ready = counted.model.propagation if p.type in ROLE_USER_TYPES else 0.0
            role = d.startswith("aws_iam_role:")
            start = max(start, finish[d] + (ready if role else 0.0))
        finish[p.key] = start + counted.spent.get((p.key, "create"), 0.0)
    return pre, max(finish.values())


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
    aws_url: str, work: Path, model: Model, max_parallel: int, fsync: bool
) -> tuple[float, Latency, list[Any]]:
    import boto3

    from dpn_action.providers.aws import AwsProvider
    from dpn_action.provision import apply_plan
    from dpn_action.txn.model import TxnStatus

    os.environ["DPN_WAL_FSYNC"] = "1" if fsync else "0"
    # a clean account for every run: listings see only what this run plans
    urllib.request.urlopen(urllib.request.Request(f"{aws_url}/moto-api/reset", method="POST"))
    items = plan(work)
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    # the real IAM propagation wait is a retry every 2 s (the provider's default)
    settle = 2.0 if model.propagation else 0.0
    aws = AwsProvider(session, "us-east-1", aws_url, settle_delay=settle)
    latency = Latency(model)
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


def report(
    model: Model, parallel: int, runs: dict[int, tuple[float, Latency, list[Any]]], nosync: float
) -> None:
    t_par, counted, items = runs[parallel]
    creates = [counted.calls.get((p.key, "create"), 0) for p in items]
    total = sum(counted.calls.values())
    preflight = total - sum(creates)
    pre, chain = critical_path(items, counted)
    span = pre + chain
    work_bound = counted.total_latency / parallel
    bound = max(span, work_bound)
    refused = sum(counted.refused.values())
    print(f"== model {model.name}")
    print(
        f"requests per resource     : {total / len(items):.2f} ({total} in all): create "
        f"{statistics.mean(creates):.2f} (max {max(creates)}), pre-flight "
        f"{preflight / len(items):.2f}; of the creates, {refused} refused while a role was "
        "too young"
    )
    for p, (t, _, _) in sorted(runs.items()):
        tag = " (default)" if p == parallel else ""
        print(f"--max-parallel {p:<3}{tag:10}: {t:6.2f} s")
    print(
        f"critical-path bound       : {span:6.2f} s  (pre-flight {pre:.2f} s + longest chain "
        f"{chain:.2f} s, waits included)"
    )
    print(f"request latency / {parallel:<8}: {work_bound:6.2f} s  ({counted.total_latency:.2f} s)")
    print(f"default vs max(bounds)    : {t_par / bound:.2f}x of {bound:.2f} s")
    print(
        f"WAL fsync                 : on {t_par:.2f} s, off {nosync:.2f} s "
        f"({(t_par - nosync) / t_par * 100:+.1f}% of the wall time)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency-ms", type=float, default=FLAT_MS, help="the flat model's")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--parallel", default="1,8,16,32", help="--max-parallel values to time (flat model)"
    )
    ap.add_argument("--cloud-parallel", default="8,16,32", help="the same, cloud model")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from dpn_action.txn.model import DEFAULT_MAX_PARALLEL

    parallel = DEFAULT_MAX_PARALLEL
    os.environ.pop("AWS_PROFILE", None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    server, url = moto_server()
    models = [
        (Model(f"flat ({args.latency_ms:.0f} ms a request)", args.latency_ms), args.parallel),
        (Model("cloud (per-operation latency, IAM propagation)", None), args.cloud_parallel),
    ]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)

            def median(
                model: Model, p: int, fsync: bool = True
            ) -> tuple[float, Latency, list[Any]]:
                runs = [run(url, work, model, p, fsync) for _ in range(args.runs)]
                runs.sort(key=lambda r: r[0])
                return runs[len(runs) // 2]

            run(url, work, Model("warm-up", 0.0), parallel, True)  # imports, moto's backends
            _, zero, _ = median(Model("none", 0.0), parallel)
            for model, values in models:
                wanted = sorted({parallel, *(int(v) for v in values.split(","))})
                timed = {p: median(model, p) for p in wanted}
                nosync = median(model, parallel, fsync=False)[0]
                report(model, parallel, timed, nosync)
    finally:
        server.terminate()
        server.wait()
        os.environ.pop("DPN_WAL_FSYNC", None)
    print(
        f"== no latency, default    : {zero.wall:6.2f} s  (CPU in that time: dpn + botocore "
        f"{zero.own_cpu:.2f} s, moto {zero.server_cpu:.2f} s)"
    )


if __name__ == "__main__":
    main()
