"""Run one transaction command against the file-backed fake, in its own process.

The crash tests start this with `DPN_TEST_CRASH_AT` set and expect it to be killed.

    python3 txn_crash_driver.py apply|recover|recover-forward|continue WAL STATE [options]

Prints the result(s) as JSON on the last line of stdout when it survives.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from txn_fakes import FileProvider, build_dag

from dpn_action.txn import TxnResult, apply, continue_rollback, recover


def summary(result: TxnResult) -> dict[str, object]:
    return {
        "txn": result.txn_id,
        "status": result.status.value,
        "created": result.created,
        "adopted": result.adopted,
        "left": [item.key for item in result.left],
        "error": result.error,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["apply", "recover", "recover-forward", "continue"])
    parser.add_argument("wal_dir", type=Path)
    parser.add_argument("state", type=Path)
    parser.add_argument("--ops", type=int, default=24)
    parser.add_argument("--fail", action="append", default=[], help="op name whose create fails")
    parser.add_argument("--fail-delete", action="append", default=[])
    parser.add_argument("--max-parallel", type=int, default=4)
    parser.add_argument("--txn")
    args = parser.parse_args()
    cloud = FileProvider(
        args.state,
        fail_create={name: "injected failure" for name in args.fail},
        fail_delete={name: "injected delete failure" for name in args.fail_delete},
    )
    providers = {"fake": cloud}
    wal, parallel, wait = args.wal_dir, args.max_parallel, 60.0
    out: object
    if args.command == "apply":
        result = apply(
            build_dag(args.ops), providers, wal_dir=wal, max_parallel=parallel, lock_timeout=wait
        )
        out = summary(result)
    elif args.command == "continue":
        result = continue_rollback(
            args.txn, providers, wal_dir=wal, max_parallel=parallel, lock_timeout=wait
        )
        out = summary(result)
    else:
        forward = args.command == "recover-forward"
        results = recover(
            providers, wal_dir=wal, forward=forward, max_parallel=parallel, lock_timeout=wait
        )
        out = [summary(r) for r in results]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
