"""SQL warehouses (`dbx_sql_warehouse`), through `w.warehouses`.

A warehouse is made `2X-Small` with one cluster unless the blueprint says otherwise, keeps
its tags as key/value pairs (`tags.custom_tags`), and is changed by sending its whole
definition again (`warehouses.edit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dpn_action.providers.databricks.kind import Kind, Resend
from dpn_action.providers.databricks.marks import TagPairs
from dpn_action.providers.databricks.sdk import Args, Context, Kw, build, enum_value, first_answer

if TYPE_CHECKING:
    from databricks.sdk.service.sql import GetWarehouseResponse


def _create_warehouse(c: Context, kw: Kw) -> str:
    from databricks.sdk.service.sql import (
        CreateWarehouseRequestWarehouseType,
        CreateWarehouseResponse,
        EndpointTags,
    )

    a = Args("dbx_sql_warehouse", kw)
    wait = a.send(
        c.workspace_client.warehouses.create,
        name=a.text("name"),
        cluster_size=a.text("cluster_size"),
        min_num_clusters=a.number("min_num_clusters"),
        max_num_clusters=a.number("max_num_clusters"),
        auto_stop_mins=a.number("auto_stop_mins"),
        warehouse_type=a.sdk("warehouse_type", CreateWarehouseRequestWarehouseType),
        enable_serverless_compute=a.flag("enable_serverless_compute"),
        tags=a.sdk("tags", EndpointTags),
    )
    return str(first_answer(wait, CreateWarehouseResponse).id)


def _edit_warehouse(c: Context, warehouse_id: str, d: GetWarehouseResponse) -> None:
    from databricks.sdk.service.sql import EditWarehouseRequestWarehouseType

    kind = d.warehouse_type
    c.workspace_client.warehouses.edit(
        id=warehouse_id,
        name=d.name,
        auto_stop_mins=d.auto_stop_mins,
        channel=d.channel,
        cluster_size=d.cluster_size,
        creator_name=d.creator_name,
        customer_version_label=d.customer_version_label,
        enable_photon=d.enable_photon,
        enable_serverless_compute=d.enable_serverless_compute,
        instance_profile_arn=d.instance_profile_arn,
        max_dbu=d.max_dbu,
        max_num_clusters=d.max_num_clusters,
        min_num_clusters=d.min_num_clusters,
        reyden_cluster_size_multiplier=d.reyden_cluster_size_multiplier,
        spot_instance_policy=d.spot_instance_policy,
        statement_timeout=d.statement_timeout,
        tags=d.tags,
        warehouse_type=(
            None if kind is None else build(EditWarehouseRequestWarehouseType, enum_value(kind))
        ),
    )


SQL_WAREHOUSE = Kind(
    type_key="dbx_sql_warehouse",
    create=_create_warehouse,
    params={
        "cluster_size": "cluster_size",
        "min_num_clusters": "min_num_clusters",
        "max_num_clusters": "max_num_clusters",
        "auto_stop_mins": "auto_stop_mins",
        "warehouse_type": "warehouse_type",
        "enable_serverless_compute": "enable_serverless_compute",
    },
    defaults={"cluster_size": "2X-Small", "max_num_clusters": 1},
    marks=TagPairs("tags", "tags.custom_tags"),
    lister=lambda c, name: c.workspace_client.warehouses.list(),
    lists_all=True,
    id_attr="id",
    get_by_id=lambda c, warehouse_id: c.workspace_client.warehouses.get(id=warehouse_id),
    delete=lambda c, warehouse_id: c.workspace_client.warehouses.delete(id=warehouse_id),
    change=Resend(_edit_warehouse),
    settings=(
        "cluster_size",
        "min_num_clusters",
        "max_num_clusters",
        "auto_stop_mins",
        "warehouse_type",
        "enable_serverless_compute",
    ),
    unset={"min_num_clusters": 1, "auto_stop_mins": 120},
)

KINDS = (SQL_WAREHOUSE,)
