"""What the Databricks service modules share about databricks-sdk: the clients they are given,
the SDK's objects built from a blueprint's JSON, and the SDK's errors read.

Nothing here imports `databricks.sdk` when the module is imported (about 3 s); the SDK's
types are imported for annotations only, and its modules inside the functions that need them.

Retries are the SDK's own: it retries 429 and 503 honouring `Retry-After`, and connection
failures, within `retry_timeout_seconds`. It does not retry other 5xx answers to a create,
which is right: such a create may have happened, and the transaction resolves it by reading.
A create the SDK re-sent after a dropped connection can exist twice for types whose names
the cloud does not keep unique (clusters, jobs, ...); `create` removes such a duplicate of its
own transaction.
"""

from __future__ import annotations

import base64
import dataclasses
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from databricks.sdk import AccountClient, WorkspaceClient

#: SDK arguments (or fields) in the SDK's JSON form: parameter -> value
Kw = dict[str, Any]

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


class Context(Protocol):
    """What a service module's code is given by the provider: its clients and settings."""

    @property
    def workspace_client(self) -> WorkspaceClient: ...

    @property
    def account_client(self) -> AccountClient: ...

    @property
    def warehouse_id(self) -> str | None:
        """The SQL warehouse that runs the statements creating managed tables."""
        ...

    @property
    def repos_folder(self) -> str:
        """The folder under `/Repos/` a repo named without a path goes to."""
        ...

    @property
    def marker_root(self) -> str:
        """The workspace folder that holds repo sidecars."""
        ...


# --------------------------------------------------------------------------- SDK objects


def build(cls: type[T], value: object) -> T:
    """`value` in the SDK's JSON form (what `as_dict` gives) as the SDK type `cls`: an enum
    by its value, a dataclass through its `from_dict`. A value already of that type is
    returned as it is."""
    if isinstance(value, cls):
        return value
    if issubclass(cls, Enum):
        return cast(T, cls(value))
    from_dict = getattr(cls, "from_dict", None)
    if from_dict is None or not isinstance(value, dict):
        raise TypeError(f"a {type(value).__name__} is not a {cls.__name__}")
    return cast(T, from_dict(value))


def refuse_unknown_keys(what: str, key: str, hint: Any, value: object) -> None:
    """Refuse `value`, the JSON form of the argument `key` whose SDK type is `hint` (a
    dataclass, optional, or a list of them), when it has a key the dataclass has no field
    for: the SDK's `from_dict` would drop that setting without a word."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if len(args) == 1 and type(None) in typing.get_args(hint):  # Optional[X]
        refuse_unknown_keys(what, key, args[0], value)
    elif typing.get_origin(hint) is list and args and isinstance(value, list):
        for item in value:
            refuse_unknown_keys(what, key, args[0], item)
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        fields = {f.name for f in dataclasses.fields(hint)}
        unknown = sorted(str(k) for k in value if k not in fields)
        if unknown:
            raise TypeError(
                f"{what}: `{key}` has {', '.join(map(repr, unknown))}, which the SDK's "
                f"{hint.__name__} does not take (it takes {', '.join(sorted(fields))})"
            )


def first_answer(wait: object, cls: type[T]) -> T:
    """The answer to the request of a long-running call (a `Wait`), which the SDK keeps in
    its `response` without a type: `cls` says which."""
    return build(cls, getattr(wait, "response", None))


def number_text(value: object) -> str | None:
    """A number given where the SDK wants text (`"64"` for 64); None for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def enum_value(value: Any) -> Any:
    """An enum's value; anything else as it is."""
    return value.value if isinstance(value, Enum) else value


class Args:
    """The arguments of one SDK call in the SDK's JSON form (what dpn builds from a
    blueprint), read out as the types the SDK method takes.

    `send` makes the call, and only when every argument was read, so an argument the call
    does not pass is an error rather than a setting silently dropped:

        a = Args("dbx_cluster", kw)
        a.send(w.clusters.create, spark_version=a.required("spark_version"), ...)

    `send` passes its keyword arguments through unchanged, so mypy checks them against the
    SDK method's own signature.
    """

    def __init__(self, what: str, values: Mapping[str, Any]) -> None:
        self._what = what
        self._values = dict(values)
        self._read: set[str] = set()

    def _take(self, key: str) -> Any:
        self._read.add(key)
        return self._values.get(key)

    def _wrong(self, key: str, value: object, wanted: str) -> TypeError:
        return TypeError(f"{self._what}: `{key}` must be {wanted}, not {value!r}")

    def text(self, key: str) -> str | None:
        value = self._take(key)
        if value is None or isinstance(value, str):
            return value
        text = number_text(value)
        if text is None:
            raise self._wrong(key, value, "text")
        return text

    def required(self, key: str) -> str:
        """A text argument the SDK method cannot do without."""
        return present(self.text(key), f"{self._what}: `{key}`")

    def number(self, key: str) -> int | None:
        value = self._take(key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise self._wrong(key, value, "a whole number")

    def flag(self, key: str) -> bool | None:
        value = self._take(key)
        if value is None or isinstance(value, bool):
            return value
        raise self._wrong(key, value, "true or false")

    def strings(self, key: str) -> dict[str, str] | None:
        """A map of text to text (tags, `spark_conf`, a pipeline's `configuration`)."""
        value = self._take(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self._wrong(key, value, "a map of text")
        out: dict[str, str] = {}
        for k, v in value.items():
            text = v if isinstance(v, str) else number_text(v)
            if text is None:
                raise self._wrong(key, value, "a map of text")
            out[str(k)] = text
        return out

    def sdk(self, key: str, cls: type[T]) -> T | None:
        """An SDK object (a dataclass or an enum) from its JSON form."""
        value = self._take(key)
        if value is None:
            return None
        refuse_unknown_keys(self._what, key, cls, value)
        return build(cls, value)

    def sdk_list(self, key: str, cls: type[T]) -> list[T] | None:
        value = self._take(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._wrong(key, value, "a list")
        for v in value:
            refuse_unknown_keys(self._what, key, cls, v)
        return [build(cls, v) for v in value]

    def send(self, method: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call `method` with these arguments, once every argument given was read."""
        left = sorted(set(self._values) - self._read)
        if left:
            raise TypeError(f"{self._what}: not sent to the SDK: {', '.join(left)}")
        return method(*args, **kwargs)


def present(value: T | None, what: str) -> T:
    """A value an SDK method cannot do without."""
    if value is None:
        raise ValueError(f"{what} is required")
    return value


def replaced(obj: T, fields: Mapping[str, Any]) -> T:
    """An SDK object with `fields` (JSON form) replaced; a field set to None is left out."""
    merged = {**cast(Any, obj).as_dict(), **fields}
    return build(type(obj), {k: v for k, v in merged.items() if v is not None})


# --------------------------------------------------------------------------- text


def b64decode(text: str) -> str:
    return base64.b64decode(text).decode("utf-8", errors="replace")


def b64encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --------------------------------------------------------------------------- errors


class AlreadyExists(Exception):
    """A create was refused because the name is taken (raised where the SDK has no error)."""


def gone(exc: BaseException) -> bool:
    """The SDK error says the resource does not exist."""
    from databricks.sdk import errors

    if isinstance(exc, errors.NotFound):
        # an unknown endpoint is not a missing resource
        return getattr(exc, "error_code", None) != "ENDPOINT_NOT_FOUND"
    # the clusters and jobs APIs answer 400 INVALID_PARAMETER_VALUE "... does not exist"
    return isinstance(exc, errors.BadRequest) and "does not exist" in str(exc)


def taken(exc: BaseException) -> bool:
    """The SDK error says the name is already taken."""
    from databricks.sdk import errors

    if isinstance(exc, AlreadyExists):
        return True
    return isinstance(exc, errors.ResourceConflict) and not isinstance(exc, errors.Aborted)


def refused(exc: BaseException) -> bool:
    """The SDK error says the request was refused, so nothing was created."""
    from databricks.sdk import errors

    return isinstance(exc, errors.BadRequest | errors.PermissionDenied | errors.Unauthenticated)
