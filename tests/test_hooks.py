"""The pre-commit hook suite as data and as functions.

`.pre-commit-hooks.yaml` is read as data: each hook's `entry` is resolved through the console
scripts of pyproject.toml to its `main(argv) -> int` and run in this process on passing and
failing example repositories, and each hook's `files`/`types_or` is matched against the paths
it is meant to take and the ones it must leave alone. The real pre-commit client and the plain
git hook are exercised in test_hooks_e2e.py.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import LINT_HOOK, at, process_env, write_files
from identify.identify import tags_from_filename

from dpn_action import hooks

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
HOOK_IDS = ("dpn-lint", "dpn-validate-blueprint", "dpn-validate-config")

# --- example repositories -------------------------------------------------------------------

VALUES = """\
version: "1.0"
defaults:
  project: dataplatform
  region: us-east-1
environments:
  dev:
    environment: dev
"""

PATTERNS = """\
version: "1.0"
patterns:
  aws_s3_bucket: "{project}-{purpose}-{layer}-{environment}-{region_short}"
transformations:
  region_mapping:
    us-east-1: use1
"""

GOOD = """\
{
  "version": "1.0",
  "metadata": {"environment": "dev", "project": "dataplatform", "region": "us-east-1"},
  "resources": {
    "aws": {
      "s3_buckets": [{"purpose": "landing", "layer": "raw"}],
      "glue_databases": [{"domain": "sales", "layer": "bronze"}],
      "glue_tables": [{"database_ref": "sales-bronze", "entity": "orders"}]
    },
    "databricks": {
      "clusters": [{"workload": "etl", "cluster_type": "shared"}],
      "jobs": [{"job_type": "batch", "purpose": "load", "cluster_ref": "etl"}]
    }
  }
}
"""

#: An explicit S3 name with the reserved `xn--` prefix: a cloud-rule error (DPN103).
BAD = """\
version: "1.0"
metadata:
  environment: dev
  project: dataplatform
  region: us-east-1
resources:
  aws:
    s3_buckets:
      - purpose: archive
        layer: raw
        name: xn--archive-bucket
"""

#: Valid names, but an explicit one that differs from the convention: a warning only.
WARNS = """\
version: "1.0"
metadata:
  environment: dev
  project: dataplatform
  region: us-east-1
resources:
  aws:
    s3_buckets:
      - purpose: exports
        layer: raw
        name: dataplatform-hand-picked-bucket
"""

#: Structurally wrong (a misspelt top-level key) while every name in it is fine.
BROKEN = """\
version: "1.0"
metadata:
  environment: dev
  project: dataplatform
  region: us-east-1
resorces:
  aws: {}
"""

#: Structurally fine, but the name breaks S3's rules: `dpn-validate-blueprint` lets it pass.
STRUCTURE_OK_NAME_BAD = BAD

#: User validation that tries to allow what the cloud forbids (S3 names stop at 63).
PATTERNS_TOO_LOOSE = (
    PATTERNS
    + """\
validation:
  max_length:
    aws_s3_bucket: 80
"""
)

#: A placeholder that no value can fill.
PATTERNS_TYPO = """\
version: "1.0"
patterns:
  aws_s3_bucket: "{project}-{purpse}-{environment}"
"""

#: A naming rule stricter than the cloud's, which the good blueprint's S3 name breaks.
PATTERNS_STRICT = (
    PATTERNS
    + """\
validation:
  max_length:
    aws_s3_bucket: 20
"""
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with both configs and one good blueprint; the current directory."""
    write_files(
        tmp_path,
        {
            ".dpn/naming-values.yaml": VALUES,
            ".dpn/naming-patterns.yaml": PATTERNS,
            "blueprints/good.json": GOOD,
        },
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- the manifest as data -------------------------------------------------------------------


def manifest() -> dict[str, dict[str, Any]]:
    hooks_list = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return {h["id"]: h for h in hooks_list}


def console_scripts() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    scripts: dict[str, str] = project["project"]["scripts"]
    return scripts


def entry_of(hook_id: str) -> Callable[[list[str]], int]:
    """The function pre-commit ends up calling for `hook_id`, with the entry's own args."""
    script, *entry_args = manifest()[hook_id]["entry"].split()
    module, func = console_scripts()[script].split(":")
    main = getattr(importlib.import_module(module), func)
    return lambda argv: main([*entry_args, *argv])


def selects(hook: dict[str, Any], path: str) -> bool:
    """Whether pre-commit would pass `path` to `hook` (its files/exclude/types/types_or)."""
    tags = tags_from_filename(path) | {"file"}
    return (
        re.search(hook.get("files", ""), path) is not None
        and re.search(hook.get("exclude", "^$"), path) is None
        and set(hook.get("types", ["file"])) <= tags
        and (not hook.get("types_or") or bool(tags & set(hook["types_or"])))
    )


def test_manifest_offers_the_three_hooks() -> None:
    assert set(HOOK_IDS) <= set(manifest())


@pytest.mark.parametrize("hook_id", HOOK_IDS)
def test_each_hook_is_a_python_hook_whose_entry_is_a_main_of_dpn_action_hooks(
    hook_id: str,
) -> None:
    hook = manifest()[hook_id]
    assert hook["language"] == "python"
    assert hook.get("pass_filenames", True) is True
    script = hook["entry"].split()[0]
    assert console_scripts()[script].startswith("dpn_action.hooks:")
    assert callable(entry_of(hook_id))
    # the entry resolves to a `main(argv) -> int` of dpn_action.hooks
    func = console_scripts()[script].split(":")[1]
    assert func.endswith("_main")
    main = getattr(hooks, func)
    assert inspect.signature(main).return_annotation in (int, "int")
    assert list(inspect.signature(main).parameters) == ["argv"]


@pytest.mark.parametrize("hook_id", HOOK_IDS)
def test_types_or_comes_with_the_pre_commit_version_that_understands_it(hook_id: str) -> None:
    hook = manifest()[hook_id]
    assert hook["types_or"]
    minimum = tuple(int(x) for x in str(hook["minimum_pre_commit_version"]).split("."))
    assert minimum >= (2, 9, 0)


LINT_TAKES = [
    "blueprints/dev.json",
    "blueprints/prd.yaml",
    "blueprints/team-a/sales.yml",
    ".dpn/naming-values.yaml",
    ".dpn/naming-patterns.yaml",
    # a .dpn/ below the root names the blueprints below it
    "config/.dpn/naming-values.yaml",
    "blueprints/team-a/.dpn/naming-patterns.yaml",
]
BLUEPRINTS_ONLY = LINT_TAKES[:3]
CONFIGS_ONLY = LINT_TAKES[3:]
NOBODY_TAKES = [
    "blueprints/README.md",
    "blueprints/dev.json.bak",
    "blueprints/notes.txt",
    "src/blueprints/dev.json",
    "examples/blueprints/dev.json",
    "package.json",
    ".github/workflows/ci.yaml",
    "schemas/blueprint.schema.json",
    ".pre-commit-config.yaml",
    ".dpn/other.yaml",
    ".dpn/naming-values.yml",
    "naming-values.yaml",
    "config/dpn/naming-values.yaml",
]


@pytest.mark.parametrize(
    ("hook_id", "taken"),
    [
        ("dpn-lint", LINT_TAKES),
        ("dpn-validate-blueprint", BLUEPRINTS_ONLY),
        ("dpn-validate-config", CONFIGS_ONLY),
    ],
)
def test_each_hook_selects_exactly_its_files(hook_id: str, taken: list[str]) -> None:
    hook = manifest()[hook_id]
    candidates = LINT_TAKES + NOBODY_TAKES
    assert [p for p in candidates if selects(hook, p)] == taken


def test_a_user_files_override_takes_effect_because_hooks_hard_code_no_paths(repo: Path) -> None:
    # `files: ^infra/dpn/` in a user's config: pre-commit passes those paths and the entry
    # lints them like any other blueprint.
    hook = {**manifest()["dpn-lint"], "files": r"^infra/dpn/.+\.json$"}
    (repo / "blueprints" / "good.json").unlink()  # its names move to infra/dpn/
    write_files(repo, {"infra/dpn/dev.json": GOOD})
    assert selects(hook, "infra/dpn/dev.json")
    assert not selects(hook, "blueprints/good.json")
    assert entry_of("dpn-lint")(["infra/dpn/dev.json"]) == 0


# --- entries run in this process ------------------------------------------------------------

CASES = {
    # hook id: (files to add, argv that passes, files to add, argv that fails, code, where)
    "dpn-lint": (
        {},
        ["blueprints/good.json"],
        {"blueprints/bad.yaml": BAD},
        ["blueprints/bad.yaml"],
        "DPN103",
        "blueprints/bad.yaml:" + at(BAD, "xn--archive-bucket"),
    ),
    "dpn-validate-blueprint": (
        {"blueprints/names-bad.yaml": STRUCTURE_OK_NAME_BAD},
        ["blueprints/good.json", "blueprints/names-bad.yaml"],
        {"blueprints/broken.yaml": BROKEN},
        ["blueprints/broken.yaml"],
        "DPN011",
        "blueprints/broken.yaml:" + at(BROKEN, "resorces"),
    ),
    "dpn-validate-config": (
        {},
        [".dpn/naming-values.yaml", ".dpn/naming-patterns.yaml"],
        {".dpn/naming-patterns.yaml": PATTERNS_TOO_LOOSE},
        [".dpn/naming-patterns.yaml"],
        "DPN200",
        ".dpn/naming-patterns.yaml:" + at(PATTERNS_TOO_LOOSE, "80"),
    ),
}


@pytest.mark.parametrize("hook_id", HOOK_IDS)
def test_entry_passes_good_files(
    hook_id: str, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add, argv, *_ = CASES[hook_id]
    write_files(repo, add)
    assert entry_of(hook_id)([*argv]) == 0, capsys.readouterr()


@pytest.mark.parametrize("hook_id", HOOK_IDS)
def test_entry_fails_a_bad_file_with_file_line_col_code_and_hint(
    hook_id: str, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    *_, add, argv, code, where = CASES[hook_id]
    write_files(repo, add)
    assert entry_of(hook_id)([*argv]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith(f"{where}: {code} "))
    assert "hint: " in out.split(line, 1)[1].splitlines()[1]


def test_lint_of_a_config_relints_every_blueprint_it_affects(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(repo, {".dpn/naming-patterns.yaml": PATTERNS_STRICT})
    assert hooks.lint_main([".dpn/naming-patterns.yaml"]) == 1
    where = at(GOOD, '{"purpose": "landing"')
    assert capsys.readouterr().out.startswith(f"blueprints/good.json:{where}: DPN120 ")


def test_with_a_custom_layout_a_config_change_relints_the_blueprints_of_the_context(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A monorepo keeps its blueprints in infra/blueprints/ and says so with --context.
    write_files(
        repo, {"infra/blueprints/a.json": GOOD, ".dpn/naming-patterns.yaml": PATTERNS_STRICT}
    )
    (repo / "blueprints" / "good.json").unlink()
    argv = ["--context", "infra/blueprints/**/*.json", ".dpn/naming-patterns.yaml"]
    assert hooks.lint_main(argv) == 1
    assert capsys.readouterr().out.startswith("infra/blueprints/a.json:")


def test_lint_of_two_blueprints_reports_a_name_they_share(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(repo, {"blueprints/copy.json": GOOD})
    assert hooks.lint_main(["blueprints/good.json", "blueprints/copy.json"]) == 1
    assert "DPN130" in capsys.readouterr().out


@pytest.mark.parametrize("staged", ["blueprints/good.json", "blueprints/copy.json"])
def test_lint_of_one_staged_blueprint_reports_a_name_another_blueprint_already_uses(
    staged: str, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(repo, {"blueprints/copy.json": GOOD})
    assert hooks.lint_main([staged]) == 1
    out = capsys.readouterr().out
    assert f"{staged}:" in out
    assert "DPN130" in out


def test_lint_strict_turns_warnings_into_a_failure(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(repo, {"blueprints/warns.yaml": WARNS})
    assert hooks.lint_main(["blueprints/warns.yaml"]) == 0
    assert " warning: " in capsys.readouterr().out
    assert hooks.lint_main(["--strict", "blueprints/warns.yaml"]) == 1


def test_lint_args_choose_the_output_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_files(repo, {"blueprints/bad.yaml": BAD})
    assert hooks.lint_main(["--format", "json", "blueprints/bad.yaml"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert {f["code"] for f in doc["findings"]} >= {"DPN103"}
    assert hooks.lint_main(["--format", "github", "blueprints/bad.yaml"]) == 1
    line, col = at(BAD, "xn--archive-bucket").split(":")
    assert f"::error file=blueprints/bad.yaml,line={line},col={col},title=DPN103::" in (
        capsys.readouterr().out
    )


def test_lint_args_choose_the_config_files(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_files(repo, {"conf/strict-patterns.yaml": PATTERNS_STRICT})
    argv = ["--patterns-config", "conf/strict-patterns.yaml", "blueprints/good.json"]
    assert hooks.lint_main(argv) == 1
    assert capsys.readouterr().out.startswith("blueprints/good.json:")


def test_inside_github_actions_the_findings_are_annotations(repo: Path) -> None:
    write_files(repo, {"blueprints/bad.yaml": BAD})
    proc = subprocess.run(
        [*LINT_HOOK, "blueprints/bad.yaml"],
        capture_output=True,
        text=True,
        env=process_env(GITHUB_ACTIONS="true"),
    )
    assert proc.returncode == 1
    assert proc.stdout.startswith("::"), proc.stdout + proc.stderr
    assert "::error file=blueprints/bad.yaml," in proc.stdout


def test_validate_config_fails_on_a_placeholder_that_is_no_variable_dpn_knows(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An error: nothing can give {purpse} a value, so every name would lose its segment.
    write_files(repo, {".dpn/naming-patterns.yaml": PATTERNS_TYPO})
    assert hooks.validate_config_main([".dpn/naming-patterns.yaml"]) == 1
    where = at(PATTERNS_TYPO, '"{project}-{purpse}')
    out = capsys.readouterr().out
    assert f".dpn/naming-patterns.yaml:{where}: DPN203 placeholder {{purpse}} " in out
    assert "Did you mean 'purpose'" in out


def test_validate_config_uses_a_config_path_from_args_over_the_file(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(repo, {"conf/naming-patterns.yaml": PATTERNS_TOO_LOOSE})
    argv = ["--patterns-config", "conf/naming-patterns.yaml", ".dpn/naming-patterns.yaml"]
    assert hooks.validate_config_main(argv) == 1
    assert "conf/naming-patterns.yaml:" in capsys.readouterr().out
    argv = ["--patterns-config=.dpn/naming-patterns.yaml", "conf/naming-patterns.yaml"]
    assert hooks.validate_config_main(argv) == 0


def test_validate_config_refuses_a_file_that_is_not_a_naming_config(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hooks.validate_config_main(["blueprints/good.json"]) == 2
    assert "not a naming config" in capsys.readouterr().err


def test_a_usage_error_is_exit_2_with_a_message_not_a_traceback(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hooks.lint_main(["--formt", "json", "blueprints/good.json"]) == 2
    err = capsys.readouterr().err
    assert "No such option" in err
    assert "Traceback" not in err


def test_an_unreadable_file_is_a_finding(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert hooks.validate_blueprint_main(["blueprints/gone.json"]) == 1
    assert capsys.readouterr().out.startswith("blueprints/gone.json: DPN003 ")


def test_an_unexpected_error_is_one_line_and_exit_1(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("dpn_action.analysis.analyse", boom)
    assert hooks.lint_main(["blueprints/good.json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dpn: internal error (RuntimeError: boom)")
    assert len(err.splitlines()) == 1


def test_the_hooks_import_no_heavy_module(repo: Path) -> None:
    # A commit hook must not pay for pydantic, rich or the cloud SDKs.
    code = (
        "import sys; from dpn_action.hooks import lint_main; lint_main(sys.argv[1:]); "
        "heavy = ('pydantic', 'rich', 'boto3', 'botocore', 'databricks'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "blueprints/good.json", ".dpn/naming-values.yaml"],
        capture_output=True,
        text=True,
        env=process_env(),
    )
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout + proc.stderr


# --- documentation --------------------------------------------------------------------------


def _readme_hooks_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("<!-- hooks:start -->", 1)[1].split("<!-- hooks:end -->", 1)[0]


@pytest.mark.parametrize("hook_id", sorted(manifest()))
def test_every_hook_id_is_documented_in_the_readme(hook_id: str) -> None:
    assert f"id: {hook_id}" in _readme_hooks_section()


@pytest.mark.parametrize("hook_id", sorted(manifest()))
def test_every_hook_id_is_documented_in_docs_pre_commit(hook_id: str) -> None:
    assert hook_id in (ROOT / "docs" / "pre-commit.md").read_text(encoding="utf-8")
