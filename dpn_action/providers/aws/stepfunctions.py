"""Step Functions state machines (`aws_step_function`).

`CreateStateMachine` answers a create of an existing name and definition with the existing
machine, so `create` reads first. Without a `definition` a machine with one `Pass` state is
made, until the workflow's own is deployed.
"""

from __future__ import annotations

import json

from dpn_action.providers.aws.api import (
    Api,
    Client,
    Kw,
    New,
    Target,
    alive,
    from_kv,
    kv,
    settings,
    words,
)
from dpn_action.providers.aws.listing import Listing

DEFAULT_STATE_MACHINE: Kw = {
    "Comment": "Created by dpn; replace with the workflow's definition.",
    "StartAt": "Start",
    "States": {"Start": {"Type": "Pass", "End": True}},
}


def _sfn_create(c: Client, n: New) -> Kw:
    definition = n.props.get("definition") or DEFAULT_STATE_MACHINE
    return dict(
        c.create_state_machine(
            name=n.name,
            definition=definition if isinstance(definition, str) else json.dumps(definition),
            roleArn=n.need("role_ref").resource_id,
            type=str(n.props.get("state_machine_type", "STANDARD")).upper(),
            tags=kv(n.tags, "key", "value"),
        )
    )


def _sfn_wanted(n: New) -> Kw:
    definition = n.props.get("definition") or DEFAULT_STATE_MACHINE
    return {"definition": json.loads(definition) if isinstance(definition, str) else definition}


def _sfn_current(c: Client, n: New, t: Target, found: Kw) -> Kw:
    return {"definition": json.loads(found["definition"])}


def _sfn_apply(c: Client, n: New, t: Target, changed: Kw) -> None:
    c.update_state_machine(stateMachineArn=t.id, definition=json.dumps(changed["definition"]))


def _sfn_arn(t: Target) -> str:
    return t.arn("states", f"stateMachine:{t.name}")


APIS: dict[str, Api] = {
    "aws_step_function": Api(
        "stepfunctions",
        properties=words("definition state_machine_type"),
        refs=words("role_ref"),
        create=_sfn_create,
        find=lambda c, t: c.describe_state_machine(stateMachineArn=_sfn_arn(t)),
        ident=lambda r, t: r["stateMachineArn"] if alive(r.get("status")) else None,
        tags=lambda c, t, r: from_kv(
            c.list_tags_for_resource(resourceArn=t.id).get("tags"), "key", "value"
        ),
        tag=lambda c, t, tags: c.tag_resource(resourceArn=t.id, tags=kv(tags, "key", "value")),
        delete=lambda c, t: c.delete_state_machine(stateMachineArn=t.id),
        created=lambda r, t: r["stateMachineArn"],
        incarnation=lambda r: r.get("creationDate"),
        exclusive=False,
        listing=Listing(
            "list_state_machines",
            "stateMachines",
            name=lambda m: m["name"],
            ident=lambda m, t: m["stateMachineArn"],
            page_size=("maxResults", 1000),
            token=("nextToken", "nextToken"),
        ),
        settings=settings("definition", _sfn_wanted, _sfn_current, _sfn_apply),
    ),
}
