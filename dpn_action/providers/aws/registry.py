"""The 13 AWS types, assembled from the service modules, and what follows from them.

Each service module lists its types' `Api` entries in `APIS`; adding a type is one entry in
the module of its service (and its catalogue entry). Everything the provider tells the rest
of dpn about its types is derived here from those entries: which carry tags, which settings
`dpn update` can change, which types can be archived or are marked after their create call,
and which blueprint properties and references each one takes.
"""

from __future__ import annotations

from dpn_action.providers.aws import (
    dynamodb,
    glue,
    iam,
    lambda_functions,
    messaging,
    s3,
    stepfunctions,
    streams,
)
from dpn_action.providers.aws.api import Api
from dpn_action.providers.aws.errors import AwsInputError
from dpn_action.providers.base import Handled

_MODULES = (s3, glue, lambda_functions, iam, streams, dynamodb, messaging, stepfunctions)

#: type key -> how dpn drives it
APIS: dict[str, Api] = {key: api for module in _MODULES for key, api in module.APIS.items()}

#: the resource types this provider handles
TYPES = frozenset(APIS)
#: the types that carry tags (a Glue table keeps only dpn's marks, in its parameters)
TAG_TYPES = frozenset(k for k, api in APIS.items() if api.tag is not None)
#: type -> the blueprint properties `dpn update` changes in place
SETTINGS_TYPES: dict[str, frozenset[str]] = {
    k: api.settings.names for k, api in APIS.items() if api.settings is not None
}
#: the types `dpn delete --archive` can archive
ARCHIVE_TYPES = frozenset(k for k, api in APIS.items() if api.archive is not None)
#: the types tagged again after the create call where the endpoint drops create-time tags
#: (they are unmarked until then); see `providers.base.marked_after_create`
LATE_MARKED_TYPES = frozenset(k for k, api in APIS.items() if api.retag)
#: the types whose pre-flight one listing per scope decides (`AwsProvider.survey`)
SURVEY_TYPES = frozenset(
    k for k, api in APIS.items() if api.listing is not None and api.listing.decides
)
#: the types `AwsProvider.listing` lists whole, one paginated listing per scope (`dpn sweep`)
LISTING_TYPES = frozenset(k for k, api in APIS.items() if api.listing is not None)
#: type -> the blueprint properties and reference fields it takes
HANDLED: dict[str, Handled] = {k: api.handled for k, api in APIS.items()}


def api_of(type_key: str) -> Api:
    try:
        return APIS[type_key]
    except KeyError:
        raise AwsInputError(f"the AWS provider does not handle {type_key!r}") from None
