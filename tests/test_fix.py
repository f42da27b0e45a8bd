"""`dpn fix` and `dpn lint --fix`: the safe suggestions applied in place, everything else in
the file kept byte for byte; a suggestion with a choice, or one that would change another
name, left alone and reported. Findings say their fix as data (`Finding.fix`)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import analysed, blueprint, dedented, dpn, found, link, write

from dpn_action.findings import Fix

#: a YAML blueprint with comments, a misspelt key (one close match) and a value the type
#: normalises; lints with one error and two warnings
YAML = dedented(
    """
    # the team's dev blueprint
    version: "1.0"
    metadata:
      environment: dev      # where
      project: dataplatform
      region: us-east-1
    resources:
      aws:
        s3_buckets:
          - purpse: landing   # misspelt
            layer: raw
          - purpose: Curated Zone
            layer: 'gold'     # quoted on purpose
    """
)

#: the same in JSON, laid out by hand (two members on one line, odd spacing)
JSON = (
    "{\n"
    '  "version": "1.0",\n'
    '  "metadata": {"environment": "dev", "project": "dataplatform",  "region": "us-east-1"},\n'
    '  "resources": {"aws": {"s3_buckets": [\n'
    '    {"purpse": "landing", "layer": "raw"},\n'
    '    {"purpose":"Curated Zone", "layer": "gold"}\n'
    "  ]}}\n"
    "}\n"
)


@pytest.fixture
def repo(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git work tree as the current directory."""
    monkeypatch.chdir(git_repo)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return git_repo


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) == len(b), "a fix never adds or removes lines"
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


# --------------------------------------------------------------------- the fixes, as data
def test_a_misspelt_key_says_its_fix_as_data(tmp_path: Path) -> None:
    a, _ = analysed(tmp_path, blueprint({"aws": {"s3_buckets": [{"purpse": "x", "layer": "raw"}]}}))
    [f] = found(a, "DPN014")
    assert f.fix == Fix("/resources/aws/s3_buckets/0/purpse", "purpse", ("purpose",), key=True)
    assert f.fix.replacement == "purpose"


def test_a_key_with_two_close_matches_is_a_choice_not_a_fix(tmp_path: Path) -> None:
    a, _ = analysed(tmp_path, blueprint({"aws": {"s3_buckets": [{"region_": "x"}]}}))
    [f] = found(a, "DPN014")
    assert f.fix is not None and f.fix.candidates == ("region", "region_short")
    assert f.fix.replacement is None


def test_an_unknown_top_level_key_says_its_fix(tmp_path: Path) -> None:
    bp = blueprint({"aws": {"s3_buckets": [{"purpose": "x", "layer": "raw"}]}})
    bp["scpoe"] = {"mode": "include", "patterns": ["aws_*"]}
    a, _ = analysed(tmp_path, bp)
    [f] = found(a, "DPN011")
    assert f.fix == Fix("/scpoe", "scpoe", ("scope",), key=True)


def test_a_normalised_value_says_what_to_write_where_it_is_written(tmp_path: Path) -> None:
    a, _ = analysed(
        tmp_path, blueprint({"aws": {"s3_buckets": [{"purpose": "Curated Zone", "layer": "raw"}]}})
    )
    [f] = found(a, "DPN040")
    assert f.fix == Fix("/resources/aws/s3_buckets/0/purpose", "Curated Zone", ("curated-zone",))


def test_a_value_a_transformation_changes_is_fixed_to_what_survives_it(tmp_path: Path) -> None:
    """With `lowercase: [purpose]`, 'Curated Zone' is lower-cased before it is normalised;
    writing 'curated-zone' gives the same name with nothing left to normalise."""
    patterns = """
        version: "1.0"
        transformations: {lowercase: [purpose]}
    """
    bp = blueprint({"aws": {"s3_buckets": [{"purpose": "Curated Zone", "layer": "raw"}]}})
    a, _ = analysed(tmp_path, bp, patterns=patterns)
    [f] = found(a, "DPN040")
    assert f.fix is not None and f.fix.old == "Curated Zone"
    assert f.fix.replacement == "curated-zone"


def test_no_fix_is_offered_where_a_transformation_would_undo_it(tmp_path: Path) -> None:
    """`replace_hyphens: {purpose: "_"}` turns the hyphen of 'curated-zone' back into a
    character S3 forbids: writing it would still be normalised, so there is no fix."""
    patterns = """
        version: "1.0"
        transformations: {replace_hyphens: {purpose: "_"}}
    """
    bp = blueprint({"aws": {"s3_buckets": [{"purpose": "Curated Zone", "layer": "raw"}]}})
    a, _ = analysed(tmp_path, bp, patterns=patterns)
    [f] = found(a, "DPN040")
    assert f.fix is None


# ------------------------------------------------------------------------ dpn fix, files
@pytest.mark.parametrize(("name", "text"), [("dev.yaml", YAML), ("dev.json", JSON)])
def test_fix_gives_a_file_that_lints_clean_and_differs_only_on_those_lines(
    repo: Path, name: str, text: str
) -> None:
    path = write(repo / "blueprints" / name, text)
    assert dpn("lint", f"blueprints/{name}").exit_code == 1
    result = dpn("fix", f"blueprints/{name}")
    assert result.exit_code == 0, result.output
    after = path.read_text(encoding="utf-8")
    typo, value = changed_lines(text, after)
    assert "purpse" in typo[0] and typo[1] == typo[0].replace("purpse", "purpose")
    assert "Curated Zone" in value[0] and value[1] == value[0].replace(
        "Curated Zone", "curated-zone"
    )
    assert after == text.replace("purpse", "purpose").replace("Curated Zone", "curated-zone")
    lint = dpn("lint", f"blueprints/{name}")
    assert lint.exit_code == 0 and lint.stdout.strip() == "no problems found"
    assert "fixed 2 problems in 1 file" in result.stderr
    assert f"blueprints/{name}:" in result.stderr and "renamed key 'purpse' to 'purpose'" in (
        result.stderr
    )


def test_comments_and_quoting_of_a_yaml_file_are_kept(repo: Path) -> None:
    path = write(repo / "blueprints" / "dev.yaml", YAML)
    assert dpn("fix").exit_code == 0
    after = path.read_text(encoding="utf-8")
    for kept in ("# the team's dev blueprint", "# where", "# misspelt", "layer: 'gold'     #"):
        assert kept in after
    assert "  - purpose: landing   # misspelt\n" in after


def test_fix_keeps_a_byte_order_mark_crlf_line_ends_and_the_file_mode(repo: Path) -> None:
    raw = "\ufeff" + JSON.replace("\n", "\r\n")
    path = repo / "blueprints" / "dev.json"
    path.parent.mkdir()
    path.write_bytes(raw.encode("utf-8"))
    path.chmod(0o640)
    assert dpn("fix").exit_code == 0
    after = path.read_bytes().decode("utf-8")
    assert after == raw.replace("purpse", "purpose").replace("Curated Zone", "curated-zone")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_link_inside_the_repository_stays_a_link(repo: Path) -> None:
    target = write(repo / "shared" / "dev.yaml", YAML)
    link(repo / "blueprints" / "dev.yaml", "../shared/dev.yaml")
    assert dpn("fix", "blueprints/dev.yaml").exit_code == 0
    assert (repo / "blueprints" / "dev.yaml").is_symlink()
    assert "purpose: landing" in target.read_text(encoding="utf-8")


def test_a_file_outside_the_repository_is_refused_and_left_as_it_is(
    repo: Path, tmp_path: Path
) -> None:
    outside = write(tmp_path / "elsewhere" / "dev.yaml", YAML)
    link(repo / "blueprints" / "dev.yaml", outside)
    result = dpn("fix", "blueprints/dev.yaml")
    assert result.exit_code == 1
    assert "DPN005" in result.stdout and "nothing to fix" in result.stderr
    assert outside.read_text(encoding="utf-8") == YAML


def test_a_file_that_is_not_regular_is_refused_unread(repo: Path) -> None:
    pipe = repo / "blueprints" / "dev.yaml"
    pipe.parent.mkdir()
    os.mkfifo(pipe)
    result = dpn("fix", "blueprints/dev.yaml")
    assert result.exit_code == 1
    assert "DPN005" in result.stdout and "nothing to fix" in result.stderr
    assert stat.S_ISFIFO(pipe.lstat().st_mode)


def test_diff_and_dry_run_write_nothing_and_the_diff_applies(repo: Path) -> None:
    path = write(repo / "blueprints" / "dev.yaml", YAML)
    dry = dpn("fix", "--dry-run")
    assert dry.exit_code == 1  # a file would change
    assert "would fix 2 problems in 1 file" in dry.stderr
    diff = dpn("fix", "--diff")
    assert diff.exit_code == 1
    assert path.read_text(encoding="utf-8") == YAML
    assert diff.stdout.startswith("--- a/blueprints/dev.yaml\n+++ b/blueprints/dev.yaml\n")
    subprocess.run(["git", "apply", "-"], input=diff.stdout, text=True, check=True, cwd=repo)
    applied = path.read_text(encoding="utf-8")
    path.write_text(YAML, encoding="utf-8")
    assert dpn("fix").exit_code == 0
    assert path.read_text(encoding="utf-8") == applied
    assert dpn("fix", "--diff").stdout == ""
    assert dpn("fix", "--dry-run").exit_code == 0


def test_lint_fix_applies_the_same_fixes_then_lints(repo: Path) -> None:
    path = write(repo / "blueprints" / "dev.json", JSON)
    result = dpn("lint", "--fix", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["findings"] == []
    assert path.read_text(encoding="utf-8") == JSON.replace("purpse", "purpose").replace(
        "Curated Zone", "curated-zone"
    )


def test_a_fix_that_uncovers_another_is_followed_by_it(repo: Path) -> None:
    """Once 'purpse' is 'purpose', its value 'Land Ing' is a naming value, normalised."""
    text = YAML.replace("purpse: landing", "purpse: Land Ing")
    path = write(repo / "blueprints" / "dev.yaml", text)
    assert dpn("fix").exit_code == 0
    assert "- purpose: land-ing   # misspelt" in path.read_text(encoding="utf-8")


# ------------------------------------------------------------------- left alone, reported
def test_an_ambiguous_key_is_left_alone_and_reported(repo: Path) -> None:
    text = YAML.replace("layer: raw", "region_: raw")
    path = write(repo / "blueprints" / "dev.yaml", text)
    result = dpn("fix")
    assert result.exit_code == 1  # the unknown field is still an error
    after = path.read_text(encoding="utf-8")
    assert "region_: raw" in after and "purpose: landing" in after
    assert (
        "DPN014 left alone: ambiguous: the key 'region_' could be 'region' or 'region_short'"
        in result.stderr
    )
    assert "DPN014 unknown field 'region_'" in result.stdout


def test_a_value_two_types_normalise_differently_is_left_alone(repo: Path) -> None:
    text = YAML.replace("project: dataplatform", "project: Data Platform").replace(
        "    s3_buckets:", "    glue_databases: [{domain: sales, layer: bronze}]\n    s3_buckets:"
    )
    path = write(repo / "blueprints" / "dev.yaml", text)
    result = dpn("fix")
    assert "project: Data Platform" in path.read_text(encoding="utf-8")
    assert (
        "left alone: ambiguous: the value 'Data Platform' could be 'data-platform' or "
        "'data_platform'" in result.stderr
    )


def test_a_value_another_type_uses_as_written_is_left_alone(repo: Path) -> None:
    """S3 lower-cases 'Landing'; a Databricks job name keeps it: rewriting the value would
    rename the job."""
    text = dedented(
        """
        version: "1.0"
        metadata: {environment: dev, project: dataplatform, region: us-east-1, purpose: Landing}
        resources:
          aws: {s3_buckets: [{layer: raw}]}
          databricks: {jobs: [{job_type: batch}]}
        """
    )
    path = write(repo / "blueprints" / "dev.yaml", text)
    result = dpn("fix")
    assert path.read_text(encoding="utf-8") == text
    assert (
        "it would change the name of dbx_job 'dataplatform-batch-Landing-dev' to "
        "'dataplatform-batch-landing-dev'" in result.stderr
    )
    assert result.exit_code == 0  # a warning is left, not an error


def test_an_explicit_name_is_never_touched(repo: Path) -> None:
    text = YAML.replace("layer: raw", "layer: raw\n        nmae: My Bucket")
    path = write(repo / "blueprints" / "dev.yaml", text)
    result = dpn("fix")
    after = path.read_text(encoding="utf-8")
    assert "nmae: My Bucket" in after
    assert "left alone: an explicit `name` is never changed by dpn fix" in result.stderr
    named = YAML.replace("layer: raw", "layer: raw\n        name: My-Bucket")
    write(repo / "blueprints" / "dev.yaml", named)
    dpn("fix")
    assert "name: My-Bucket" in path.read_text(encoding="utf-8")


def test_a_key_is_not_renamed_to_one_its_mapping_has(repo: Path) -> None:
    text = YAML.replace("layer: raw", "layer: raw\n        Layer: gold")
    path = write(repo / "blueprints" / "dev.yaml", text)
    result = dpn("fix")
    assert "Layer: gold" in path.read_text(encoding="utf-8")
    assert "the key 'Layer' cannot become 'layer': the mapping already has 'layer'" in (
        result.stderr
    )


def test_a_value_inside_a_yaml_anchor_an_alias_repeats_is_left_alone(repo: Path) -> None:
    text = dedented(
        """
        version: "1.0"
        metadata: {environment: dev, project: dataplatform, region: us-east-1}
        resources:
          aws:
            s3_buckets:
              - &one {purpose: Land Ing, layer: raw}
              - *one
        """
    )
    path = write(repo / "blueprints" / "dev.yaml", text)
    result = dpn("fix", "--no-context")
    assert path.read_text(encoding="utf-8") == text
    assert "the value is in a YAML anchor that an alias repeats" in result.stderr


def test_a_naming_config_is_fixed_when_no_files_are_named_and_not_when_one_is(
    repo: Path,
) -> None:
    values = dedented(
        """
        version: "1.0"
        defaults:
          project: Data Platform   # shared
        enviroments:
          dev: {team: data}
        """
    )
    config = write(repo / ".dpn" / "naming-values.yaml", values)
    bp = blueprint({"aws": {"s3_buckets": [{"purpose": "landing", "layer": "raw"}]}})
    del bp["metadata"]["project"]
    write(repo / "blueprints" / "dev.json", json.dumps(bp, indent=2))
    only_blueprint = dpn("fix", "blueprints/dev.json")
    assert config.read_text(encoding="utf-8") == values
    assert ".dpn/naming-values.yaml is not among the files being fixed" in only_blueprint.stderr
    assert dpn("fix").exit_code == 0
    assert config.read_text(encoding="utf-8") == values.replace(
        "Data Platform", "data-platform"
    ).replace("enviroments", "environments")


def test_a_file_changed_after_it_was_read_is_not_written(repo: Path) -> None:
    from dpn_action.cli.fixing import LintJob
    from dpn_action.fix import FileChanged, plan_fixes, write_fixes

    path = write(repo / "blueprints" / "dev.yaml", YAML)
    job = LintJob((), None, None, ())
    plan = plan_fixes(job.run, job.tree, job.fixable)
    assert [f.path for f in plan.files] == ["blueprints/dev.yaml"]
    path.write_text(YAML + "# edited meanwhile\n", encoding="utf-8")
    with pytest.raises(FileChanged):
        write_fixes(plan, job.tree)
    assert path.read_text(encoding="utf-8").endswith("# edited meanwhile\n")


def test_a_file_is_replaced_whole_never_written_in_place(repo: Path) -> None:
    """The new content lands by a rename: a reader holding the old file keeps the old
    content (its inode), never a half-written one."""
    path = write(repo / "blueprints" / "dev.yaml", YAML)
    inode = os.stat(path).st_ino
    with path.open(encoding="utf-8") as held:
        assert dpn("fix").exit_code == 0
        assert held.read() == YAML
    assert os.stat(path).st_ino != inode
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_value_that_reads_name_is_an_ordinary_value(repo: Path) -> None:
    path = write(repo / "blueprints" / "dev.yaml", YAML.replace("Curated Zone", "Name"))
    assert dpn("fix").exit_code == 0
    assert "- purpose: name\n" in path.read_text(encoding="utf-8")
