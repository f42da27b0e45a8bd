"""Every creation property and reference the catalogue declares for a type is taken by its
provider, and a provider takes none the catalogue does not declare.

The catalogue (`ResourceType.properties`, `.refs`) decides what of a blueprint entry reaches
a provider (`plan.properties`); a provider says, per type, what it takes
(`providers.base.handled`, from its `handled` mapping). A property declared but not taken
would be accepted in a blueprint and silently never sent to the cloud; one taken but not
declared could never arrive.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dpn_action.analysis import analyse
from dpn_action.naming.catalogue import CATALOGUE, CHILDREN, ResourceType
from dpn_action.naming.config import load_config
from dpn_action.plan import planned
from dpn_action.providers.aws import AwsProvider
from dpn_action.providers.base import handled
from dpn_action.providers.databricks import DatabricksProvider

#: the providers that say what they take, by catalogue provider name
PROVIDERS: dict[str, type] = {"databricks": DatabricksProvider, "aws": AwsProvider}

TYPES = sorted(k for k, t in CATALOGUE.items() if t.provider in PROVIDERS)


def declared_properties(t: ResourceType) -> set[str]:
    """The type's creation properties; the collections of its child types (a catalog's
    `schemas`) are blueprint structure, expanded into resources of their own."""
    children = {c.collection[-1] for c in CHILDREN.get(t.key, [])}
    return set(t.properties) - children


def test_the_covered_types_are_every_type_of_the_covered_providers() -> None:
    assert len([k for k in TYPES if k.startswith("dbx_")]) == 14
    assert len([k for k in TYPES if k.startswith("aws_")]) == 13
    assert {CATALOGUE[k].provider for k in TYPES} == set(PROVIDERS)


@pytest.mark.parametrize("type_key", TYPES)
def test_the_provider_takes_exactly_the_properties_the_catalogue_declares(type_key: str) -> None:
    t = CATALOGUE[type_key]
    provider = PROVIDERS[t.provider]
    taken = handled(provider, type_key)
    assert taken is not None, f"{provider.__name__} does not say what {type_key} takes"
    declared = declared_properties(t)
    dropped = sorted(declared - taken.properties)
    assert not dropped, (
        f"{type_key}: the catalogue declares the properties {dropped}, but "
        f"{provider.__name__} does not take them: a blueprint's value would be accepted "
        "and never sent to the cloud"
    )
    undeclared = sorted(taken.properties - declared)
    assert not undeclared, (
        f"{type_key}: {provider.__name__} takes the properties {undeclared}, but the "
        "catalogue does not declare them: a blueprint's value would never reach it"
    )


@pytest.mark.parametrize("type_key", TYPES)
def test_the_provider_takes_exactly_the_references_the_catalogue_declares(type_key: str) -> None:
    t = CATALOGUE[type_key]
    provider = PROVIDERS[t.provider]
    taken = handled(provider, type_key)
    assert taken is not None, f"{provider.__name__} does not say what {type_key} takes"
    dropped = sorted(set(t.refs) - taken.refs)
    assert not dropped, (
        f"{type_key}: the catalogue declares the references {dropped}, but "
        f"{provider.__name__} does not use them"
    )
    undeclared = sorted(taken.refs - set(t.refs))
    assert not undeclared, (
        f"{type_key}: {provider.__name__} reads the references {undeclared}, which the "
        "catalogue does not declare"
    )


def test_a_provider_that_does_not_say_what_it_takes_is_told_apart() -> None:
    assert handled(object(), "dbx_job") is None
    assert handled(DatabricksProvider, "aws_s3_bucket") is None
    assert handled(AwsProvider, "dbx_job") is None


def test_a_job_and_a_policy_description_reach_the_provider(tmp_path: Path) -> None:
    blueprint = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": "dataplatform", "region": "us-east-1"},
        "resources": {
            "databricks": {
                "jobs": [{"job_type": "batch", "purpose": "load", "description": "daily load"}],
                "policies": [
                    {
                        "target": "etl",
                        "policy_type": "compute",
                        "description": "ETL compute",
                        "definition": {"autotermination_minutes": {"type": "fixed", "value": 30}},
                    }
                ],
            }
        },
    }
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(blueprint), encoding="utf-8")
    cfg, _ = load_config(None, None, {}, display_root=tmp_path)
    result = analyse(cfg, [path], display_root=tmp_path)
    assert not [f for f in result.findings if f.is_error], result.findings
    by_type = {p.type: p for p in planned(result.resources)}
    assert by_type["dbx_job"].properties["description"] == "daily load"
    assert by_type["dbx_policy"].properties["description"] == "ETL compute"


#: the SDK type each object setting with fixed keys is built as (`providers.databricks`)
SDK_TYPES = {
    ("dbx_cluster", "autoscale"): ("databricks.sdk.service.compute", "AutoScale"),
    ("dbx_job", "email_notifications"): ("databricks.sdk.service.jobs", "JobEmailNotifications"),
}


def test_an_object_settings_fixed_keys_are_the_fields_of_the_sdk_type_built_from_it() -> None:
    """The catalogue cannot import the SDK (lint never does), so it keeps the keys as data:
    here they are held to the SDK's dataclass, which drops any other key without a word."""
    import dataclasses
    import importlib

    declared = {(t.key, p): keys for t in CATALOGUE.values() for p, keys in t.object_keys.items()}
    assert set(declared) == set(SDK_TYPES)
    for where, (module, name) in SDK_TYPES.items():
        sdk_type = getattr(importlib.import_module(module), name)
        fields = {f.name for f in dataclasses.fields(sdk_type)}
        assert set(declared[where]) == fields, where
        assert len(declared[where]) == len(fields), where
