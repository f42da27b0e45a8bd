"""Which files are dpn's is defined once (`dpn_action.layout`); everything else follows it.

`.pre-commit-hooks.yaml` and `hooks/pre-commit` are generated from it, the Action's default
`blueprints` input is its glob, and every face matches globs the same way (`**`, `{a,b}`).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import dpn_process, write_files

from dpn_action.layout import (
    BLUEPRINTS,
    CONFIGS,
    Globs,
    blueprints_in,
    files_regex,
    generated,
    is_config,
)

REPO = Path(__file__).resolve().parents[1]

PATHS = {
    "blueprints/dev.json": "blueprint",
    "blueprints/a/b/prd.yml": "blueprint",
    "blueprints/x.yaml": "blueprint",
    ".dpn/naming-values.yaml": "config",
    "blueprints/team/.dpn/naming-patterns.yaml": "config",
    "blueprints/notes.md": None,
    "src/blueprints/dev.json": None,
    ".dpn/naming-values.yml": None,
}


def test_the_generated_files_are_what_the_layout_makes() -> None:
    """Fails when `.pre-commit-hooks.yaml` or `hooks/pre-commit` drift from the layout:
    run `python -m dpn_action.layout --write`."""
    for path, text in generated(REPO).items():
        assert path.read_text(encoding="utf-8") == text, path


def test_the_actions_default_blueprints_input_is_the_layouts_glob() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    assert action["inputs"]["blueprints"]["default"] == BLUEPRINTS


def test_the_hook_manifest_takes_exactly_the_layouts_files() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    for path, kind in PATHS.items():
        lint = re.search(hooks["dpn-lint"]["files"], path) is not None
        blueprint = re.search(hooks["dpn-validate-blueprint"]["files"], path) is not None and not (
            re.search(hooks["dpn-validate-blueprint"]["exclude"], path)
        )
        config = re.search(hooks["dpn-validate-config"]["files"], path) is not None
        assert (lint, blueprint, config) == (
            kind is not None,
            kind == "blueprint",
            kind == "config",
        ), path


@pytest.mark.parametrize(("path", "kind"), PATHS.items())
def test_the_git_hook_patterns_agree_with_python(path: str, kind: str | None) -> None:
    """bash's `=~` (POSIX extended regular expressions) takes the same files."""
    blueprint = files_regex([BLUEPRINTS], ere=True)
    config = files_regex([CONFIGS], ere=True)
    script = f"[[ $1 =~ {blueprint} || $1 =~ {config} ]]"
    taken = subprocess.run(["bash", "-c", script, "-", path], check=False).returncode == 0
    assert taken is (kind is not None)
    assert (Globs([BLUEPRINTS, CONFIGS]).match(path)) is (kind is not None)


def test_a_config_below_blueprints_is_never_a_blueprint() -> None:
    assert blueprints_in(PATHS) == [
        "blueprints/a/b/prd.yml",
        "blueprints/dev.json",
        "blueprints/x.yaml",
    ]
    assert is_config("blueprints/team/.dpn/naming-patterns.yaml")


def test_lint_context_takes_the_same_glob_dialect_as_the_action(tmp_path: Path) -> None:
    """`blueprints/**/*.{json,yaml,yml}` (the Action's default) given to `dpn lint
    --context` finds the blueprints: a name used twice across them is reported."""
    bucket = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": "acme", "region": "us-east-1"},
        "resources": {"aws": {"s3_buckets": [{"purpose": "landing", "layer": "raw"}]}},
    }
    write_files(
        tmp_path,
        {"blueprints/a.json": json.dumps(bucket), "blueprints/team/b.yaml": yaml.safe_dump(bucket)},
    )

    proc = dpn_process(tmp_path, "lint", "blueprints/a.json", "--context", BLUEPRINTS)

    assert proc.returncode == 1
    assert "DPN130" in proc.stdout and "blueprints/team/b.yaml" in proc.stdout
