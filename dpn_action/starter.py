"""Starter files written by `dpn plan init` and `dpn config init`."""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

import click

from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.naming.regions import short_region
from dpn_action.schema_files import SCHEMA_BASE, SCHEMA_FILES


def write_new(path: Path, text: str, force: bool) -> None:
    """Write atomically; never overwrite a user's file unless asked to."""
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write `text` (UTF-8 when a string) to `path` through a temporary file renamed over
    it, so `path` is never half written. A new file gets the permissions the user's umask
    gives (the temporary file is created with 0666 and the umask applied, as `open` does);
    a file replaced keeps its own."""
    try:
        keep: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        keep = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        if keep is not None:
            os.chmod(tmp, keep)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------ .gitignore
#: the line `dpn config init` offers: the write-ahead log of `dpn create` (`--wal-dir`'s
#: default) stays on the machine that made it and out of git, at any depth
WAL_IGNORE = ".dpn-wal/"
#: lines that already ignore it
_WAL_IGNORED_BY = frozenset(
    prefix + ".dpn-wal" + suffix for prefix in ("", "/", "**/") for suffix in ("", "/", "/*", "/**")
)


def gitignore_of(directory: Path) -> Path:
    """The `.gitignore` at the root of the git repository `directory` is in; outside a
    repository, the one beside `directory` (the project a `.dpn/` belongs to)."""
    start = Path(os.path.abspath(directory))
    for d in (start, *start.parents):
        if (d / ".git").exists():
            return d / ".gitignore"
    return start.parent / ".gitignore"


def ignores_wal(gitignore: Path) -> bool:
    """Whether `gitignore` has a line that ignores `.dpn-wal/`."""
    try:
        text = gitignore.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return False
    return any(line.strip() in _WAL_IGNORED_BY for line in text.splitlines())


def add_wal_ignore(gitignore: Path) -> bool:
    """Add `WAL_IGNORE` to `gitignore` (created if need be) unless a line already ignores
    it; whether it was added."""
    if ignores_wal(gitignore):
        return False
    try:
        text = gitignore.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        text = ""
    if text and not text.endswith("\n"):
        text += "\n"
    text += "# dpn's write-ahead log: keep it on the machine that made it, out of git\n"
    text += WAL_IGNORE + "\n"
    write_atomic(gitignore, text.encode("utf-8", errors="surrogateescape"))
    return True


def _schema_comment(kind: str) -> str:
    return f"# yaml-language-server: $schema={SCHEMA_BASE}/{SCHEMA_FILES[kind]}\n"


def starter_blueprint(environment: str, project: str, region: str, *, yaml: bool = False) -> str:
    doc = {
        "$schema": f"{SCHEMA_BASE}/{SCHEMA_FILES['blueprint']}",
        "version": "1.0",
        "metadata": {
            "environment": environment,
            "project": project,
            "region": region,
            "team": "data-engineering",
            "cost_center": "CC-0000",
            "data_classification": "internal",
        },
        "resources": {
            "aws": {
                "s3_buckets": [{"purpose": "landing", "layer": "raw", "versioning": True}],
                "glue_databases": [{"domain": "sales", "layer": "bronze"}],
                "glue_tables": [
                    {
                        "database_ref": "sales-bronze",
                        "entity": "orders",
                        "columns": [{"name": "order_id", "type": "bigint"}],
                    }
                ],
            },
            "databricks": {
                "clusters": [
                    {"workload": "etl", "cluster_type": "shared", "node_type": "i3.xlarge"}
                ],
                "jobs": [{"job_type": "batch", "purpose": "load", "cluster_ref": "etl"}],
                "unity_catalog": {
                    "catalogs": [
                        {
                            "catalog_type": "main",
                            "schemas": [
                                {
                                    "domain": "sales",
                                    "layer": "bronze",
                                    "tables": [{"entity": "orders"}],
                                }
                            ],
                        }
                    ]
                },
            },
        },
    }
    if yaml:
        import yaml as pyyaml

        del doc["$schema"]
        return _schema_comment("blueprint") + pyyaml.safe_dump(doc, sort_keys=False)
    return json.dumps(doc, indent=2) + "\n"


def starter_values(project: str, environment: str, region: str) -> str:
    import yaml

    envs = {env: {"environment": env} for env in dict.fromkeys(("dev", "stg", "prd", environment))}
    doc = {
        "version": "1.0",
        "defaults": {"project": project, "region": region, "team": "data-engineering"},
        "environments": envs,
        "resource_types": {},
        "custom": {},
    }
    return (
        _schema_comment("naming-values")
        + "# Precedence, lowest to highest: defaults < environments.<env> <\n"
        + "# resource_types.<type> < blueprint metadata < entry fields < --override\n"
        + yaml.safe_dump(doc, sort_keys=False)
    )


def starter_patterns() -> str:
    import yaml

    regions = (
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-2",
        "eu-central-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
    )
    doc = {
        "version": "1.0",
        "patterns": {k: t.pattern for k, t in CATALOGUE.items()},
        "transformations": {
            "region_mapping": {r: short_region(r) for r in regions},
            "lowercase": ["project", "environment"],
            "hash_generation": {"algorithm": "sha256", "length": 8},
        },
        "validation": {
            "max_length": {},
            "allowed_chars": {},
            "required_variables": {},
            "on_too_long": {},
        },
    }
    return (
        _schema_comment("naming-patterns")
        + "# Rules here can only be stricter than the cloud's own.\n"
        + yaml.safe_dump(doc, sort_keys=False)
    )
