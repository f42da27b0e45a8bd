"""`dpn sweep` without a cloud: ages, which types are swept, what the logs say about
ownership, and the command's refusals before any cloud is asked
(end to end against moto and the Databricks server: test_sweep_e2e.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import dpn

from dpn_action.github.inputs import ActionError, parse_inputs
from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.providers.base import Listed, Operation, ResourceState
from dpn_action.sweep import chosen_types, format_age, parse_age, scan, started
from dpn_action.txn.log import END, RETAINED
from dpn_action.txn.sweep import Logs, read_logs
from dpn_action.txn.wal import WalWriter, new_txn_id


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6h", 21600),
        ("30m", 1800),
        ("2d", 172800),
        ("1w", 604800),
        ("90s", 90),
        ("0", 0),
        ("1.5h", 5400),
        (" 12H ", 43200),
    ],
)
def test_an_age_is_a_number_and_a_unit(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["6", "6 hours", "-1h", "h", "", "1y", "six"])
def test_anything_else_is_not_an_age(text: str) -> None:
    with pytest.raises(ValueError, match="is not an age"):
        parse_age(text)


def test_ages_read_as_a_person_says_them() -> None:
    assert [format_age(s) for s in (0, 59, 60, 5400, 21600, 3.5 * 86400, 30 * 86400)] == [
        "0s",
        "59s",
        "1m",
        "1.5h",
        "6h",
        "3.5d",
        "4.3w",
    ]
    assert format_age(None) == "?"


def test_a_transaction_id_tells_when_it_began() -> None:
    assert started("20200102T030405060708Z-0badc0de") == datetime(
        2020, 1, 2, 3, 4, 5, 60708, tzinfo=UTC
    )
    now = started(new_txn_id())
    assert now is not None and abs((datetime.now(UTC) - now).total_seconds()) < 60
    for text in (None, "", "made-by-hand", "20201302T030405060708Z-0badc0de"):
        assert started(text) is None


def test_by_default_every_type_of_each_cloud_in_use_is_swept() -> None:
    aws = sorted(t for t, rt in CATALOGUE.items() if rt.provider == "aws")
    logs = Logs(types={"dbx_cluster", "not_a_type"})
    assert chosen_types([], Logs()) == []
    assert chosen_types([], logs) == sorted(t for t in CATALOGUE if t.startswith("dbx_"))
    # given types bring what they are named within, and what is named within them
    assert chosen_types([], logs, ["aws_glue_table"]) == ["aws_glue_database", "aws_glue_table"]
    assert chosen_types([], logs, ["aws_glue_database", "aws_sqs_queue"]) == [
        "aws_glue_database",
        "aws_glue_table",
        "aws_sqs_queue",
    ]
    assert set(chosen_types([], logs, ["dbx_table"])) == {
        "dbx_catalog",
        "dbx_schema",
        "dbx_table",
        "dbx_volume",
    }
    assert len(aws) == 13


# --------------------------------------------------------------------------- the logs


def _log(wal: Path, ops: list[Operation], *records: tuple[str, dict[str, object]]) -> str:
    txn = new_txn_id()
    begin = {
        "ops": [
            {"key": o.key, "type_key": o.type_key, "provider": o.provider, "name": o.name}
            for o in ops
        ]
    }
    with WalWriter.create(wal, txn, begin) as writer:
        for kind, fields in records:
            writer.append(kind, fields)
    return txn


def test_the_logs_say_which_transactions_are_open_and_what_was_retained(tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    q = Operation("aws_sqs_queue:q", "aws_sqs_queue", "aws", "q")
    pool = Operation("dbx_instance_pool:p", "dbx_instance_pool", "databricks", "p")
    running = _log(wal, [q])
    done = _log(wal, [q], (END, {"status": "COMMITTED"}))
    stuck = _log(wal, [pool], (END, {"status": "ROLLBACK_FAILED", "left": []}))
    kept = _log(
        wal,
        [q],
        ("preflight", {"absent": [q.key]}),
        ("intent", {"key": q.key, "action": "create"}),
        (
            "done",
            {
                "key": q.key,
                "action": "create",
                "resource": {
                    "type_key": q.type_key,
                    "name": "q",
                    "resource_id": "q",
                    "tags": {},
                    "scope": {},
                },
            },
        ),
        ("abort", {"reason": "x"}),
        (RETAINED, {"key": q.key, "reason": "kept by the operator"}),
        (END, {"status": "ROLLED_BACK"}),
    )
    damaged = wal / f"txn-{new_txn_id()}.jsonl"
    good = (wal / f"txn-{done}.jsonl").read_bytes().splitlines(keepends=True)
    damaged.write_bytes(good[0] + b'{"not": "a record"}\n' + good[-1])

    logs = read_logs(wal)

    assert set(logs.open) == {running, stuck, damaged.name[4:-6]}
    assert "unfinished" in logs.open[running] and "ROLLBACK_FAILED" in logs.open[stuck]
    assert "damaged" in logs.open[damaged.name[4:-6]]
    assert logs.retained == {
        (q.key, kept): f"retained by `dpn recover --continue-rollback` ({kept})"
    }
    assert logs.types == {"aws_sqs_queue", "dbx_instance_pool"}
    assert read_logs(tmp_path / "none") == Logs()


# -------------------------------------------------------------- refused before any cloud


def test_sweep_refuses_bad_input_before_asking_any_cloud(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers there
    none = dpn("sweep")
    assert (
        none.exit_code == 2
        and "no blueprint matches blueprints/**/*.{json,yaml,yml}" in none.output
    )
    bp = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": "p", "region": "us-east-1"},
        "resources": {"aws": {"sqs_queues": [{"purpose": "a"}]}},
    }
    (tmp_path / "blueprints").mkdir()
    (tmp_path / "blueprints" / "x.json").write_text(json.dumps(bp))
    for args, code, message in (
        (["--older-than", "soon"], 2, "'soon' is not an age"),
        (["--yes"], 2, "--yes goes with --delete"),
        (["--type", "aws_sqs_queu"], 2, "did you mean aws_sqs_queue?"),
        (["--lock", "redis://x/y"], 2, "a lock is s3://BUCKET/KEY or dynamodb://TABLE/KEY"),
        (["--blueprints", "other/*.json"], 2, "no blueprint matches other/*.json"),
        (["--blueprints", "../*.json"], 2, "Invalid value for --blueprints: '../*.json'"),
        ([], 1, "DPN030"),  # a finding: what the blueprints describe is unknown
    ):
        result = dpn("sweep", *args)
        assert (result.exit_code, message in result.output) == (code, True), result.output
    assert "fix the findings above first" in dpn("sweep").output


def test_the_actions_sweep_inputs_are_checked() -> None:
    inputs = parse_inputs([], {"DPN_MODE": "sweep"})
    assert (inputs.sweep_delete, inputs.sweep_older_than) == (False, 6 * 3600)
    inputs = parse_inputs([], {"DPN_SWEEP_DELETE": "true", "DPN_SWEEP_OLDER_THAN": "2d"})
    assert (inputs.sweep_delete, inputs.sweep_older_than) == (True, 2 * 86400)
    for env, message in (
        ({"DPN_SWEEP_DELETE": "maybe"}, "sweep-delete must be true or false"),
        ({"DPN_SWEEP_OLDER_THAN": "soon"}, "sweep-older-than: 'soon' is not an age"),
    ):
        with pytest.raises(ActionError, match=message) as exc:
            parse_inputs([], env)
        assert exc.value.reason == "usage"


class _Account:
    """An AWS provider stand-in whose queues change between the listing and the tag reads."""

    name = "aws"
    listing_types = frozenset({"aws_sqs_queue"})

    def __init__(self) -> None:
        self.queues = {
            "gone": marks(OLD),
            "flaky": marks(OLD),
            "broken": marks(OLD),
            "fine": marks(OLD),
        }
        self.listed = list(self.queues)

    def listing(self, type_key: str, scope: dict[str, str], prefix: str = "") -> list[Listed]:
        out = [Listed(n, f"url/{n}") for n in self.listed]
        self.queues.pop("gone")  # deleted by someone right after the listing
        return out

    def read_tags(self, type_key: str, found: Listed, scope: dict[str, str]) -> dict[str, str]:
        if found.name in ("gone", "flaky", "broken"):
            raise RuntimeError(f"cannot read the tags of {found.name}")
        return dict(self.queues[found.name])

    def read(self, type_key: str, name: str, scope: dict[str, str]) -> ResourceState | None:
        if name == "broken":
            raise RuntimeError("AccessDenied")
        tags = self.queues.get(name)
        return None if tags is None else ResourceState(type_key, name, f"url/{name}", tags)

    def identity(self) -> dict[str, str]:
        return {"account": "111122223333", "region": "us-east-1"}


OLD = "20200102T030405060708Z-0badc0de"


def marks(txn: str) -> dict[str, str]:
    return {"managed-by": "dpn", "dpn-transaction": txn}


def test_a_resource_gone_before_its_tags_are_read_is_passed_over_and_a_failed_read_is_said(
    tmp_path: Path,
) -> None:
    report = scan(
        [],
        wal_dir=tmp_path / "wal",
        types=["aws_sqs_queue"],
        providers={"aws": _Account()},  # type: ignore[dict-item]
    )
    assert [f.key for f in report.orphans] == ["aws_sqs_queue:flaky", "aws_sqs_queue:fine"]
    assert report.errors == {
        "aws_sqs_queue:broken": "reading its tags failed: RuntimeError: cannot read the tags "
        "of broken"
    }
    assert report.places == {"aws": {"account": "111122223333", "region": "us-east-1"}}


class _Glue:
    """An AWS provider stand-in with two Glue databases, each holding one table: one
    database made for this repository, one for another (tables carry no tags of their own,
    so no repository)."""

    name = "aws"
    listing_types = frozenset({"aws_glue_database", "aws_glue_table"})

    def __init__(self) -> None:
        self.databases = {
            "ours_db": {**marks(OLD), "dpn-repository": "acme/ours"},
            "their_db": {**marks(OLD), "dpn-repository": "acme/theirs"},
        }

    def listing(self, type_key: str, scope: dict[str, str], prefix: str = "") -> list[Listed]:
        if type_key == "aws_glue_database":
            return [Listed(n, n) for n in self.databases]
        return [Listed(f"t_{scope['database']}", f"t_{scope['database']}")]

    def read_tags(self, type_key: str, found: Listed, scope: dict[str, str]) -> dict[str, str]:
        return dict(self.databases[found.name]) if type_key == "aws_glue_database" else marks(OLD)

    def identity(self) -> dict[str, str]:
        return {"account": "111122223333", "region": "us-east-1"}


def test_another_repositorys_database_and_the_table_in_it_are_kept(tmp_path: Path) -> None:
    report = scan(
        [],
        wal_dir=tmp_path / "wal",
        types=["aws_glue_database", "aws_glue_table"],
        providers={"aws": _Glue()},  # type: ignore[dict-item]
        repository="acme/ours",
    )
    verdicts = {f.key: (f.verdict, f.note) for f in report.found}
    assert verdicts == {
        "aws_glue_database:ours_db": ("orphan", "no blueprint describes it"),
        "aws_glue_table:ours_db.t_ours_db": ("orphan", "no blueprint describes it"),
        "aws_glue_database:their_db": (
            "elsewhere",
            "repository acme/theirs made it, not acme/ours",
        ),
        "aws_glue_table:their_db.t_their_db": (
            "elsewhere",
            "it is in aws_glue_database:their_db: repository acme/theirs made it, not acme/ours",
        ),
    }
