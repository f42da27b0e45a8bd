"""`dpn lint FILE` takes the names of the blueprints it only compares against from a cache
(`dpn_action.namecache`): a clash with an unchanged blueprint is still found, and nothing
that changed since (the blueprint, a naming config, an override, dpn itself) is ever
answered from it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import dpn, write, write_files

import dpn_action.analysis
import dpn_action.namecache
from dpn_action.namecache import NameCache, default_directory

PATTERNS = """\
version: "1.0"
patterns:
  aws_s3_bucket: "{project}-{purpose}-{layer}-{environment}"
"""
VALUES = """\
version: "1.0"
defaults:
  project: acme
"""


def blueprint(*purposes: str, env: str = "dev") -> str:
    buckets = [{"purpose": p, "layer": "raw"} for p in purposes]
    doc = {
        "version": "1.0",
        "metadata": {"environment": env, "region": "us-east-1"},
        "resources": {"aws": {"s3_buckets": buckets}},
    }
    return json.dumps(doc, indent=2) + "\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository: a.json is changed (and linted), b.json and c.json are not."""
    root = write_files(
        tmp_path / "repo",
        {
            ".dpn/naming-patterns.yaml": PATTERNS,
            ".dpn/naming-values.yaml": VALUES,
            "blueprints/a.json": blueprint("landing", "shared"),
            "blueprints/b.json": blueprint("lake", "shared"),
            "blueprints/c.json": blueprint("archive"),
        },
    )
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return root


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The blueprints read and named in full (not taken from the cache), as they are."""
    seen: list[str] = []
    real = dpn_action.analysis.load_blueprint

    def spy(source: Any, **kw: Any) -> Any:
        seen.append(source.rel)
        return real(source, **kw)

    monkeypatch.setattr(dpn_action.analysis, "load_blueprint", spy)
    return seen


def lint(*args: str) -> tuple[int, str]:
    result = dpn("lint", "--format", "text", *args)
    return result.exit_code, result.stdout


def clashes(output: str) -> list[str]:
    return [line for line in output.splitlines() if " DPN130 " in line]


def cache_files(home: Path) -> list[Path]:
    return sorted((home / ".cache" / "dpn").glob("names-*.json"))


def test_a_clash_with_an_unchanged_blueprint_is_found_from_the_cache(
    repo: Path, home: Path, loaded: list[str]
) -> None:
    first = lint("blueprints/a.json")
    assert loaded == ["blueprints/a.json", "blueprints/b.json", "blueprints/c.json"]
    assert len(cache_files(home)) == 1
    loaded.clear()
    again = lint("blueprints/a.json")
    assert loaded == ["blueprints/a.json"]  # b and c come from the cache
    assert again == first
    [line] = clashes(again[1])
    assert line.startswith("blueprints/a.json:")
    assert "'acme-shared-raw-dev' is also used at blueprints/b.json:14:9" in line


def test_a_clash_is_told_where_it_is_in_the_cached_blueprint(repo: Path, loaded: list[str]) -> None:
    """The line and column come from the cached blueprint's bytes, read when needed."""
    write(repo / "blueprints/b.json", "\n\n\n" + blueprint("x", "y", "shared"))
    lint("blueprints/a.json")
    loaded.clear()
    code, out = lint("blueprints/a.json")
    assert loaded == ["blueprints/a.json"]
    assert code == 1
    assert "is also used at blueprints/b.json:21:9" in clashes(out)[0]


def test_a_blueprint_changed_since_is_named_afresh(repo: Path, loaded: list[str]) -> None:
    assert clashes(lint("blueprints/a.json")[1]) != []
    # c.json now clashes with a.json: same size, same modification time, other bytes
    c = repo / "blueprints/c.json"
    before = c.stat()
    changed = blueprint("landing")
    assert len(changed) == len(c.read_text())
    c.write_text(changed)
    os.utime(c, ns=(before.st_atime_ns, before.st_mtime_ns))
    loaded.clear()
    code, out = lint("blueprints/a.json")
    assert loaded == ["blueprints/a.json", "blueprints/c.json"]
    assert code == 1
    assert any("is also used at blueprints/c.json" in line for line in clashes(out))


def test_a_changed_naming_config_names_every_blueprint_afresh(
    repo: Path, loaded: list[str]
) -> None:
    write(repo / "blueprints/b.json", blueprint("lake"))
    write(repo / "blueprints/a.json", blueprint("landing"))
    assert lint("blueprints/a.json") == (0, "no problems found\n")
    # without {purpose}, a's and b's buckets get the same name
    write(repo / ".dpn/naming-patterns.yaml", PATTERNS.replace("{purpose}-", ""))
    loaded.clear()
    code, out = lint("blueprints/a.json")
    assert loaded == ["blueprints/a.json", "blueprints/b.json", "blueprints/c.json"]
    assert code == 1
    assert "'acme-raw-dev' is also used at blueprints/b.json" in out


def test_an_override_is_part_of_the_key(repo: Path, loaded: list[str]) -> None:
    write(repo / "blueprints/b.json", blueprint("lake", env="prd"))
    write(repo / "blueprints/a.json", blueprint("lake"))
    assert lint("blueprints/a.json")[0] == 0
    loaded.clear()
    code, out = lint("--override", "environment=prd", "blueprints/a.json")
    assert "blueprints/b.json" in loaded
    assert code == 1
    assert "'acme-lake-raw-prd' is also used at blueprints/b.json" in out


def test_another_dpn_does_not_read_this_ones_entries(
    repo: Path, loaded: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lint("blueprints/a.json")
    monkeypatch.setattr(dpn_action.namecache, "_code_digest", "0" * 64)
    loaded.clear()
    lint("blueprints/a.json")
    assert loaded == ["blueprints/a.json", "blueprints/b.json", "blueprints/c.json"]


@pytest.mark.parametrize(
    "damage",
    [
        "not json",
        '{"format": 999, "code": "", "entries": {}}',
        "truncated",
        "claims of the wrong shape",
    ],
)
def test_a_damaged_cache_is_ignored_as_a_whole(
    repo: Path, home: Path, loaded: list[str], damage: str
) -> None:
    first = lint("blueprints/a.json")
    [path] = cache_files(home)
    text = path.read_text()
    if damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "claims of the wrong shape":
        doc = json.loads(text)
        for claims in doc["entries"].values():
            claims.append(["aws_s3_bucket", "", "only three"])
        path.write_text(json.dumps(doc))
    else:
        path.write_text(damage)
    loaded.clear()
    assert lint("blueprints/a.json") == first
    assert loaded == ["blueprints/a.json", "blueprints/b.json", "blueprints/c.json"]
    json.loads(path.read_text())  # written again, whole


def test_a_blueprint_that_cannot_be_read_is_not_cached(
    repo: Path, home: Path, loaded: list[str]
) -> None:
    (repo / "blueprints/c.json").unlink()
    (repo / "blueprints/c.json").symlink_to("/etc/hostname")
    first = lint("blueprints/a.json")
    loaded.clear()
    assert lint("blueprints/a.json") == first
    assert "blueprints/c.json" in loaded
    entries = json.loads(cache_files(home)[0].read_text())["entries"]
    assert len(entries) == 1  # b.json's


def test_no_cache_and_an_empty_cache_dir_write_nothing(
    repo: Path, home: Path, loaded: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = lint("--no-cache", "blueprints/a.json")
    assert cache_files(home) == []
    monkeypatch.setenv("DPN_CACHE_DIR", "")
    assert default_directory() is None
    assert lint("blueprints/a.json") == first
    assert cache_files(home) == []
    elsewhere = repo.parent / "cache"
    monkeypatch.setenv("DPN_CACHE_DIR", str(elsewhere))
    assert lint("blueprints/a.json") == first
    assert len(list(elsewhere.glob("names-*.json"))) == 1


def test_a_cache_that_cannot_be_written_changes_nothing(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = lint("--no-cache", "blueprints/a.json")
    blocker = repo.parent / "file"
    blocker.write_text("a file where the cache directory would be")
    monkeypatch.setenv("DPN_CACHE_DIR", str(blocker / "dpn"))
    assert lint("blueprints/a.json") == first


def test_fix_never_reads_the_cache(repo: Path, home: Path, loaded: list[str]) -> None:
    lint("blueprints/a.json")
    loaded.clear()
    dpn("fix", "--dry-run", "blueprints/a.json")
    assert "blueprints/b.json" in loaded


def test_entries_no_run_uses_are_dropped_in_time(tmp_path: Path) -> None:
    """Each save keeps what the run used and, while they are not too many, the others."""
    from dpn_action.naming.config import NamingConfig

    cfg = NamingConfig()
    cache = NameCache(tmp_path, tmp_path / "repo")
    for n in range(10):
        key = cache.key("b.json", str(n).encode(), cfg)
        assert cache.get(key) is None
        cache.put(key, [("aws_s3_bucket", "", f"name{n}", "/resources/aws/s3_buckets/0")])
    cache.save()
    second = NameCache(tmp_path, tmp_path / "repo")
    key = second.key("b.json", b"0", cfg)
    assert second.get(key) == [("aws_s3_bucket", "", "name0", "/resources/aws/s3_buckets/0")]
    second.put(second.key("b.json", b"new", cfg), [])
    second.save()
    assert cache.path is not None
    stored = json.loads(cache.path.read_text())["entries"]
    assert len(stored) == 2  # 11 entries, 2 used: more than 4 per used one
    assert key in stored


def test_the_key_covers_the_bytes_the_suffix_and_the_configs(tmp_path: Path) -> None:
    from dpn_action.naming.config import NamingConfig

    cache = NameCache(tmp_path, tmp_path)
    plain, overridden = NamingConfig(), NamingConfig(overrides={"project": "x"})
    k = cache.key("a.json", b"{}", plain)
    assert k == cache.key("a.json", b"{}", plain)
    assert k == cache.key("other/b.JSON", b"{}", plain)  # where the file is does not matter
    assert k != cache.key("a.yaml", b"{}", plain)
    assert k != cache.key("a.json", b"{} ", plain)
    assert k != cache.key("a.json", b"{}", overridden)


def test_no_home_directory_means_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    def nowhere() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", nowhere)
    assert default_directory() is None
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert default_directory() == Path("/somewhere/dpn")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # not absolute: ignored, as XDG says
    assert default_directory() is None


def test_a_naming_command_leaves_the_garbage_collector_as_it_was(repo: Path) -> None:
    import gc

    assert gc.isenabled()
    lint("blueprints/a.json")
    assert gc.isenabled()
    gc.disable()
    try:
        lint("blueprints/a.json")
        assert not gc.isenabled()
    finally:
        gc.enable()
