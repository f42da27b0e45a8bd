"""What a Databricks principal needs, per type, for dpn to create, read, tag, update and
delete resources of that type, as data. `dpn doctor` lists it for the types a blueprint
uses: Databricks has no API that answers "may this principal do X" for these, so it is not
checked, only said. Imports nothing.
"""

from __future__ import annotations

NEEDS: dict[str, str] = {
    "dbx_workspace": "account admin on the account (account API, DATABRICKS_ACCOUNT_ID)",
    "dbx_cluster": "the allow-cluster-create entitlement, or CAN USE on the cluster policy "
    "it names",
    "dbx_instance_pool": "the allow-instance-pool-create entitlement (or workspace admin)",
    "dbx_policy": "workspace admin",
    "dbx_job": "any workspace user; CAN ATTACH TO on the clusters its tasks run on",
    "dbx_notebook_path": "CAN EDIT (or CAN MANAGE) on the notebook's folder",
    "dbx_repo": "CAN MANAGE on its folder under /Repos and Git credentials for a private "
    "repository; CAN EDIT on /Shared/.dpn/markers (dpn's marks)",
    "dbx_pipeline": "the allow-cluster-create entitlement (unless serverless)",
    "dbx_sql_warehouse": "the allow-cluster-create entitlement and Databricks SQL access "
    "(or workspace admin)",
    "dbx_catalog": "CREATE CATALOG on the metastore",
    "dbx_schema": "USE CATALOG and CREATE SCHEMA on its catalog",
    "dbx_table": "USE CATALOG, USE SCHEMA and CREATE TABLE on its schema; for a managed "
    "table CAN USE on the SQL warehouse of DATABRICKS_WAREHOUSE_ID, for an external one "
    "CREATE EXTERNAL TABLE on the external location",
    "dbx_volume": "USE CATALOG, USE SCHEMA and CREATE VOLUME on its schema",
    "dbx_secret_scope": "any workspace user (the creator manages the scope)",
}
