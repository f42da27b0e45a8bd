"""Short region codes (`us-east-1` -> `use1`), the default for `{region_short}`."""

from __future__ import annotations

import re

_WORDS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "mideast": "me",
    "southcentral": "sc",
    "northcentral": "nc",
}
_REGION = re.compile(r"^([a-z]{2})(?:-(gov|iso[a-z]?))?-([a-z]+)-(\d+)$")


def short_region(region: str) -> str | None:
    """The conventional short code of an AWS region, or None when it is not region-shaped.

    `us-east-1` -> `use1`, `eu-central-1` -> `euc1`, `ap-southeast-2` -> `apse2`,
    `us-gov-west-1` -> `usgw1`.
    """
    m = _REGION.match(region)
    if m is None:
        return None
    country, partition, direction, number = m.groups()
    word = _WORDS.get(direction)
    if word is None:
        return None
    part = partition[0] if partition else ""
    return f"{country}{part}{word}{number}"
