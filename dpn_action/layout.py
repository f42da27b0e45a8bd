"""Which files of a repository are dpn's, and the one glob dialect every face uses.

Blueprints live under `blueprints/` (JSON or YAML, any depth); the two naming configs live in
a `.dpn/` directory, at the repository root or deeper (a blueprint is named with the nearest
one at or above its own directory). The command line's defaults, the GitHub Action's
`blueprints` input, the pre-commit hooks' `files:` and the plain git hook's patterns all come
from here: `.pre-commit-hooks.yaml` and `hooks/pre-commit` are generated from this module
(`python -m dpn_action.layout --write`), and a test fails when they drift.

Globs are matched against paths relative to the repository root, with `/` between parts:
`*` and `?` stay within one directory, `**` spans any number of them (none included),
`{a,b}` is either, `[...]` is a character class. Standard library only.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

CONFIG_DIR = ".dpn"
VALUES_FILE = "naming-values.yaml"
PATTERNS_FILE = "naming-patterns.yaml"
#: blueprints, relative to the repository root
BLUEPRINTS = "blueprints/**/*.{json,yaml,yml}"
#: the naming configs, wherever a `.dpn/` directory is
CONFIGS = "**/.dpn/naming-{values,patterns}.yaml"


def glob_to_regex(pattern: str, *, ere: bool = False) -> str:
    """A glob as a regular expression (unanchored). `ere`: POSIX extended syntax for
    bash's `=~` (plain groups) instead of Python's (non-capturing groups)."""
    group = "(" if ere else "(?:"
    pattern = pattern.strip().removeprefix("./")
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append(f"{group}[^/]*/)*")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == n:
            out.append(f"{group}/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "{" and "}" in pattern[i:]:
            end = pattern.index("}", i)
            alts = pattern[i + 1 : end].split(",")
            out.append(group + "|".join(glob_to_regex(a, ere=ere) for a in alts) + ")")
            i = end + 1
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif ere and c in ".^$|()+?{}*[]\\":
            out.append("\\" + c)
            i += 1
        else:
            out.append(c if ere else re.escape(c))
            i += 1
    return "".join(out)


class Globs:
    """One or more globs (an iterable, or text with one per line; `#` starts a comment
    line); a path matches when any of them does. Empty: the default blueprint glob."""

    def __init__(self, spec: str | Iterable[str] = BLUEPRINTS) -> None:
        items = spec.splitlines() if isinstance(spec, str) else list(spec)
        lines = [g.strip() for g in items if g.strip() and not g.strip().startswith("#")]
        self.patterns = lines or [BLUEPRINTS]
        self._re = re.compile("|".join(f"(?:{glob_to_regex(g)})" for g in self.patterns) + r"\Z")

    def match(self, path: str) -> bool:
        return self._re.match(path.replace("\\", "/").removeprefix("./")) is not None

    def filter(self, paths: Iterable[str]) -> list[str]:
        return sorted(p for p in paths if self.match(p))


_CONFIGS = Globs([CONFIGS])


def is_config(path: str) -> bool:
    """Whether a root-relative path is a naming config (`.../.dpn/naming-*.yaml`)."""
    return _CONFIGS.match(path)


def blueprints_in(paths: Iterable[str], spec: str | Iterable[str] = BLUEPRINTS) -> list[str]:
    """The paths matching the blueprint globs `spec`, naming configs left out (a
    `.dpn/naming-*.yaml` below `blueprints/` is a config, never a blueprint)."""
    return [p for p in Globs(spec).filter(paths) if not is_config(p)]


def config_kind(path: str) -> str | None:
    """ "values" or "patterns" for a file named like a naming config, else None."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return {VALUES_FILE: "values", PATTERNS_FILE: "patterns"}.get(name)


# ------------------------------------------------------------------------ generated files

#: hook id -> the globs of the files it checks
HOOK_FILES = {
    "dpn-lint": (BLUEPRINTS, CONFIGS),
    "dpn-validate-blueprint": (BLUEPRINTS,),
    "dpn-validate-config": (CONFIGS,),
}
#: hook id -> the globs of files it leaves out although `HOOK_FILES` takes them
HOOK_EXCLUDE = {"dpn-validate-blueprint": (CONFIGS,)}


def files_regex(globs: Iterable[str], *, ere: bool = False) -> str:
    """An anchored regular expression matching exactly the paths of `globs`."""
    parts = [glob_to_regex(g, ere=ere) for g in globs]
    inner = parts[0] if len(parts) == 1 else ("(" if ere else "(?:") + "|".join(parts) + ")"
    return f"^{inner}$"


def generated(root: Path) -> dict[Path, str]:
    """What `.pre-commit-hooks.yaml` and `hooks/pre-commit` under `root` hold once their
    file patterns are made from this module (their other lines kept as they are)."""
    manifest = root / ".pre-commit-hooks.yaml"
    text = manifest.read_text(encoding="utf-8")
    for key, table in (("files", HOOK_FILES), ("exclude", HOOK_EXCLUDE)):
        for hook, globs in table.items():
            start = rf"(- id: {re.escape(hook)}\n(?:  .*\n|\n)*?  {key}: ).*\n"
            value = _yaml_str(files_regex(globs))
            text = _replace_once(text, start, value, f"{manifest}: {hook} {key}")
    script = root / "hooks" / "pre-commit"
    shell = script.read_text(encoding="utf-8")
    for name, glob in (("blueprint_re", BLUEPRINTS), ("config_re", CONFIGS)):
        value = "'" + files_regex([glob], ere=True).replace("'", "'\\''") + "'"
        shell = _replace_once(shell, rf"(^{name}=).*\n", value, f"{script}: {name}=")
    return {manifest: text, script: shell}


def _replace_once(text: str, pattern: str, value: str, where: str) -> str:
    """`text` with the one match of `pattern` (group 1: the kept start) ending in `value`."""

    def put(m: re.Match[str]) -> str:
        return f"{m.group(1)}{value}\n"

    out, n = re.compile(pattern, re.M).subn(put, text)
    if n != 1:
        raise ValueError(f"{where}: the line to generate was not found exactly once")
    return out


def _yaml_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def main(argv: list[str] | None = None) -> int:
    """`python -m dpn_action.layout [--write] [ROOT]`: show or write the generated files."""
    args = list(sys.argv[1:] if argv is None else argv)
    write = "--write" in args
    rest = [a for a in args if a != "--write"]
    root = Path(rest[0]) if rest else Path.cwd()
    stale = []
    for path, text in generated(root).items():
        if path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if write:
                path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{path}: {'written' if write else 'differs from dpn_action/layout.py'}")
    return 1 if stale and not write else 0


if __name__ == "__main__":
    sys.exit(main())
