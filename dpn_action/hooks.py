"""Entry points of the pre-commit hooks (`.pre-commit-hooks.yaml`).

Each hook is `main(argv) -> int` over a `dpn` command: the hook's arguments (from the user's
`args:`) come first, then the file names pre-commit passes. Nothing here checks anything; the
commands do. What the hooks add is a promise about the process: an exit code is returned,
never raised, and no traceback reaches the person committing.

Only click and the command line module are imported here; the commands import what they need.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

#: The command name shown in usage errors, so the message names a command people can run.
PROG = "dpn"


def _run(command: Sequence[str], args: Sequence[str]) -> int:
    """Run `dpn COMMAND ARGS` in this process and return its exit code."""
    try:
        from dpn_action.cli import main

        rv = main.main([*command, *args], prog_name=PROG, standalone_mode=False)
    except SystemExit as exc:
        return _exit_code(exc.code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("dpn: aborted", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("dpn: interrupted", err=True)
        return 130
    except Exception as exc:  # a bug in dpn: one clear line instead of a traceback
        click.echo(
            f"dpn: internal error ({type(exc).__name__}: {exc}); "
            f"run `dpn {' '.join(command)}` by hand for details and please report it",
            err=True,
        )
        return 1
    # A command that returns instead of exiting succeeded; `--help` and `--version` end here.
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    click.echo(str(code), err=True)
    return 1


def _argv(argv: Sequence[str] | None) -> list[str]:
    return list(sys.argv[1:] if argv is None else argv)


def lint_main(argv: Sequence[str] | None = None) -> int:
    """Hook `dpn-lint`: `dpn lint [ARGS] FILES`.

    Blueprints among FILES are checked against the naming patterns and the cloud's rules, and
    for uniqueness against every blueprint under `blueprints/`; a naming config among FILES
    re-lints every blueprint of the repository.
    """
    return _run(["lint"], _argv(argv))


def validate_blueprint_main(argv: Sequence[str] | None = None) -> int:
    """Hook `dpn-validate-blueprint`: `dpn plan validate [ARGS] FILES` (structure only)."""
    return _run(["plan", "validate"], _argv(argv))


def validate_config_main(argv: Sequence[str] | None = None) -> int:
    """Hook `dpn-validate-config`: `dpn config validate [ARGS]` on the configs among FILES.

    `dpn config validate` takes no file arguments, so each file pre-commit passes is handed
    over by its name: `naming-values.yaml` as `--values-config`, `naming-patterns.yaml` as
    `--patterns-config` (the one not passed is discovered as usual). A flag in ARGS wins over
    a file, as it does for `dpn lint`.
    """
    from dpn_action.layout import PATTERNS_FILE, VALUES_FILE

    options, files = _split_files(_argv(argv))
    flag_of = {VALUES_FILE: "--values-config", PATTERNS_FILE: "--patterns-config"}
    given: dict[str, str] = {}
    for path in files:
        flag = flag_of.get(path.replace("\\", "/").rsplit("/", 1)[-1])
        if flag is None:
            click.echo(
                f"dpn-validate-config: {path}: not a naming config; the hook checks files "
                f"named {VALUES_FILE} and {PATTERNS_FILE} (or pass --values-config / "
                "--patterns-config in args)",
                err=True,
            )
            return 2
        given.setdefault(flag, path)
    extra: list[str] = []
    for flag, path in given.items():
        if not any(o == flag or o.startswith(flag + "=") for o in options):
            extra += [flag, path]
    return _run(["config", "validate"], [*options, *extra])


#: Options of the hooks' commands that take a value (the next word is not a file).
_VALUED = frozenset({"--values-config", "--patterns-config", "--override", "--format", "--context"})


def _split_files(args: list[str]) -> tuple[list[str], list[str]]:
    """Split `[ARGS] FILES` into options and file names (`--` ends the options)."""
    options: list[str] = []
    files: list[str] = []
    it = iter(args)
    for word in it:
        if word == "--":
            files.extend(it)
        elif word.startswith("-") and word != "-":
            options.append(word)
            if word in _VALUED:
                value = next(it, None)
                if value is not None:
                    options.append(value)
        else:
            files.append(word)
    return options, files
