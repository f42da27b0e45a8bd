"""What earlier transactions planned and made, read back from the WAL directory.

`dpn update` asks two questions of it: which blueprint entry a resource came from (to tell
a renamed entry from a new one), and with which properties a resource was created (to say
which changes dpn cannot make in place). Reading changes nothing and takes no lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpn_action.txn.errors import WalCorruptError
from dpn_action.txn.log import KIND_CREATE, TxnLog
from dpn_action.txn.model import KeyState, TxnStatus
from dpn_action.txn.wal import list_wal_files, read_wal


@dataclass(frozen=True, slots=True)
class Planned:
    """One operation of a committed create transaction."""

    txn_id: str
    key: str
    type_key: str
    name: str
    scope: dict[str, str]
    properties: dict[str, Any]
    #: `file#pointer` of the blueprint entry, when the transaction recorded it
    origin: str | None
    #: the transaction created it (rather than adopting what existed)
    created: bool
    #: keys of the operations it depended on in that transaction
    depends_on: tuple[str, ...] = ()


def committed_operations(wal_dir: Path | str) -> list[Planned]:
    """Every operation of every committed create transaction, oldest transaction first.

    A damaged WAL file is left out here (`dpn status` reports it as CORRUPT).
    """
    out: list[Planned] = []
    for path in list_wal_files(Path(wal_dir)):
        try:
            log = TxnLog.from_read(read_wal(path))
        except WalCorruptError:
            continue
        if log.kind != KIND_CREATE or log.status not in (
            TxnStatus.COMMITTED,
            TxnStatus.NOTHING_TO_DO,
        ):
            continue
        for key, op in log.ops.items():
            out.append(
                Planned(
                    txn_id=log.txn_id,
                    key=key,
                    type_key=op.type_key,
                    name=op.name,
                    scope=dict(op.scope),
                    properties=dict(op.properties),
                    origin=log.origins.get(key),
                    created=log.keys[key].state is KeyState.CREATED,
                    depends_on=tuple(op.depends_on),
                )
            )
    return out
