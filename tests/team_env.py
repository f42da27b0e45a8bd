"""What the team-mode tests share: moto over HTTP for S3 and DynamoDB, a worker that races
for a lease in a process of its own, and an S3 stand-in that ignores conditional headers.

moto's S3 and DynamoDB enforce `If-None-Match`, `If-Match` and condition expressions, but
its backends are plain dictionaries: two requests handled at the same time could both pass
a condition that AWS would let only one pass. The server therefore handles one request at
a time (`provision_env._one_request_at_a_time`), as AWS's conditional writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from moto.server import ThreadedMotoServer
from provision_env import FAKE_AWS, _one_request_at_a_time

BUCKET = "dpn-team-locks"
TABLE = "dpn-locks"


class Moto:
    """A moto server on 127.0.0.1, with the bucket and the lock table team mode uses."""

    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._undo = _one_request_at_a_time()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.client("s3").create_bucket(Bucket=BUCKET)
        self.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def env(self) -> dict[str, str]:
        """What a process needs to reach this server (and nothing else)."""
        return {**FAKE_AWS, "AWS_ENDPOINT_URL": self.url}

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self) -> None:
        self.server.stop()
        self._undo()


def race(url: str, index: int, trials: int, barrier: Any, results: Any) -> None:
    """One racer, in a process of its own: in each trial, wait for all racers, try once to
    take the lease on `<url>-<trial>`, wait for all again, then let go if it won. Reports
    (trial, racer, won, counter, the holder the store shows while it holds)."""
    from dpn_action.team import lease_store
    from dpn_action.txn.errors import LockTimeoutError
    from dpn_action.txn.lock import Lease

    holder = {"host": "racer", "pid": str(os.getpid()), "run_id": str(index)}
    for trial in range(trials):
        store, _ = lease_store(f"{url}-{trial}")
        lease = Lease(store, seconds=60, timeout=0, holder=holder)
        barrier.wait()
        try:
            lease.acquire()
        except LockTimeoutError:
            results.put((trial, index, False, 0, None))
            barrier.wait()
            continue
        found = store.read()
        shown = found[0]["holder"].get("run_id") if found else None
        results.put((trial, index, True, lease.counter, shown))
        barrier.wait()
        lease.release()


class _IgnoringS3(BaseHTTPRequestHandler):
    """PUT, GET and DELETE of objects, answering every conditional header with success."""

    protocol_version = "HTTP/1.1"
    objects: ClassVar[dict[str, bytes]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, code: int, body: bytes = b"", etag: str | None = None) -> None:
        self.send_response(code)
        if etag:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.objects[self.path] = body
        self._answer(200, etag=f'"{hashlib.md5(body).hexdigest()}"')

    def do_GET(self) -> None:
        if self.path not in self.objects:
            error = b"<Error><Code>NoSuchKey</Code><Message>none</Message></Error>"
            self._answer(404, error)
            return
        body = self.objects[self.path]
        self._answer(200, body, f'"{hashlib.md5(body).hexdigest()}"')

    def do_DELETE(self) -> None:
        self.objects.pop(self.path, None)
        self._answer(204)


@contextmanager
def ignoring_s3() -> Iterator[str]:
    """An S3-compatible endpoint that accepts `If-None-Match` and `If-Match` and ignores
    them (as stores without conditional writes do): its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _IgnoringS3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def mirror_object(moto: Moto, prefix: str, txn_id: str) -> tuple[dict[str, Any], bytes]:
    """A transaction's copy in the mirror: its header and the WAL bytes."""
    body = moto.client("s3").get_object(Bucket=BUCKET, Key=f"{prefix}/txn-{txn_id}.jsonl")
    first, _, wal = body["Body"].read().partition(b"\n")
    return json.loads(first), wal
