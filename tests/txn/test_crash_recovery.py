"""Killed at every crash point, a transaction is recovered to all or nothing.

Each case runs a 24-operation DAG in a separate process against the file-backed fake,
killed (SIGKILL) at a named crash point, then recovers and checks the invariants:
all or nothing, no resource without a WAL entry and tag, no create of something existing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from txn_fakes import FileProvider, build_dag

from dpn_action.txn import CRASH_POINTS, KeyState, TxnStatus, recover, status
from dpn_action.txn.crash import ENV_VAR
from dpn_action.txn.log import TxnLog
from dpn_action.txn.wal import list_wal_files, read_wal, txn_id_of

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("txn_crash_driver.py")
N_OPS = 24
ALL = {op.name for op in build_dag(N_OPS)}
KILLED = {-getattr(signal, "SIGKILL", 9), 137}


class Env:
    def __init__(self, root: Path) -> None:
        self.wal = root / "wal"
        self.state = root / "cloud.json"

    def run(
        self, command: str, *extra: str, crash_at: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
        env["PYTHONPATH"] = str(REPO)
        if crash_at:
            env[ENV_VAR] = crash_at
        return subprocess.run(
            [sys.executable, str(DRIVER), command, str(self.wal), str(self.state), *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def crash(self, command: str, crash_at: str, *extra: str) -> None:
        proc = self.run(command, *extra, crash_at=crash_at)
        assert proc.returncode in KILLED, (
            f"expected a kill at {crash_at}, got rc={proc.returncode}\n{proc.stdout}{proc.stderr}"
        )

    def ok(self, command: str, *extra: str) -> object:
        proc = self.run(command, *extra)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    @property
    def cloud(self) -> FileProvider:
        return FileProvider(self.state)

    def recover(self, *, forward: bool = False) -> None:
        recover({"fake": self.cloud}, wal_dir=self.wal, forward=forward, lock_timeout=30)


def assert_consistent(env: Env, *, expect: set[str] | None = None) -> set[str]:
    """All or nothing; every resource accounted for by a WAL entry and its tag; no dupes."""
    cloud = env.cloud
    names = cloud.names()
    assert names in (set(), ALL), f"partial state: {sorted(names)}"
    if expect is not None:
        assert names == expect
    history = cloud.history()
    assert [h for h in history if h[0] == "duplicate"] == []
    for name in ALL:
        creates = sum(1 for h in history if h[0] == "create" and h[1] == name)
        deletes = sum(1 for h in history if h[0] == "delete" and h[1] == name)
        assert creates - deletes == (1 if name in names else 0)
    logs = {txn_id_of(p): TxnLog.from_read(read_wal(p)) for p in list_wal_files(env.wal)}
    for state in cloud.resources():
        assert state.managed_by_dpn, state
        log = logs.get(state.transaction_id or "")
        assert log is not None, f"{state.name} tagged with unknown txn {state.transaction_id}"
        key = f"fake_thing:/{state.name}"
        assert log.state(key) is KeyState.CREATED, (state.name, log.state(key))
        assert log.keys[key].resource == state
    listing = status(env.wal)
    assert listing, "the WAL keeps every transaction"
    assert all(r.status not in {TxnStatus.UNFINISHED, TxnStatus.CORRUPT} for r in listing)
    return names


def test_crash_points_are_listed_once_and_unique() -> None:
    assert len(CRASH_POINTS) == len(set(CRASH_POINTS)) >= 15


APPLY_CRASHES = [
    "after-begin",
    "after-preflight",
    "before-intent:1",
    "before-intent:13",
    "after-intent:1",
    "after-intent:9",
    "after-call:1",
    "after-call:17",
    "after-done:6",
]
#: crash points after which every operation is done: only the end record is missing
DONE_CRASHES = ["after-call:24", "after-done:24", "before-commit"]


@pytest.mark.parametrize("crash_at", APPLY_CRASHES)
def test_crash_during_apply_then_recovery_rolls_back_everything(
    tmp_path: Path, crash_at: str
) -> None:
    env = Env(tmp_path)
    env.crash("apply", crash_at)
    env.recover()
    assert_consistent(env, expect=set())
    assert [r.status for r in status(env.wal)] == [TxnStatus.ROLLED_BACK]


@pytest.mark.parametrize("crash_at", DONE_CRASHES)
def test_crash_once_every_operation_is_done_then_recovery_completes_it(
    tmp_path: Path, crash_at: str
) -> None:
    """Committed work is never undone: with every create done (the last one known only by
    asking the cloud, after `after-call:24`), recovery writes the missing commit."""
    env = Env(tmp_path)
    env.crash("apply", crash_at)
    env.recover()
    assert_consistent(env, expect=ALL)
    assert [r.status for r in status(env.wal)] == [TxnStatus.COMMITTED]
    assert "delete" not in {h[0] for h in env.cloud.history()}


@pytest.mark.parametrize("crash_at", ["after-intent:9", "after-call:17", "after-done:6"])
def test_crash_during_apply_then_forward_recovery_completes_it(
    tmp_path: Path, crash_at: str
) -> None:
    env = Env(tmp_path)
    env.crash("apply", crash_at)
    env.recover(forward=True)
    assert_consistent(env, expect=ALL)
    assert [r.status for r in status(env.wal)] == [TxnStatus.COMMITTED]


def test_crash_after_commit_record_keeps_the_committed_transaction(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.crash("apply", "after-end")
    env.recover()
    assert_consistent(env, expect=ALL)
    assert [r.status for r in status(env.wal)] == [TxnStatus.COMMITTED]


ROLLBACK_CRASHES = [
    "after-abort",
    "rollback-before-intent:1",
    "rollback-after-intent:4",
    "rollback-after-call:2",
    "rollback-after-call:7",
    "rollback-after-done:3",
    "before-rollback-end",
    "after-end",
]


@pytest.mark.parametrize("crash_at", ROLLBACK_CRASHES)
@pytest.mark.parametrize("forward", [False, True], ids=["rollback", "forward"])
def test_crash_during_rollback_after_a_failure_still_ends_with_nothing(
    tmp_path: Path, crash_at: str, forward: bool
) -> None:
    env = Env(tmp_path)
    env.crash("apply", crash_at, "--fail", "res-15")
    env.recover(forward=forward)  # a transaction that decided to roll back never goes forward
    assert_consistent(env, expect=set())
    assert [r.status for r in status(env.wal)] == [TxnStatus.ROLLED_BACK]


RECOVERY_CRASHES = [
    "recovery-after-start",
    "recovery-after-resolve",
    "after-abort",
    "rollback-after-intent:2",
    "rollback-after-call:3",
    "rollback-after-done:5",
    "before-rollback-end",
]


@pytest.mark.parametrize("crash_at", RECOVERY_CRASHES)
def test_crash_during_recovery_is_itself_recovered(tmp_path: Path, crash_at: str) -> None:
    env = Env(tmp_path)
    env.crash("apply", "after-call:10")
    env.crash("recover", crash_at)
    env.recover()
    assert_consistent(env, expect=set())
    (log_path,) = list_wal_files(env.wal)
    assert TxnLog.from_read(read_wal(log_path)).recoveries == 2


@pytest.mark.parametrize("crash_at", ["after-call:3", "after-done:8", "before-commit"])
def test_crash_during_forward_recovery_is_itself_recovered(tmp_path: Path, crash_at: str) -> None:
    env = Env(tmp_path)
    env.crash("apply", "after-done:9")
    env.crash("recover-forward", crash_at)
    env.recover(forward=True)
    assert_consistent(env, expect=ALL)


def test_two_crashed_runs_in_a_row_then_a_clean_run_commits_once(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.crash("apply", "after-call:5")
    # The second run first rolls back the first (deletes only), then crashes in its own.
    env.crash("apply", "after-call:5")
    first, second = status(env.wal)
    assert first.status is TxnStatus.ROLLED_BACK
    assert second.status is TxnStatus.UNFINISHED
    result = env.ok("apply")
    assert isinstance(result, dict) and result["status"] == "COMMITTED"
    assert_consistent(env, expect=ALL)
    assert [r.status for r in status(env.wal)] == [
        TxnStatus.ROLLED_BACK,
        TxnStatus.ROLLED_BACK,
        TxnStatus.COMMITTED,
    ]


def test_torn_intent_after_the_cloud_call_is_still_found_by_its_tag(tmp_path: Path) -> None:
    # One at a time, so the intent of the fifth create is the last line when it is killed
    # after the call; then that line is torn, as if the disk lost its end.
    env = Env(tmp_path)
    env.crash("apply", "after-call:5", "--max-parallel", "1")
    (path,) = list_wal_files(env.wal)
    data = path.read_bytes()
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1]
    assert json.loads(last)["type"] == "intent"
    path.write_bytes(data[: len(data) - len(last) // 2])
    assert len(env.cloud.names()) == 5
    env.recover()
    assert_consistent(env, expect=set())
    assert path.with_name(path.name + ".torn-1").read_bytes() == data[: len(data) - len(last) // 2]


def test_four_processes_at_once_create_exactly_once(tmp_path: Path) -> None:
    env = Env(tmp_path)
    cmd = [sys.executable, str(DRIVER), "apply", str(env.wal), str(env.state)]
    environ = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    environ["PYTHONPATH"] = str(REPO)
    procs = [
        subprocess.Popen(cmd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        outcomes.append(json.loads(out.decode().strip().splitlines()[-1]))
    statuses = sorted(o["status"] for o in outcomes)
    assert statuses == ["COMMITTED"] + ["NOTHING_TO_DO"] * 3
    for outcome in outcomes:
        if outcome["status"] == "NOTHING_TO_DO":
            assert len(outcome["adopted"]) == N_OPS
    assert_consistent(env, expect=ALL)
    assert sum(1 for h in env.cloud.history() if h[0] == "create") == N_OPS
