"""Documentation that is generated or promised stays true."""

from __future__ import annotations

import re
from pathlib import Path

from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.naming.reference import render

ROOT = Path(__file__).resolve().parent.parent


def test_resource_type_reference_matches_the_catalogue() -> None:
    committed = (ROOT / "docs" / "resource-types.md").read_text(encoding="utf-8")
    assert committed.strip() == render().strip(), (
        "docs/resource-types.md drifted: run "
        "`python -m dpn_action.naming.reference > docs/resource-types.md`"
    )


def test_every_rule_in_the_reference_links_its_source() -> None:
    text = render()
    for t in CATALOGUE.values():
        for rule in t.rules:
            assert rule.source.startswith("https://"), (t.key, rule.kind)
            assert rule.source in text


def test_readme_opens_with_the_run_command_and_the_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    assert blocks[0].startswith("pip install . && dpn plan preview examples/blueprints/dev.json")
    assert "pip install '.[test]'" in blocks[1] and "pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1].strip() in ci, ".ci/run must run the README's test command"


def test_the_settings_table_of_dpn_update_lists_what_the_providers_change() -> None:
    from dpn_action.providers.aws import AwsProvider
    from dpn_action.providers.databricks import DatabricksProvider

    text = (ROOT / "docs" / "provisioning.md").read_text(encoding="utf-8")
    table = text.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0]
    documented: dict[str, set[str]] = {}
    for row in table.strip().splitlines()[2:]:
        _, type_cell, settings_cell, _ = row.split("|")
        names = re.sub(r"\([^)]*\)", "", settings_cell)  # asides are not settings
        documented[type_cell.strip().strip("`")] = set(re.findall(r"`([a-z_]+)`", names))
    providers = {
        **getattr(AwsProvider, "settings_types", {}),
        **getattr(DatabricksProvider, "settings_types", {}),
    }
    assert documented == {k: set(v) for k, v in providers.items()}


def test_the_editor_set_up_names_the_published_schemas() -> None:
    import json

    from dpn_action.schema_files import SCHEMA_BASE, SCHEMA_FILES

    text = (ROOT / "docs" / "schemas.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```json\n(.*?)\n```", text, re.S) if "json.schemas" in b]
    settings = json.loads(block)
    urls = {e["url"] for e in settings["json.schemas"]} | set(settings["yaml.schemas"])
    assert urls == {f"{SCHEMA_BASE}/{f}" for f in SCHEMA_FILES.values()}
    for url in re.findall(r"https://raw\.githubusercontent\.com/\S+?\.json", text):
        assert url.rpartition("/")[0] == SCHEMA_BASE
        assert url.rpartition("/")[2] in SCHEMA_FILES.values()
