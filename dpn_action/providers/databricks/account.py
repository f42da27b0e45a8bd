"""Workspaces (`dbx_workspace`), through the account API: `a.workspaces` of an
`AccountClient` (`DATABRICKS_ACCOUNT_ID`).

A workspace keeps its tags, and dpn's marks, in `custom_tags`, and is changed with a partial
update and an update mask (`workspaces.update`).
"""

from __future__ import annotations

from dpn_action.providers.databricks.kind import Kind, Partial
from dpn_action.providers.databricks.marks import TagMap
from dpn_action.providers.databricks.sdk import Args, Context, Kw, build, first_answer


def _create_workspace(c: Context, kw: Kw) -> str:
    from databricks.sdk.service.provisioning import PricingTier, Workspace

    a = Args("dbx_workspace", kw)
    wait = a.send(
        c.account_client.workspaces.create,
        workspace_name=a.text("workspace_name"),
        aws_region=a.text("aws_region"),
        credentials_id=a.text("credentials_id"),
        storage_configuration_id=a.text("storage_configuration_id"),
        network_id=a.text("network_id"),
        pricing_tier=a.sdk("pricing_tier", PricingTier),
        custom_tags=a.strings("custom_tags"),
    )
    return str(first_answer(wait, Workspace).workspace_id)


def _update_workspace(c: Context, workspace_id: str, fields: Kw, mask: str) -> None:
    from databricks.sdk.service.provisioning import Workspace

    c.account_client.workspaces.update(
        workspace_id=int(workspace_id),
        customer_facing_workspace=build(Workspace, fields),
        update_mask=mask,
    )


WORKSPACE = Kind(
    type_key="dbx_workspace",
    name_param="workspace_name",
    create=_create_workspace,
    params={
        "aws_region": "aws_region",
        "credentials_id": "credentials_id",
        "storage_configuration_id": "storage_configuration_id",
        "network_id": "network_id",
        "pricing_tier": "pricing_tier",
    },
    marks=TagMap("custom_tags", "custom_tags"),
    lister=lambda c, name: c.account_client.workspaces.list(),
    lists_all=True,
    name_attr="workspace_name",
    id_attr="workspace_id",
    get_by_id=lambda c, workspace_id: c.account_client.workspaces.get(
        workspace_id=int(workspace_id)
    ),
    delete=lambda c, workspace_id: c.account_client.workspaces.delete(
        workspace_id=int(workspace_id)
    ),
    change=Partial(_update_workspace),
)

KINDS = (WORKSPACE,)
