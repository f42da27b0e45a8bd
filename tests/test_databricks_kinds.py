"""The per-type data of the Databricks provider, checked without a workspace.

The service modules write their SDK calls out by hand, so mypy checks them; these tests
check what mypy cannot: that a create sends every argument dpn built, that a type's own code
reads only the blueprint properties and references it declares (what the catalogue
coverage test relies on), and that a change that re-sends a whole definition sends back
every field of it the SDK method takes, so nothing set on a resource is cleared by a change
of something else.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import typing
from types import SimpleNamespace
from typing import Any

import pytest
from databricks.sdk import AccountClient, WorkspaceClient
from databricks.sdk.service import compute

from dpn_action.providers.base import Operation
from dpn_action.providers.databricks import KINDS
from dpn_action.providers.databricks.kind import Resend
from dpn_action.providers.databricks.sdk import Args, build, refuse_unknown_keys

# --------------------------------------------------------------------------- a recording client


class Recorder:
    """A stand-in for both clients: every `client.<service>.<method>(**kw)` is recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, service: str) -> Any:
        calls = self.calls

        class Service:
            def __getattr__(self, method: str) -> Any:
                def call(**kw: Any) -> None:
                    calls.append((service, method, kw))

                return call

        return Service()


def context(recorder: Recorder) -> Any:
    return SimpleNamespace(
        workspace_client=recorder,
        account_client=recorder,
        warehouse_id=None,
        repos_folder="dpn",
        marker_root="/Shared/.dpn/markers",
    )


def sdk_method(service: str, method: str) -> Any:
    """The SDK method a recorded call stands for."""
    for client in (WorkspaceClient, AccountClient):
        prop = getattr(client, service, None)
        if isinstance(prop, property) and prop.fget is not None:
            api = typing.get_type_hints(prop.fget)["return"]
            return getattr(api, method)
    raise AssertionError(f"no SDK service {service}")


def bare(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if type(None) in typing.get_args(hint) and len(args) == 1 else hint


def filled(cls: type) -> Any:
    """An instance of an SDK dataclass with every field set (nested objects empty)."""
    values = {f: sample(bare(h)) for f, h in typing.get_type_hints(cls).items()}
    return cls(**values)


def sample(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is list:
        return [sample(bare(typing.get_args(hint)[0]))]
    if origin is dict:
        return {"k": sample(bare(typing.get_args(hint)[1]))}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(iter(hint))
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint.from_dict({})  # type: ignore[attr-defined]
    return {str: "x", int: 1, bool: True, float: 1.5}.get(hint, "x")


RESENDS = sorted(
    kind.type_key
    for kind in KINDS.values()
    if isinstance(kind.change, Resend) or isinstance(kind.settings_change, Resend)
)


def test_the_types_changed_by_resending_their_definition() -> None:
    assert RESENDS == [
        "dbx_instance_pool",
        "dbx_job",
        "dbx_pipeline",
        "dbx_policy",
        "dbx_sql_warehouse",
    ]


@pytest.mark.parametrize("type_key", RESENDS)
def test_a_resend_sends_back_every_field_the_sdk_method_takes(type_key: str) -> None:
    kind = KINDS[type_key]
    change = kind.settings_change if isinstance(kind.settings_change, Resend) else kind.change
    assert isinstance(change, Resend) and kind.get_by_id is not None
    recorder = Recorder()
    ctx = context(recorder)

    kind.get_by_id(ctx, "123")
    (service, getter, _), *_ = recorder.calls
    answer = bare(typing.get_type_hints(sdk_method(service, getter))["return"])
    definition_cls = (
        bare(typing.get_type_hints(answer)[kind.definition]) if kind.definition else answer
    )
    definition = filled(definition_cls)

    recorder.calls.clear()
    change.apply(ctx, "123", definition, {})
    ((service, method, sent),) = recorder.calls
    params = set(inspect.signature(sdk_method(service, method)).parameters) - {"self"}
    fields = {f.name for f in dataclasses.fields(definition_cls)}
    sent_keys = {k for k, v in sent.items() if v is not None}
    if params & fields:
        missing = sorted((params & fields) - sent_keys)
        assert not missing, f"{service}.{method} of {type_key} does not send back {missing}"
    else:  # the method takes the whole definition as one argument
        assert definition in sent.values(), f"{service}.{method} of {type_key}"


# --------------------------------------------------------------------------- arguments


def test_an_sdk_call_is_refused_while_an_argument_is_left_unread() -> None:
    called: list[dict[str, Any]] = []
    a = Args("dbx_cluster", {"cluster_name": "etl", "spark_version": "15.4", "typo": 1})
    with pytest.raises(TypeError, match="dbx_cluster: not sent to the SDK: typo"):
        a.send(
            lambda **kw: called.append(kw),
            cluster_name=a.text("cluster_name"),
            spark_version=a.text("spark_version"),
        )
    assert called == []


def test_arguments_are_read_as_the_sdk_types() -> None:
    a = Args(
        "dbx_cluster",
        {
            "n": "3",
            "t": 7,
            "m": {"spark.x": 64},
            "auto": {"min_workers": 1, "max_workers": 2},
            "mode": "USER_ISOLATION",
        },
    )
    assert a.number("n") == 3
    assert a.text("t") == "7"
    assert a.strings("m") == {"spark.x": "64"}
    assert a.sdk("auto", compute.AutoScale) == compute.AutoScale(min_workers=1, max_workers=2)
    assert a.sdk("mode", compute.DataSecurityMode) is compute.DataSecurityMode.USER_ISOLATION
    assert a.text("absent") is None
    with pytest.raises(ValueError, match="dbx_cluster: `absent` is required"):
        a.required("absent")
    with pytest.raises(TypeError, match="`auto` must be a whole number"):
        Args("dbx_cluster", {"auto": {"min_workers": 1}}).number("auto")
    with pytest.raises(TypeError, match="`m` must be a map of text"):
        Args("dbx_cluster", {"m": {"spark.x": True}}).strings("m")
    with pytest.raises(TypeError, match="`flag` must be true or false"):
        Args("dbx_cluster", {"flag": "yes"}).flag("flag")


def test_a_key_the_sdk_type_lacks_is_refused_not_dropped() -> None:
    """The SDK's `from_dict` builds an object from the keys it knows and drops the others:
    a task's misspelt `notebook_tsk` would make a job that runs no notebook."""
    from databricks.sdk.service.jobs import Task

    tasks = [{"task_key": "load"}, {"task_key": "t", "notebook_tsk": {"notebook_path": "/x"}}]
    with pytest.raises(TypeError, match=r"`tasks` has 'notebook_tsk', which the SDK's Task"):
        Args("dbx_job", {"tasks": tasks}).sdk_list("tasks", Task)
    with pytest.raises(TypeError, match=r"`auto` has 'max', 'min', which the SDK's AutoScale"):
        Args("dbx_cluster", {"auto": {"min": 1, "max": 2}}).sdk("auto", compute.AutoScale)
    (task,) = Args("dbx_job", {"tasks": tasks[:1]}).sdk_list("tasks", Task) or []
    assert task.task_key == "load"


def test_an_update_refuses_a_key_within_the_field_types_the_definition_holds() -> None:
    """`dpn update` compares and sends the blueprint's values as the types of the cloud's
    definition (`JobSettings.tasks` is an optional list of `Task`): the same refusal."""
    from databricks.sdk.service.jobs import JobSettings

    hints = typing.get_type_hints(JobSettings)
    tasks = [{"task_key": "t", "notebook_task": {"notebook_path": "/x"}, "retries": 2}]
    with pytest.raises(TypeError, match=r"dbx_job: `tasks` has 'retries', which the SDK's Task"):
        refuse_unknown_keys("dbx_job", "tasks", hints["tasks"], tasks)
    with pytest.raises(TypeError, match=r"'on_failur', which the SDK's JobEmailNotifications"):
        refuse_unknown_keys("dbx_job", "e", hints["email_notifications"], {"on_failur": []})
    refuse_unknown_keys("dbx_job", "tasks", hints["tasks"], tasks[:0])
    refuse_unknown_keys("dbx_job", "name", hints["name"], "a name")  # not an object: as it is
    refuse_unknown_keys("dbx_job", "tags", hints["tags"], {"any": "key"})  # a map, not a type


def test_an_sdk_object_is_built_from_its_json_form() -> None:
    auto = build(compute.AutoScale, {"min_workers": 1})
    assert auto == compute.AutoScale(min_workers=1)
    assert build(compute.AutoScale, auto) is auto
    with pytest.raises(TypeError, match="a list is not a AutoScale"):
        build(compute.AutoScale, [1])


# --------------------------------------------------------------------------- declared inputs


def operation(type_key: str, properties: dict[str, Any], refs: dict[str, str]) -> Operation:
    return Operation(
        key=f"{type_key}:/x",
        type_key=type_key,
        provider="databricks",
        name="x",
        properties=properties,
        refs=refs,
    )


def test_a_type_reads_only_the_properties_it_declares() -> None:
    repo = KINDS["dbx_repo"]
    props = repo.properties(operation("dbx_repo", {"url": "u", "comment": "c"}, {}))
    assert props.get("url") == "u"
    assert props.get("branch") is None  # declared, not given
    assert dict(props) == {"url": "u"}
    with pytest.raises(TypeError, match="dbx_repo reads the property `comment` it does not"):
        props.get("comment")


def test_a_type_reads_only_the_references_it_declares() -> None:
    job = KINDS["dbx_job"]
    op = operation("dbx_job", {}, {"cluster_ref": "dbx_cluster:/etl"})
    assert job.ref(op, "cluster_ref") == "dbx_cluster:/etl"
    with pytest.raises(TypeError, match="dbx_job reads the reference `policy_ref`"):
        job.ref(op, "policy_ref")


def test_a_kind_has_one_way_to_create_and_one_to_find() -> None:
    kind = KINDS["dbx_catalog"]
    with pytest.raises(ValueError, match="exactly one of `create` and `procedure`"):
        dataclasses.replace(kind, procedure=lambda *a: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="exactly one of `getter` and `lister`"):
        dataclasses.replace(kind, lister=lambda c, name: [])
