# ruff: noqa: F811  (the provider tests' fixtures, used here under their own names)
"""Pre-flight by listing for Databricks, against the loopback workspace server: one listing
of every cluster (page by page) tells free names, ours and someone else's apart, and a
create the pre-flight found free sends no read of its own first."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from databricks.sdk import WorkspaceClient
from test_databricks_provider import (  # noqa: F401
    OPS,
    TXN,
    clients,
    dbx,
    provider,
    server,
    warehouse_id,
)

from dpn_action.providers.databricks import DatabricksProvider
from dpn_action.txn.survey import survey

LIST = ("GET", "/api/2.1/clusters/list")


def _named(name: str) -> Any:
    base = OPS["dbx_cluster"]
    # no pool or policy: one cluster on its own
    return replace(base, key=f"dbx_cluster:{name}", name=name, refs={}, depends_on=())


def _lists(server: Any) -> int:
    return sum(1 for method, path, _ in server.requests if (method, path.split("?")[0]) == LIST)


def test_one_listing_tells_free_ours_and_someone_elses_clusters_apart(
    provider: DatabricksProvider, dbx: Any, clients: tuple[WorkspaceClient, Any]
) -> None:
    w, _ = clients
    token = uuid.uuid4().hex[:6]
    ours = [_named(f"etl-{token}-{i}") for i in range(2)]
    for op in ours:
        provider.create(op, TXN, {})
    theirs = _named(f"etl-{token}-theirs")
    w.clusters.create(cluster_name=theirs.name, spark_version="15.4.x-scala2.12", num_workers=0)
    free = _named(f"etl-{token}-free")
    dbx.requests.clear()

    found = survey([*ours, theirs, free], {"databricks": provider}, max_parallel=4)

    assert found.failed == {}
    assert found.found[free.key] is None
    for op in ours:
        state = found.found[op.key]
        assert state is not None and state.managed_by_dpn and state.transaction_id == TXN
    other = found.found[theirs.key]
    assert other is not None and not other.managed_by_dpn
    # two clusters a page: one listing, followed over its two pages, and nothing else
    assert _lists(dbx) == 2
    assert len(dbx.requests) == 2


def test_a_cluster_the_pre_flight_found_free_is_created_without_a_read_first(
    provider: DatabricksProvider, dbx: Any
) -> None:
    op = _named(f"etl-{uuid.uuid4().hex[:6]}")
    dbx.requests.clear()
    provider.create(op, TXN, {}, absent=True)
    # the one listing left is the check for a twin a re-sent create may have made
    assert _lists(dbx) == 1
