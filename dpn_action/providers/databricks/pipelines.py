"""Lakeflow declarative pipelines (`dbx_pipeline`), through `w.pipelines`.

A pipeline publishes to the Unity Catalog catalog its `catalog_ref` names, in the schema its
`target_schema` names. It is found by a `name LIKE` filter; the listing lacks its tags, so
each match is read whole. Tags and settings are changed by sending its whole spec again
(`pipelines.update`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dpn_action.providers.databricks.kind import Kind, Resend
from dpn_action.providers.databricks.marks import TagMap
from dpn_action.providers.databricks.sdk import Args, Context, Kw

if TYPE_CHECKING:
    from databricks.sdk.service.pipelines import PipelineSpec


def _create_pipeline(c: Context, kw: Kw) -> str:
    from databricks.sdk.service.pipelines import PipelineLibrary

    a = Args("dbx_pipeline", kw)
    answer = a.send(
        c.workspace_client.pipelines.create,
        name=a.text("name"),
        catalog=a.text("catalog"),
        schema=a.text("schema"),
        libraries=a.sdk_list("libraries", PipelineLibrary),
        continuous=a.flag("continuous"),
        development=a.flag("development"),
        serverless=a.flag("serverless"),
        channel=a.text("channel"),
        edition=a.text("edition"),
        configuration=a.strings("configuration"),
        tags=a.strings("tags"),
    )
    return str(answer.pipeline_id)


def _update_pipeline(c: Context, pipeline_id: str, spec: PipelineSpec) -> None:
    c.workspace_client.pipelines.update(
        pipeline_id=pipeline_id,
        id=spec.id,
        name=spec.name,
        budget_policy_id=spec.budget_policy_id,
        catalog=spec.catalog,
        channel=spec.channel,
        clusters=spec.clusters,
        configuration=spec.configuration,
        continuous=spec.continuous,
        deployment=spec.deployment,
        development=spec.development,
        edition=spec.edition,
        environment=spec.environment,
        event_log=spec.event_log,
        filters=spec.filters,
        gateway_definition=spec.gateway_definition,
        ingestion_definition=spec.ingestion_definition,
        libraries=spec.libraries,
        notifications=spec.notifications,
        parent_path=spec.parent_path,
        photon=spec.photon,
        restart_window=spec.restart_window,
        root_path=spec.root_path,
        schema=spec.schema,
        serverless=spec.serverless,
        serverless_compute_id=spec.serverless_compute_id,
        storage=spec.storage,
        tags=spec.tags,
        target=spec.target,
        trigger=spec.trigger,
        usage_policy_id=spec.usage_policy_id,
    )


PIPELINE = Kind(
    type_key="dbx_pipeline",
    create=_create_pipeline,
    params={
        "libraries": "libraries",
        "continuous": "continuous",
        "development": "development",
        "serverless": "serverless",
        "channel": "channel",
        "edition": "edition",
        "configuration": "configuration",
        "target_schema": "schema",
    },
    refs={"catalog_ref": ("catalog", "name")},
    marks=TagMap("tags", "spec.tags"),
    lister=lambda c, name: c.workspace_client.pipelines.list_pipelines(
        filter="name LIKE '{}'".format(name.replace("'", "''"))
    ),
    detail=lambda c, listed: c.workspace_client.pipelines.get(pipeline_id=listed.pipeline_id),
    id_attr="pipeline_id",
    get_by_id=lambda c, pipeline_id: c.workspace_client.pipelines.get(pipeline_id=pipeline_id),
    definition="spec",
    delete=lambda c, pipeline_id: c.workspace_client.pipelines.delete(pipeline_id=pipeline_id),
    change=Resend(_update_pipeline),
    settings=(
        "libraries",
        "continuous",
        "development",
        "serverless",
        "channel",
        "edition",
        "configuration",
        "target_schema",
    ),
    unset={"continuous": False, "development": False, "configuration": None},
)

KINDS = (PIPELINE,)
