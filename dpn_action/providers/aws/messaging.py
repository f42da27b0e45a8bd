"""SNS topics and SQS queues (`aws_sns_topic`, `aws_sqs_queue`).

Both answer a create of an existing name with the existing resource (ignoring the tags
given), so `create` reads first. Their settings are attributes, set as text; the FIFO-only
ones (`content_based_deduplication`) are sent for FIFO topics and queues only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dpn_action.providers.aws.api import (
    Api,
    Client,
    Kw,
    New,
    Tags,
    Target,
    from_kv,
    kv,
    settings,
    words,
)
from dpn_action.providers.aws.listing import Listing, last_part


def _flag(value: Any) -> str:
    return "true" if value else "false"


#: settings that are queue/topic attributes: blueprint property -> (attribute, default);
#: the FIFO-only ones are sent for FIFO queues and topics only
_SNS_ATTRIBUTES: dict[str, tuple[str, str]] = {"display_name": ("DisplayName", "")}
_SQS_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "visibility_timeout": ("VisibilityTimeout", "30"),
    "message_retention_seconds": ("MessageRetentionPeriod", "345600"),
    "delay_seconds": ("DelaySeconds", "0"),
}
_FIFO_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "content_based_deduplication": ("ContentBasedDeduplication", "false"),
}


def _attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return _flag(value)
    return str(int(value)) if isinstance(value, int | float) else str(value)


def _attributes_wanted(table: Mapping[str, tuple[str, str]]) -> Callable[[New], Kw]:
    """A queue's or topic's settings as the blueprint asks, as attribute strings."""

    def wanted(n: New) -> Kw:
        fifo = _FIFO_ATTRIBUTES if n.props.get("fifo") else {}
        return {
            prop: _attribute_value(n.props[prop]) if n.props.get(prop) is not None else default
            for prop, (_, default) in {**table, **fifo}.items()
        }

    return wanted


def _attributes_current(
    table: Mapping[str, tuple[str, str]], read: Callable[[Client, Target, Kw], Kw]
) -> Callable[[Client, New, Target, Kw], Kw]:
    def current(c: Client, n: New, t: Target, found: Kw) -> Kw:
        attributes = read(c, t, found)
        fifo = _FIFO_ATTRIBUTES if n.props.get("fifo") else {}
        return {
            prop: attributes.get(name, default)
            for prop, (name, default) in {**table, **fifo}.items()
        }

    return current


def _names(table: Mapping[str, tuple[str, str]], changed: Kw) -> Tags:
    both = {**table, **_FIFO_ATTRIBUTES}
    return {both[prop][0]: value for prop, value in changed.items()}


def _fifo_attributes(n: New, table: Mapping[str, tuple[str, str]], kind: str) -> Tags:
    """Create-time attributes: the FIFO flag, and every setting the blueprint gives."""
    given = {k: v for k, v in _attributes_wanted(table)(n).items() if n.props.get(k) is not None}
    out = _names(table, given)
    if n.props.get("fifo"):
        out[kind] = "true"
        out.setdefault("ContentBasedDeduplication", "false")
    return out


def _sns_create(c: Client, n: New) -> Kw:
    attributes = _fifo_attributes(n, _SNS_ATTRIBUTES, "FifoTopic")
    return dict(c.create_topic(Name=n.name, Attributes=attributes, Tags=kv(n.tags)))


def _sns_apply(c: Client, n: New, t: Target, changed: Kw) -> None:
    for name, value in _names(_SNS_ATTRIBUTES, changed).items():
        c.set_topic_attributes(TopicArn=t.id, AttributeName=name, AttributeValue=value)


def _sqs_create(c: Client, n: New) -> Kw:
    attributes = _fifo_attributes(n, _SQS_ATTRIBUTES, "FifoQueue")
    return dict(c.create_queue(QueueName=n.name, Attributes=attributes, tags=n.tags))


def _sqs_apply(c: Client, n: New, t: Target, changed: Kw) -> None:
    c.set_queue_attributes(QueueUrl=t.id, Attributes=_names(_SQS_ATTRIBUTES, changed))


APIS: dict[str, Api] = {
    "aws_sns_topic": Api(
        "sns",
        properties=words("fifo display_name content_based_deduplication"),
        create=_sns_create,
        find=lambda c, t: c.get_topic_attributes(TopicArn=t.arn("sns", t.name)),
        ident=lambda r, t: r["Attributes"]["TopicArn"],
        tags=lambda c, t, r: from_kv(c.list_tags_for_resource(ResourceArn=t.id).get("Tags")),
        tag=lambda c, t, tags: c.tag_resource(ResourceArn=t.id, Tags=kv(tags)),
        delete=lambda c, t: c.delete_topic(TopicArn=t.id),
        created=lambda r, t: r["TopicArn"],
        exclusive=False,
        listing=Listing(
            "list_topics",
            "Topics",
            name=lambda x: last_part(x["TopicArn"], ":"),
            ident=lambda x, t: x["TopicArn"],
            token=("NextToken", "NextToken"),
        ),
        settings=settings(
            "display_name content_based_deduplication",
            _attributes_wanted(_SNS_ATTRIBUTES),
            _attributes_current(_SNS_ATTRIBUTES, lambda c, t, r: r["Attributes"]),
            _sns_apply,
        ),
    ),
    "aws_sqs_queue": Api(
        "sqs",
        properties=words(
            "fifo visibility_timeout message_retention_seconds delay_seconds "
            "content_based_deduplication"
        ),
        create=_sqs_create,
        find=lambda c, t: c.get_queue_url(QueueName=t.name),
        ident=lambda r, t: r["QueueUrl"],
        tags=lambda c, t, r: dict(c.list_queue_tags(QueueUrl=t.id).get("Tags", {})),
        tag=lambda c, t, tags: c.tag_queue(QueueUrl=t.id, Tags=tags),
        delete=lambda c, t: c.delete_queue(QueueUrl=t.id),
        created=lambda r, t: r["QueueUrl"],
        exclusive=False,
        listing=Listing(
            "list_queues",
            "QueueUrls",
            name=last_part,
            ident=lambda url, t: url,
            page_size=("MaxResults", 1000),
            prefix="QueueNamePrefix",
            token=("NextToken", "NextToken"),
        ),
        settings=settings(
            "visibility_timeout message_retention_seconds delay_seconds "
            "content_based_deduplication",
            _attributes_wanted(_SQS_ATTRIBUTES),
            _attributes_current(
                _SQS_ATTRIBUTES,
                lambda c, t, r: c.get_queue_attributes(QueueUrl=t.id, AttributeNames=["All"])[
                    "Attributes"
                ],
            ),
            _sqs_apply,
        ),
    ),
}
