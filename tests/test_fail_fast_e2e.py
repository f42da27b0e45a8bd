"""A cloud that cannot be used fails a run at once, with one line per cloud, and leaves no
transaction behind.

`dpn` runs as a separate process with the real boto3 and databricks-sdk. The clouds that work
are moto and the loopback Databricks server (`provision_env`); the ones that do not are made
here on 127.0.0.1: a closed port (connection refused), a listener whose queue of connections
is full (the connection is never accepted: a connect timeout, as an address that routes
nowhere gives), a listener that accepts and never answers (a read timeout), and
10.255.255.1, an address that routes nowhere on most networks.

Times are only guarded against a hang (`FAIL_FAST_GUARD`); what a run takes is measured and
written down in docs/provisioning.md.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from provision_env import Clouds, Workdir, workdir

from dpn_action.txn.wal import list_wal_files

CREATE = ("create", "--blueprint", "blueprint.json")
#: a guard against a hang, far above what a failing run takes (docs/provisioning.md)
FAIL_FAST_GUARD = 60


@pytest.fixture(scope="module")
def clouds() -> Iterator[Clouds]:
    c = Clouds()
    yield c
    c.stop()


# --------------------------------------------------------------------------- dead endpoints


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class _NeverAccepts:
    """A listener whose queue of connections is full, so a new connection is never
    established: the client waits for its connect timeout."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(0)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.held: list[socket.socket] = []
        for _ in range(16):  # fill the queue: until a connection is no longer established
            client = socket.socket()
            client.settimeout(0.5)
            try:
                client.connect(self.server.getsockname())
            except TimeoutError:
                client.close()
                return
            self.held.append(client)
        raise AssertionError("the listener kept accepting connections")

    def close(self) -> None:
        for c in self.held:
            c.close()
        self.server.close()


class _NeverAnswers:
    """A listener that accepts every connection and never sends a byte back."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for c in self.accepted:
            c.close()
        self.server.close()


@pytest.fixture(params=["closed-port", "never-accepts", "never-answers", "10.255.255.1"])
def dead_url(request: pytest.FixtureRequest) -> Iterator[str]:
    kind = request.param
    if kind == "closed-port":
        yield _closed_port()
    elif kind == "10.255.255.1":
        yield "http://10.255.255.1"
    else:
        server = _NeverAccepts() if kind == "never-accepts" else _NeverAnswers()
        yield server.url
        server.close()


# --------------------------------------------------------------------------- running dpn


def run(
    clouds: Clouds,
    work: Workdir,
    *args: str,
    drop: tuple[str, ...] = (),
    **extra: str,
) -> tuple[subprocess.CompletedProcess[str], float]:
    """`dpn ARGS` in the work directory with the loopback clouds' environment, `extra` set
    and the variables in `drop` removed; and how long it took."""
    env = clouds.env(**extra)
    for key in drop:
        env.pop(key, None)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "dpn_action", *args],
        cwd=work.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=FAIL_FAST_GUARD,
        check=False,
    )
    return proc, time.monotonic() - started


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.strip()]


def no_transaction(work: Workdir) -> None:
    """Nothing in the WAL directory: no transaction was begun."""
    assert not work.wal.exists() or not list_wal_files(work.wal), list(work.wal.iterdir())


# --------------------------------------------------------------------------- the cases


def test_an_unreachable_databricks_host_fails_at_once_with_one_line(
    clouds: Clouds, tmp_path: Path, dead_url: str
) -> None:
    work = workdir(tmp_path)

    proc, took = run(clouds, work, *CREATE, DATABRICKS_HOST=dead_url)

    assert proc.returncode == 1, proc.stderr
    (line,) = error_lines(proc)
    assert line.startswith("Error: databricks: ")
    assert dead_url.lower() in line
    assert "check DATABRICKS_HOST" in line and "`dpn doctor`" in line
    assert took < FAIL_FAST_GUARD
    no_transaction(work)
    assert clouds.inventory(work.token).keys == set()  # nothing of AWS either


def test_an_unreachable_aws_endpoint_fails_at_once_with_one_line(
    clouds: Clouds, tmp_path: Path, dead_url: str
) -> None:
    work = workdir(tmp_path)

    proc, took = run(clouds, work, *CREATE, AWS_ENDPOINT_URL=dead_url)

    assert proc.returncode == 1, proc.stderr
    (line,) = error_lines(proc)
    assert line.startswith("Error: aws: ")
    assert dead_url in line
    assert "check AWS_ENDPOINT_URL" in line and "`dpn doctor`" in line
    assert took < FAIL_FAST_GUARD
    no_transaction(work)
    assert clouds.inventory(work.token).keys == set()  # nothing of Databricks either


def test_both_clouds_unreachable_are_one_line_each(clouds: Clouds, tmp_path: Path) -> None:
    work = workdir(tmp_path)
    dead = _closed_port()

    proc, _ = run(clouds, work, *CREATE, AWS_ENDPOINT_URL=dead, DATABRICKS_HOST=dead)

    assert proc.returncode == 1, proc.stderr
    aws, dbx = error_lines(proc)
    assert aws.startswith(f"Error: aws: cannot reach {dead}")
    assert dbx.startswith(f"databricks: cannot reach {dead}")
    no_transaction(work)


def test_missing_credentials_are_reported_once_per_cloud_with_what_to_set(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    credentials = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

    proc, _ = run(clouds, work, *CREATE, drop=(*credentials, "DATABRICKS_TOKEN"))

    assert proc.returncode == 1, proc.stderr
    lines = error_lines(proc)
    assert len(lines) == 2, lines
    aws, dbx = lines
    assert aws.startswith("Error: aws: no credentials found")
    assert "AWS_PROFILE" in aws and "AWS_ACCESS_KEY_ID" in aws and "`dpn doctor`" in aws
    assert dbx.startswith("databricks: not configured")
    assert "DATABRICKS_TOKEN" in dbx and "DATABRICKS_CONFIG_PROFILE" in dbx
    assert "`dpn doctor`" in dbx
    no_transaction(work)


def test_refused_credentials_are_one_line_for_every_command_that_reads(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)

    for args in (CREATE, (*CREATE, "--dry-run"), ("read", "--blueprint", "blueprint.json")):
        proc, _ = run(clouds, work, *args, DATABRICKS_TOKEN="dapi-wrong")

        assert proc.returncode == 1, proc.stderr
        (line,) = error_lines(proc)
        assert line.startswith("Error: databricks: ")
        assert "refused the credentials (Unauthenticated" in line
        assert "check DATABRICKS_TOKEN" in line and "`dpn doctor`" in line
    no_transaction(work)


def test_recovery_that_cannot_reach_a_cloud_says_so_once_and_keeps_the_log(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    killed, _ = run(clouds, work, *CREATE, DPN_TEST_CRASH_AT="after-done:3")
    assert killed.returncode < 0, killed.stderr
    (log,) = list_wal_files(work.wal)
    before = log.read_bytes()

    proc, _ = run(clouds, work, "recover", DATABRICKS_HOST=_closed_port())

    assert proc.returncode == 1, proc.stderr
    (line,) = error_lines(proc)
    assert line.startswith("Error: databricks: cannot reach")
    assert log.read_bytes() == before  # not touched

    finished, _ = run(clouds, work, "recover", "--format", "json")
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["status"] == "ROLLED_BACK"
    assert clouds.inventory(work.token).keys == set()


def test_the_same_read_error_for_many_resources_is_said_once(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    clouds.dbx.fail_always("/api/2.1/unity-catalog/*", status=403)
    try:
        proc, _ = run(clouds, work, *CREATE, "--dry-run")
    finally:
        clouds.dbx.clear_faults()

    assert proc.returncode == 1, proc.stderr
    (error,) = [line for line in error_lines(proc) if "pre-flight read failed" in line]
    # the catalog's read is refused; what lives in it is not read at all, and says why once
    assert error.count("PermissionDenied") == 1, error
    assert "pre-flight read failed: dbx_catalog:" in error
    assert "which it is in, could not be (first: dbx_" in error
    assert not os.path.exists(work.wal)
