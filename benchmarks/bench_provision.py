"""Provisioning speed and requests: a 200-resource AWS blueprint against moto, two latency models.

    python benchmarks/bench_provision.py [--runs 3] [--parallel 1,8,16,32]
                                         [--cloud-parallel 8,16,32] [--latency-ms 50]

Each run creates the blueprint's 200 resources (S3, Glue databases and tables, IAM roles
and policies, Lambda, Glue crawlers, SQS, SNS, DynamoDB, Step Functions; dependency depth 2)
as one transaction through `dpn_action.provision.apply_plan`, in this process, against a
moto server on loopback running in its own process (so the emulator's CPU does not compete
with the measured process for its interpreter lock). moto is patched to keep the tags given
in `CreateBucket`, as AWS does (`tests/moto_as_aws.py`).

The emulated cloud is a botocore hook on the session every client comes from: before each
HTTP request (retries, waiter polls and the access check included) it sleeps as the latency
model says, refuses a create that assumes a role IAM has not propagated yet, and counts the
request; after a describe call it reports a table or stream as CREATING until its readiness
time has passed. Two models (`latency_model.py`, sources in docs/provisioning.md#speed):

* `flat`: 50 ms a request, everything ready at once (the earlier figures' model);
* `cloud`: each operation its own latency, and the readiness times users wait for.

Reported, median of `--runs` (a fresh project name and a reset emulator every run):

* requests per resource in a clean create, counted by the client hook and, in one run of
  their own, by moto's request log, which must agree;
* wall time per `--max-parallel`, against the two bounds: the critical path (the longest
  dependency chain, each resource costing its own requests' latency, a create that assumes a
  role starting no earlier than the role + IAM propagation, plus the slowest pre-flight
  request) and all requests' latency / P;
* the CPU floor: the wall time with no latency (botocore, moto and dpn on 2 cores);
* the WAL's cost: the time its fsyncs took (they run one at a time, so that is the most
  durability can add), and the default again with `DPN_WAL_FSYNC=0` (fsync off: benchmarks
  only), the two in turns;
* the highest request rate in any second under each published rate limit, at the default
  `--max-parallel`, the requests `cloud` throttled, and the realistic default once more
  without the provider's pacing to those rates (what throttling and adaptive retries cost);
* the goals of issue 13, side by side for both models.
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
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latency_model import ROLE_USERS, THROTTLES, Model, Throttle

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
RESOURCES = sum(n for _, n, _ in SHAPE)

#: the types whose create assumes a role (`role_ref`)
ROLE_USER_TYPES = frozenset({"aws_lambda_function", "aws_glue_crawler", "aws_step_function"})
#: describe calls whose answer says whether a table or stream is still being made:
#: event name -> (path to the resource's description, name field, status field, readiness)
DESCRIBED = {
    "dynamodb.DescribeTable": ("Table", "TableName", "TableStatus", "dynamodb_table"),
    "kinesis.DescribeStreamSummary": (
        "StreamDescriptionSummary",
        "StreamName",
        "StreamStatus",
        "kinesis_stream",
    ),
    "kinesis.DescribeStream": ("StreamDescription", "StreamName", "StreamStatus", "kinesis_stream"),
}
#: creates that start a readiness clock: event name -> (name field in the request, readiness)
MADE = {
    "dynamodb.CreateTable": ("TableName", "dynamodb_table"),
    "kinesis.CreateStream": ("StreamName", "kinesis_stream"),
}


def blueprint(project: str) -> dict[str, Any]:
    aws = {name: [make(i) for i in range(n)] for name, n, make in SHAPE}
    return {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": project, "region": "us-east-1"},
        "resources": {"aws": aws},
    }


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


class EmulatedCloud:
    """Hooks on a boto3 session: each request sleeps as the model says and is counted (every
    one, and against the resource being worked on); a create that assumes a role too young
    is refused as the service would; a describe call answers CREATING until the table or
    stream is ready."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.current = threading.local()
        self.sent: Counter[str] = Counter()  # "service.Operation" -> requests, every one
        self.at: dict[str, list[float]] = defaultdict(list)  # "service.Operation" -> send times
        self.calls: dict[tuple[str, str], int] = defaultdict(int)  # (key, phase) -> requests
        #: (key, phase) -> seconds of latency of its requests (refused ones apart)
        self.spent: dict[tuple[str, str], float] = defaultdict(float)
        self.refused: dict[str, int] = defaultdict(int)  # key -> creates refused: role too young
        self.throttled: Counter[str] = Counter()  # "service.Operation" -> requests throttled
        #: per published rate limit: its tokens and when they were counted (`cloud` only)
        self._buckets: dict[int, list[float]] = {}
        self.total_latency = 0.0
        self._usable: dict[tuple[str, str], float] = {}  # (readiness, name) -> when usable
        self._lock = threading.Lock()
        #: of the run that used these hooks: wall time, CPU of this process and of moto,
        #: the WAL's fsyncs and the time they took
        self.wall = self.own_cpu = self.server_cpu = self.fsync_time = 0.0
        self.fsyncs = 0

    def register(self, events: Any) -> None:
        # last: the request reaches the cloud after dpn's own hooks (its pacing) let it go
        events.register_last("before-send", self.before_send)
        for name in DESCRIBED:
            events.register(f"after-call.{name}", self.after_describe)

    @property
    def requests(self) -> int:
        return sum(self.sent.values())

    def before_send(self, request: Any = None, event_name: str = "", **_: Any) -> Any:
        _, service, operation = event_name.split(".", 2)
        seconds = self.model.latency(service, operation)
        where = getattr(self.current, "where", None)
        op = f"{service}.{operation}"
        now = time.monotonic()
        throttled = refused = None
        if self.model.realistic:
            throttled = self._throttle(service, operation, now, request)
        if throttled is None and self.model.propagation and (service, operation) in ROLE_USERS:
            refused = self._too_young(request, *ROLE_USERS[(service, operation)])
        answer = throttled or refused
        with self._lock:
            self.sent[op] += 1
            self.at[op].append(now)
            self.total_latency += seconds
            if throttled is not None:
                self.throttled[op] += 1
            if where is not None:
                self.calls[where] += 1
                if refused is not None:
                    self.refused[where[0]] += 1
                if answer is None:
                    self.spent[where] += seconds
            made = self._made(service, operation, request) if answer is None else None
            if made is not None:
                self._usable[made[0]] = now + seconds + made[1]
        time.sleep(seconds)
        return answer

    def _made(
        self, service: str, operation: str, request: Any
    ) -> tuple[tuple[str, str], float] | None:
        """(readiness, name) and its readiness time, for a create that starts a clock."""
        if not self.model.realistic:
            return None
        if (service, operation) == ("iam", "CreateRole"):
            body = request.body
            body = body.decode() if isinstance(body, bytes) else body
            name = urllib.parse.parse_qs(body)["RoleName"][0]
            return ("iam_role", name), self.model.ready["iam_role"]
        field_readiness = MADE.get(f"{service}.{operation}")
        if field_readiness is None:
            return None
        field, readiness = field_readiness
        name = json.loads(request.body)[field]
        return (readiness, name), self.model.ready[readiness]

    def _throttle(self, service: str, operation: str, now: float, request: Any) -> Any:
        """The service's answer when a published rate limit has no token left, else None."""
        for i, limit in enumerate(THROTTLES):
            if not limit.covers(service, operation):
                continue
            with self._lock:
                tokens, then = self._buckets.get(i, (limit.burst, now))
                tokens = min(limit.burst, tokens + (now - then) * limit.rate)
                self._buckets[i] = [tokens - 1 if tokens >= 1 else tokens, now]
            if tokens < 1:
                return _error(
                    request, limit.status, limit.code, "Rate exceeded", xml=service == "sns"
                )
        return None

    def _too_young(self, request: Any, field: str, code: str, message: str) -> Any:
        role = json.loads(request.body)[field].rsplit("/", 1)[-1]
        with self._lock:
            usable = self._usable.get(("iam_role", role), 0.0)
        if time.monotonic() >= usable:
            return None
        return _error(request, 400, code, message)

    def after_describe(self, parsed: Any = None, event_name: str = "", **_: Any) -> None:
        section, name_field, status_field, readiness = DESCRIBED[event_name.split(".", 1)[1]]
        described = (parsed or {}).get(section) or {}
        with self._lock:
            usable = self._usable.get((readiness, str(described.get(name_field))), 0.0)
        if described.get(status_field) == "ACTIVE" and time.monotonic() < usable:
            described[status_field] = "CREATING"

    def peak_rate(self, limit: Throttle) -> int:
        """The most requests a rate limit covers that were sent in any one second."""
        times = sorted(
            t for op, ts in self.at.items() if limit.covers(*op.split(".", 1)) for t in ts
        )
        return max((bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


def _error(request: Any, status: int, code: str, message: str, *, xml: bool = False) -> Any:
    """An error answer of an AWS API: JSON (the JSON and REST-JSON protocols), or XML (the
    query protocol)."""
    from botocore.awsrequest import AWSResponse

    if xml:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}"
            "</Message></Error><RequestId>bench</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.1"}
    return AWSResponse(request.url, status, headers, _Body(body))


def counting_provider(aws: Any, cloud: EmulatedCloud) -> Any:
    """The AWS provider, telling the hooks which resource each call belongs to (everything
    else goes to the provider itself)."""

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(aws, name)

        def _in(self, key: str, phase: str, fn: Callable[[], Any]) -> Any:
            cloud.current.where = (key, phase)
            try:
                return fn()
            finally:
                cloud.current.where = None

        def create(self, op: Any, txn_id: str, resolved: Any, **kw: Any) -> Any:
            return self._in(op.key, "create", lambda: aws.create(op, txn_id, resolved, **kw))

        def read(self, type_key: str, name: str, scope: dict[str, str]) -> Any:
            key = f"{type_key}:{'.'.join([*scope.values(), name])}"
            return self._in(key, "read", lambda: aws.read(type_key, name, scope))

        def survey(self, type_key: str, scope: dict[str, str], names: list[str]) -> Any:
            key = f"list:{type_key}:{'.'.join(scope.values())}"
            return self._in(key, "read", lambda: aws.survey(type_key, scope, names))

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
    if len(items) != RESOURCES:
        raise SystemExit(f"expected {RESOURCES} planned resources, got {len(items)}")
    return items


def critical_path(items: list[Any], cloud: EmulatedCloud) -> tuple[float, float]:
    """(pre-flight, create) parts of the critical-path bound: the slowest pre-flight request
    chain of one key or listing, plus the longest dependency chain of creates, each costing
    the latency of its own requests, a create that assumes a role starting no earlier than
    the role's create + the IAM propagation time. The wall time with unlimited parallelism,
    free CPU and a perfect wait."""
    pre = max((t for (_, phase), t in cloud.spent.items() if phase == "read"), default=0.0)
    finish: dict[str, float] = {}
    for p in items:  # planned() is in dependency order
        start = 0.0
        for d in p.depends_on:
            wait = cloud.model.propagation if p.type in ROLE_USER_TYPES else 0.0
            start = max(start, finish[d] + (wait if d.startswith("aws_iam_role:") else 0.0))
        finish[p.key] = start + cloud.spent.get((p.key, "create"), 0.0)
    return pre, max(finish.values())


#: the moto server's process id, once started
SERVER_PID = [0]


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process `pid` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def moto_api(url: str, path: str) -> bytes:
    request = urllib.request.Request(f"{url}/moto-api/{path}", method="POST")
    with urllib.request.urlopen(request) as answer:
        return bytes(answer.read())


def run(
    aws_url: str,
    work: Path,
    model: Model,
    max_parallel: int,
    fsync: bool = True,
    *,
    record: bool = False,
    pacing: bool = True,
) -> tuple[EmulatedCloud, list[Any], int | None]:
    """One clean create of the blueprint: the hooks (with the run's figures), the planned
    resources and, with `record`, how many requests moto's request log holds. `pacing`
    off: the provider's clients do not keep to the published rates (for comparison)."""
    import boto3

    from dpn_action.providers.aws import AwsProvider
    from dpn_action.providers.aws import pacing as aws_pacing
    from dpn_action.providers.aws import provider as aws_provider
    from dpn_action.provision import apply_plan
    from dpn_action.txn.model import TxnStatus

    aws_provider.PUBLISHED = aws_pacing.PUBLISHED if pacing else {}

    os.environ["DPN_WAL_FSYNC"] = "1" if fsync else "0"
    # a clean account for every run: listings see only what this run plans
    moto_api(aws_url, "reset")
    items = plan(work)
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    cloud = EmulatedCloud(model)
    cloud.register(session.events)  # before any client exists: every client has the hooks
    # the IAM propagation wait as it is (the provider's default retry delay)
    settle = {} if model.propagation else {"settle_delay": 0.0}
    aws = AwsProvider(session, "us-east-1", aws_url, **settle)
    if record:
        moto_api(aws_url, "recorder/reset-recording")
        moto_api(aws_url, "recorder/start-recording")
    aws.caller()  # the access check every command makes first, once per provider
    wal = work / f"wal-{secrets.token_hex(3)}"
    real_fsync = os.fsync

    def fsync(fd: int) -> None:  # the WAL's fsyncs, timed (they run one at a time)
        began = time.perf_counter()
        real_fsync(fd)
        with cloud._lock:
            cloud.fsyncs += 1
            cloud.fsync_time += time.perf_counter() - began

    os.fsync = fsync
    start, own0, server0 = time.perf_counter(), time.process_time(), server_cpu(SERVER_PID[0])
    try:
        result = apply_plan(
            items,
            wal_dir=wal,
            max_parallel=max_parallel,
            providers={"aws": counting_provider(aws, cloud)},
        )
    finally:
        os.fsync = real_fsync
    cloud.wall = time.perf_counter() - start
    cloud.own_cpu = time.process_time() - own0
    cloud.server_cpu = server_cpu(SERVER_PID[0]) - server0
    logged = None
    if record:
        moto_api(aws_url, "recorder/stop-recording")
        lines = moto_api(aws_url, "recorder/download-recording").decode().splitlines()
        logged = sum(1 for line in lines if "/moto-api/" not in json.loads(line)["url"])
    if result.status is not TxnStatus.COMMITTED:
        raise SystemExit(f"the transaction ended {result.status}: {result.error}")
    return cloud, items, logged


def moto_server(*, as_aws: bool = False, log: Path | None = None) -> tuple[Any, str]:
    """`moto_server` in a process of its own, on a free loopback port; `as_aws`: keeping
    create-time bucket and stream tags as AWS does; `log`: where its request log goes."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = [str(ROOT / "tests" / "moto_as_aws.py")] if as_aws else ["-m", "moto.server"]
    env = dict(os.environ)
    if log is not None:
        env["MOTO_RECORDER_FILEPATH"] = str(log)
    proc = subprocess.Popen(
        [sys.executable, *server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
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


@dataclass
class Measured:
    """One model's runs: the median run per `--max-parallel`, and the default with fsync off."""

    model: Model
    default: int
    runs: dict[int, EmulatedCloud]
    items: list[Any]
    nosync: float
    #: the default without the provider's pacing (the realistic model only)
    unpaced: EmulatedCloud | None = None

    @property
    def at_default(self) -> EmulatedCloud:
        return self.runs[self.default]

    def requests(self) -> tuple[int, int, int, int]:
        """All requests of the default run, and of them: pre-flight, create (refused creates
        included), refused creates."""
        c = self.at_default
        create = sum(n for (_, phase), n in c.calls.items() if phase == "create")
        pre = sum(n for (_, phase), n in c.calls.items() if phase == "read")
        return c.requests, pre, create, sum(c.refused.values())

    def bounds(self) -> tuple[float, float, float]:
        """critical path, pre-flight part of it, requests x latency / P."""
        pre, chain = critical_path(self.items, self.at_default)
        return pre + chain, pre, self.at_default.total_latency / self.default

    def fsync_share(self) -> float:
        """The WAL's fsync time / the wall time: the most durability can add (the fsyncs run
        one at a time, so a create never waits longer than all of them take)."""
        return self.at_default.fsync_time / self.at_default.wall

    def wal_share(self) -> float:
        wall = self.at_default.wall
        return (wall - self.nosync) / wall


def report(m: Measured, floor: float) -> None:
    c = m.at_default
    total, pre, create, refused = m.requests()
    other = total - pre - create
    span, pre_part, work = m.bounds()
    bound = max(span, work)
    print(f"== model {m.model.name}")
    print(
        f"requests per resource     : {total / RESOURCES:.2f} ({total} in all): create "
        f"{create / RESOURCES:.2f} (of them {refused} refused while a role was too young), "
        f"pre-flight {pre / RESOURCES:.2f}, access check {other}"
    )
    sequential = m.runs.get(1)
    for p, run_ in sorted(m.runs.items()):
        tag = " (default)" if p == m.default else ""
        faster = f"  {sequential.wall / run_.wall:.1f}x faster" if sequential and p > 1 else ""
        print(f"--max-parallel {p:<3}{tag:10}: {run_.wall:6.2f} s{faster}")
    print(
        f"critical-path bound       : {span:6.2f} s  (pre-flight {pre_part:.2f} s + longest "
        f"chain {span - pre_part:.2f} s, waits included)"
    )
    print(f"request latency / {m.default:<8}: {work:6.2f} s  ({c.total_latency:.2f} s in all)")
    print(f"default vs max(bounds)    : {c.wall / bound:.2f}x of {bound:.2f} s")
    if floor > bound:
        print(
            f"  with the CPU floor       : {c.wall / floor:.2f}x of {floor:.2f} s (the no-latency "
            "wall time: botocore, moto and dpn on 2 cores)"
        )
    print(
        f"WAL fsync                 : {c.fsyncs} fsyncs took {c.fsync_time:.2f} s, at most "
        f"{m.fsync_share() * 100:.1f}% of the wall time; fsync on {c.wall:.2f} s, off "
        f"{m.nosync:.2f} s ({m.wal_share() * 100:+.1f}%)"
    )
    rates = []
    for limit in THROTTLES:
        peak = c.peak_rate(limit)
        if peak:
            ops = "*" if limit.operations is None else "/".join(sorted(limit.operations))
            rates.append(f"{limit.service}.{ops} {peak} ({limit.rate:g}/s, burst {limit.burst:g})")
    print(f"most in any one second    : {', '.join(rates) or '-'} (published limit)")
    print(
        f"throttled (published rates): {_throttled(c)}"
        + ("" if m.model.realistic else " (the flat model enforces none)")
    )
    if m.unpaced is not None:
        u = m.unpaced
        print(
            f"  without pacing           : {u.wall:6.2f} s, throttled {_throttled(u)}, "
            f"{u.requests / RESOURCES:.2f} requests per resource"
        )


def _throttled(c: EmulatedCloud) -> str:
    n = sum(c.throttled.values())
    return f"{n}" + (f" ({', '.join(f'{op} {k}' for op, k in c.throttled.items())})" if n else "")


def goals(measured: list[Measured], floor: float) -> None:
    """The goals of issue 13, both models side by side."""
    print("== goals, default --max-parallel, side by side")
    header = f"{'':34}" + "".join(f"{m.model.name.split(' ')[0]:>12}" for m in measured)
    print(header + "   goal")

    def row(label: str, values: list[str], goal: str) -> None:
        print(f"{label:34}" + "".join(f"{v:>12}" for v in values) + f"   {goal}")

    row(
        "requests per resource",
        [f"{m.requests()[0] / RESOURCES:.2f}" for m in measured],
        "<= 1.5",
    )
    row(
        "  without refused creates",
        [f"{(m.requests()[0] - m.requests()[3]) / RESOURCES:.2f}" for m in measured],
        "",
    )
    walls = []
    floors = []
    for m in measured:
        span, _, work = m.bounds()
        walls.append(f"{m.at_default.wall / max(span, work):.2f}x")
        floors.append(f"{m.at_default.wall / max(span, work, floor):.2f}x")
    row("wall / max(critical path, req*lat/P)", walls, "<= 1.2x")
    row("  / max(those, CPU floor)", floors, "")
    row("WAL: fsync time / wall time", [f"{m.fsync_share() * 100:.1f}%" for m in measured], "< 5%")
    row("  wall, fsync on vs off", [f"{m.wal_share() * 100:+.1f}%" for m in measured], "")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--latency-ms", type=float, default=50.0, help="the flat model's")
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
    tmp = tempfile.TemporaryDirectory()
    work = Path(tmp.name)
    server, url = moto_server(as_aws=True, log=work / "moto-requests.jsonl")
    models = [
        (Model.flat_model(args.latency_ms), args.parallel),
        (Model.cloud_model(), args.cloud_parallel),
    ]

    def median(
        model: Model, p: int, fsync: bool = True, pacing: bool = True
    ) -> tuple[EmulatedCloud, list[Any]]:
        runs = [run(url, work, model, p, fsync, pacing=pacing)[:2] for _ in range(args.runs)]
        runs.sort(key=lambda r: r[0].wall)
        return runs[len(runs) // 2]

    try:
        run(url, work, Model("warm-up", 0.0), parallel)  # imports, moto's backends
        counted, _, logged = run(url, work, Model("none", 0.0), parallel, record=True)
        zero, _ = median(Model("none", 0.0), parallel)
        measured = []
        for model, values in models:
            wanted = sorted({int(v) for v in values.split(",")} - {parallel})
            timed = {p: median(model, p) for p in wanted}
            # the default with fsync on and off, in turns, so drift hits both alike
            on, off = [], []
            # cheap runs of the flat model: more turns, the difference is small against noise
            for _ in range(args.runs if model.realistic else 3 * args.runs):
                on.append(run(url, work, model, parallel)[:2])
                off.append(run(url, work, model, parallel, fsync=False)[0].wall)
            on.sort(key=lambda r: r[0].wall)
            timed[parallel] = on[len(on) // 2]
            nosync = statistics.median(off)
            runs = {p: r[0] for p, r in timed.items()}
            m = Measured(model, parallel, runs, timed[parallel][1], nosync)
            if model.realistic:
                m.unpaced = median(model, parallel, pacing=False)[0]
            measured.append(m)
    finally:
        server.terminate()
        server.wait()
        os.environ.pop("DPN_WAL_FSYNC", None)
        tmp.cleanup()
    agree = "agree" if logged == counted.requests else "DISAGREE"
    print(
        f"== requests of one clean create, counted twice: client hooks {counted.requests}, "
        f"moto's request log {logged} ({agree}); by operation:"
    )
    by_op = sorted(counted.sent.items(), key=lambda kv: (-kv[1], kv[0]))
    print("   " + ", ".join(f"{op} {n}" for op, n in by_op))
    for m in measured:
        report(m, zero.wall)
    print(
        f"== no latency, default    : {zero.wall:6.2f} s  (CPU in that time: dpn + botocore "
        f"{zero.own_cpu:.2f} s, moto {zero.server_cpu:.2f} s)"
    )
    goals(measured, zero.wall)
    if logged != counted.requests:
        raise SystemExit("the client's count and moto's request log disagree")


if __name__ == "__main__":
    main()
