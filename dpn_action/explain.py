"""`dpn explain`: how each name was built, value by value, rule by rule."""

from __future__ import annotations

from pathlib import Path

import click

from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.naming.config import NamingConfig
from dpn_action.naming.engine import NameResult, Sourced, make_name


def _print_result(title: str, res: NameResult) -> None:
    click.echo(title)
    for step in res.trace or []:
        src = f"   <- {step.source}" if step.source else ""
        click.echo(f"  {step.kind:<10} {step.text}{src}")
    for issue in res.issues:
        click.echo(f"  {issue.code:<10} {issue.message}")
    click.echo(f"  {'name':<10} {res.name if res.name is not None else '(none)'}")


def explain_values(cfg: NamingConfig, type_key: str, values: dict[str, str]) -> bool:
    """Explain one hypothetical entry: config values plus KEY=VALUE pairs."""
    t = CATALOGUE[type_key]
    vals: dict[str, Sourced] = {
        k: Sourced(v, f"built-in default for {t.key}") for k, v in t.defaults.items()
    }
    for layer, label in (
        (cfg.defaults, "defaults"),
        (cfg.custom, "custom"),
        (cfg.resource_types.get(t.key, {}), f"resource_types.{t.key}"),
    ):
        for k, v in layer.items():
            vals[k] = Sourced(v, f"{cfg.values_path} {label}")
    for k, v in values.items():
        vals[k] = Sourced(v, "--set")
    for k, v in cfg.overrides.items():
        vals[k] = Sourced(v, "--override")
    res = make_name(t, vals, cfg, trace=True)
    _print_result(f"{t.key} ({t.title}): pattern {cfg.pattern(t.key)}", res)
    return res.name is not None and not any(i.is_error for i in res.issues)


def explain_blueprint(cfg: NamingConfig, type_key: str, path: Path) -> bool:
    from dpn_action.analysis import analyse
    from dpn_action.formatters import format_findings

    result = analyse(cfg, [path], trace_type=type_key, display_root=Path.cwd())
    entries = [r for r in result.resources if r.type.key == type_key]
    if not entries:
        click.echo(f"{path} has no {type_key} entries in scope")
    for r in entries:
        line, col = r.blueprint.doc.position(r.pointer)
        assert r.result is not None
        _print_result(
            f"{r.blueprint.doc.path}:{line}:{col} {r.pointer}  pattern {cfg.pattern(type_key)}",
            r.result,
        )
        click.echo()
    others = [f for f in result.findings if f.is_error]
    if others:
        click.echo(format_findings(others, "text", tool_version="").rstrip(), err=True)
    return not others
