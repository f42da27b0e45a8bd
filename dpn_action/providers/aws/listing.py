"""How each AWS type is listed: one paginated listing per type and scope, as data.

A type's `Api.listing` names the list call, where its pages put the items, how an item gives
the resource's name and id (the id `AwsProvider.read` gives), the parameter that sets the
page size and its largest value, and the parameter that filters by a name prefix where the
API has one. The provider's `survey` reads it to tell which planned names are free, and its
`listing` to find every resource of a type (`dpn sweep`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dpn_action.providers.aws.api import Client, Kw, Target
from dpn_action.providers.base import Listed


@dataclass(frozen=True, slots=True)
class Listing:
    """One paginated list call of a type."""

    #: the client method (`list_queues`)
    method: str
    #: the key of a page that holds the items (`QueueUrls`)
    items: str
    #: an item -> the resource's name
    name: Callable[[Any], str]
    #: (an item, the target with the item's name) -> the resource's id, as `read` gives it
    ident: Callable[[Any, Target], str]
    #: the request parameter that sets the page size, and its largest value
    page_size: tuple[str, int] | None = None
    #: the request parameter that keeps only names starting with a prefix
    prefix: str | None = None
    #: the request parameters a scope gives (a Glue table's database)
    params: Callable[[Mapping[str, str]], Kw] = field(default=lambda scope: {})
    #: (the token of a page that has more, the request parameter that asks for the next
    #: page); None: the item-and-flag scheme of `after`
    token: tuple[str, str] | None = None
    #: the pages say "more" with this flag, and the next one starts after the last item's
    #: name, passed in this parameter (Kinesis, Firehose)
    after: tuple[str, str] | None = None
    #: absent from the listing means free. Not so for S3: a bucket name is unique across
    #: all accounts, and the listing holds this account's only.
    decides: bool = True
    #: an item, shaped as `Api.find` answers (for a type whose items carry all a read gives,
    #: dpn's marks included); None: a name the listing holds is read
    found: Callable[[Any], Kw] | None = None


class ListingTooLong(Exception):
    """The listing has more pages than it was allowed to fetch."""


def pages(
    c: Client,
    listing: Listing,
    target: Target,
    prefix: str,
    page_size: int | None,
    max_pages: int | None = None,
) -> Iterator[list[Listed]]:
    """The listing's pages, each as the resources it holds, one request per page; with
    `max_pages`, `ListingTooLong` instead of a request for one more."""
    kw: Kw = dict(listing.params(target.scope))
    if listing.page_size is not None:
        param, largest = listing.page_size
        kw[param] = min(page_size or largest, largest)
    if listing.prefix is not None and prefix:
        kw[listing.prefix] = prefix
    call = getattr(c, listing.method)
    fetched = 0
    while True:
        if max_pages is not None and fetched >= max_pages:
            raise ListingTooLong(listing.method)
        page = call(**kw)
        fetched += 1
        items = page.get(listing.items) or []
        yield [_listed(listing, item, target) for item in items]
        if listing.token is not None:
            more, param = listing.token
            if not page.get(more):
                return
            kw[param] = page[more]
        elif listing.after is not None:
            flag, param = listing.after
            if not page.get(flag) or not items:
                return
            kw[param] = listing.name(items[-1])
        else:
            return


def _listed(listing: Listing, item: Any, target: Target) -> Listed:
    name = listing.name(item)
    return Listed(name, listing.ident(item, Target(target.aws, name, target.scope)), item)


def last_part(text: str, sep: str = "/") -> str:
    """The last part of an ARN or URL (a topic's name from its ARN, a queue's from its URL)."""
    return text.rsplit(sep, 1)[-1]
