"""The analysis names most resources over values derived and transformed once per
blueprint and type, and keeps their values compact (`engine.Values`); a traced type
(`dpn explain`) is named the plain way. Both ways give the same names, issues, findings and
values, resource by resource, with configs that transform values and with overrides."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from golden_cases import REPO, generated, messy

from dpn_action.analysis import analyse
from dpn_action.naming.config import Configs
from dpn_action.naming.engine import Values


def _named(root: Path, files: list[Path], overrides: tuple[str, ...], trace: str | None) -> Any:
    a = analyse(Configs(overrides=overrides, display_root=root), files, trace_type=trace)
    return a, {
        (r.blueprint.doc.path, r.pointer): r
        for r in a.resources
        if r.result is not None and (trace is None or r.type.key == trace)
    }


@pytest.mark.parametrize(
    "overrides",
    [(), ("project=Other Name",), ("region=eu-west-1",), ("environment=prd", "team=x")],
)
def test_every_resource_is_named_as_the_plain_way_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: tuple[str, ...]
) -> None:
    shutil.copytree(REPO / "examples", tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    doc = messy()
    doc["resources"]["aws"]["s3_buckets"].append(
        {"purpose": "moved", "layer": "raw", "region": "eu-central-1"}
    )
    doc["resources"]["aws"]["sqs_queues"].append(
        {"purpose": "short", "queue_type": "q", "region_short": "X1"}
    )
    (tmp_path / "blueprints" / "messy.json").write_text(json.dumps(doc))
    (tmp_path / "blueprints" / "big.json").write_text(json.dumps(generated(200)))
    files = sorted(tmp_path.glob("blueprints/*"))
    fast, named = _named(tmp_path, files, overrides, None)
    compact = [r for r in named.values() if isinstance(r.result.values, Values)]
    assert len(compact) > len(named) / 2
    for key in sorted({r.type.key for r in named.values()}):
        plain, traced = _named(tmp_path, files, overrides, key)
        assert plain.findings == fast.findings
        for place, r in traced.items():
            mine = named[place].result
            assert not isinstance(r.result.values, Values)
            assert (mine.name, mine.issues, mine.dropped) == (
                r.result.name,
                r.result.issues,
                r.result.dropped,
            ), place
            assert dict(mine.values) == r.result.values, place
            assert set(mine.values) == set(r.result.values)
            assert len(mine.values) == len(r.result.values)
