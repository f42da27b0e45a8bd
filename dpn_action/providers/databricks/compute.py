"""Compute: clusters (`dbx_cluster`), instance pools (`dbx_instance_pool`) and cluster
policies (`dbx_policy`), through `w.clusters`, `w.instance_pools` and `w.cluster_policies`.

A cluster is changed with `clusters.update` and an update mask naming only the changed
fields; `dpn delete --archive` terminates it (`clusters.delete`): the cluster and its
configuration stay, and it can be started again. A pool and a policy are changed by sending
their whole definition again (`edit`). A policy keeps dpn's marks at the end of its
description.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from dpn_action.providers.base import Operation, ResourceState
from dpn_action.providers.databricks.kind import Kind, Partial, Resend, same
from dpn_action.providers.databricks.marks import TagMap, TextMarks
from dpn_action.providers.databricks.sdk import Args, Context, Kw, build, first_answer, present

if TYPE_CHECKING:
    from databricks.sdk.service.compute import GetInstancePool, Policy

# --------------------------------------------------------------------------- clusters


def _prepare_cluster(c: Context, kw: Kw, op: Operation, resolved: dict[str, ResourceState]) -> None:
    if "spark_version" not in kw:
        kw["spark_version"] = c.workspace_client.clusters.select_spark_version(
            long_term_support=True, latest=True
        )
    if "autoscale" not in kw:
        # a fixed size is sent even when it is 0 (a single-node cluster); an autoscaling
        # cluster has none, and reads back without one
        kw.setdefault("num_workers", 0)


def _create_cluster(c: Context, kw: Kw) -> str:
    from databricks.sdk.service.compute import (
        AutoScale,
        CreateClusterResponse,
        DataSecurityMode,
        RuntimeEngine,
    )

    a = Args("dbx_cluster", kw)
    wait = a.send(
        c.workspace_client.clusters.create,
        spark_version=a.required("spark_version"),
        cluster_name=a.text("cluster_name"),
        node_type_id=a.text("node_type_id"),
        driver_node_type_id=a.text("driver_node_type_id"),
        autoscale=a.sdk("autoscale", AutoScale),
        num_workers=a.number("num_workers"),
        autotermination_minutes=a.number("autotermination_minutes"),
        spark_conf=a.strings("spark_conf"),
        data_security_mode=a.sdk("data_security_mode", DataSecurityMode),
        runtime_engine=a.sdk("runtime_engine", RuntimeEngine),
        instance_pool_id=a.text("instance_pool_id"),
        policy_id=a.text("policy_id"),
        custom_tags=a.strings("custom_tags"),
    )
    return str(first_answer(wait, CreateClusterResponse).cluster_id)


def _update_cluster(c: Context, cluster_id: str, fields: Kw, mask: str) -> None:
    from databricks.sdk.service.compute import UpdateClusterResource

    c.workspace_client.clusters.update(
        cluster_id=cluster_id, update_mask=mask, cluster=build(UpdateClusterResource, fields)
    )


CLUSTER = Kind(
    type_key="dbx_cluster",
    name_param="cluster_name",
    create=_create_cluster,
    params={
        "node_type": "node_type_id",
        "spark_version": "spark_version",
        "autoscale": "autoscale",
        "num_workers": "num_workers",
        "autotermination_minutes": "autotermination_minutes",
        "driver_node_type": "driver_node_type_id",
        "spark_conf": "spark_conf",
        "data_security_mode": "data_security_mode",
        "runtime_engine": "runtime_engine",
    },
    refs={
        "instance_pool_ref": ("instance_pool_id", "id"),
        "policy_ref": ("policy_id", "id"),
    },
    prepare=_prepare_cluster,
    marks=TagMap("custom_tags", "custom_tags"),
    lister=lambda c, name: c.workspace_client.clusters.list(),
    lists_all=True,
    name_attr="cluster_name",
    id_attr="cluster_id",
    get_by_id=lambda c, cluster_id: c.workspace_client.clusters.get(cluster_id=cluster_id),
    delete=lambda c, cluster_id: c.workspace_client.clusters.permanent_delete(
        cluster_id=cluster_id
    ),
    # terminate: the cluster and its configuration stay, and it can be started
    archive=lambda c, cluster_id: c.workspace_client.clusters.delete(cluster_id=cluster_id),
    change=Partial(_update_cluster),
    settings=(
        "node_type",
        "spark_version",
        "autoscale",
        "num_workers",
        "autotermination_minutes",
        "driver_node_type",
        "spark_conf",
        "data_security_mode",
        "runtime_engine",
    ),
    # a fixed size and autoscaling exclude each other: giving one clears the other
    unset={"autoscale": None, "num_workers": None},
    kept=frozenset({"spark_version"}),
)

# --------------------------------------------------------------------------- instance pools


def _create_pool(c: Context, kw: Kw) -> str:
    a = Args("dbx_instance_pool", kw)
    answer = a.send(
        c.workspace_client.instance_pools.create,
        instance_pool_name=a.required("instance_pool_name"),
        node_type_id=a.required("node_type_id"),
        min_idle_instances=a.number("min_idle_instances"),
        max_capacity=a.number("max_capacity"),
        idle_instance_autotermination_minutes=a.number("idle_instance_autotermination_minutes"),
        custom_tags=a.strings("custom_tags"),
    )
    return str(answer.instance_pool_id)


def _edit_pool(c: Context, pool_id: str, d: GetInstancePool) -> None:
    c.workspace_client.instance_pools.edit(
        instance_pool_id=pool_id,
        instance_pool_name=present(d.instance_pool_name, "instance_pool_name"),
        node_type_id=present(d.node_type_id, "node_type_id"),
        custom_tags=d.custom_tags,
        idle_instance_autotermination_minutes=d.idle_instance_autotermination_minutes,
        max_capacity=d.max_capacity,
        min_idle_instances=d.min_idle_instances,
        remote_disk_throughput=d.remote_disk_throughput,
        total_initial_remote_disk_size=d.total_initial_remote_disk_size,
    )


INSTANCE_POOL = Kind(
    type_key="dbx_instance_pool",
    name_param="instance_pool_name",
    create=_create_pool,
    params=same(
        "node_type_id",
        "min_idle_instances",
        "max_capacity",
        "idle_instance_autotermination_minutes",
    ),
    marks=TagMap("custom_tags", "custom_tags"),
    lister=lambda c, name: c.workspace_client.instance_pools.list(),
    lists_all=True,
    name_attr="instance_pool_name",
    id_attr="instance_pool_id",
    get_by_id=lambda c, pool_id: c.workspace_client.instance_pools.get(instance_pool_id=pool_id),
    delete=lambda c, pool_id: c.workspace_client.instance_pools.delete(instance_pool_id=pool_id),
    change=Resend(_edit_pool),
    # a pool's node type is fixed when it is created
    settings=("min_idle_instances", "max_capacity", "idle_instance_autotermination_minutes"),
    unset={"min_idle_instances": 0},
)

# --------------------------------------------------------------------------- cluster policies


def _prepare_policy(c: Context, kw: Kw, op: Operation, resolved: dict[str, ResourceState]) -> None:
    if isinstance(kw.get("definition"), dict):
        kw["definition"] = json.dumps(kw["definition"], sort_keys=True)


def _create_policy(c: Context, kw: Kw) -> str:
    a = Args("dbx_policy", kw)
    answer = a.send(
        c.workspace_client.cluster_policies.create,
        name=a.text("name"),
        definition=a.text("definition"),
        max_clusters_per_user=a.number("max_clusters_per_user"),
        description=a.text("description"),
    )
    return str(answer.policy_id)


def _edit_policy(c: Context, policy_id: str, d: Policy) -> None:
    c.workspace_client.cluster_policies.edit(
        policy_id=policy_id,
        name=d.name,
        definition=d.definition,
        description=d.description,
        libraries=d.libraries,
        max_clusters_per_user=d.max_clusters_per_user,
        policy_family_definition_overrides=d.policy_family_definition_overrides,
        policy_family_id=d.policy_family_id,
    )


POLICY = Kind(
    type_key="dbx_policy",
    create=_create_policy,
    params={
        "definition": "definition",
        "max_clusters_per_user": "max_clusters_per_user",
        "description": "description",
    },
    prepare=_prepare_policy,
    marks=TextMarks("description"),
    lister=lambda c, name: c.workspace_client.cluster_policies.list(),
    lists_all=True,
    id_attr="policy_id",
    get_by_id=lambda c, policy_id: c.workspace_client.cluster_policies.get(policy_id=policy_id),
    delete=lambda c, policy_id: c.workspace_client.cluster_policies.delete(policy_id=policy_id),
    change=Resend(_edit_policy),
    settings=("definition", "max_clusters_per_user", "description"),
    unset={"max_clusters_per_user": None},
    documents=frozenset({"definition"}),
)

KINDS = (CLUSTER, INSTANCE_POOL, POLICY)
