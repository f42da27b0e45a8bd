"""Lambda functions (`aws_lambda_function`).

A function's `code` takes several forms (`lambda_code`); a local archive (`zip_file`) is
read when the function is created and checked again as it is read: a regular file inside
its repository, within Lambda's limit for a direct upload. A function is waited for until
active after its create. A role made a moment ago may not be visible to Lambda yet (IAM is
eventually consistent): the create is retried a bounded number of times (`SETTLING`).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from typing import Any

from dpn_action.providers.aws.api import Api, Client, Kw, New, Target, settings, words
from dpn_action.providers.aws.errors import AwsInputError
from dpn_action.providers.aws.listing import Listing

#: runtime family -> (file suffix, source of a handler that does nothing)
_STUB_CODE = {
    "python": (".py", 'def {function}(event, context):\n    return {{"ok": True}}\n'),
    "nodejs": (".js", "exports.{function} = async () => ({{ ok: true }});\n"),
}


#: a blueprint's `code` keys (snake_case, as in the rest of a blueprint) -> Lambda's own
LAMBDA_CODE_KEYS: dict[str, str] = {
    "s3_bucket": "S3Bucket",
    "s3_key": "S3Key",
    "s3_object_version": "S3ObjectVersion",
    "image_uri": "ImageUri",
    "source_kms_key_arn": "SourceKMSKeyArn",
    "zip_file": "ZipFile",
}


def lambda_code(code: Any, runtime: str, handler: str) -> Kw:
    """Lambda's `Code` for a blueprint's `code`.

    Accepted forms:

    * a mapping with the keys `s3_bucket` + `s3_key` (+ `s3_object_version`), `image_uri`,
      or `zip_file` (the path of a local .zip archive, read when the function is created),
      optionally `source_kms_key_arn`; Lambda's own spelling (`S3Bucket`, `ZipFile`, ...) is
      accepted too, `ZipFile` then being the archive's bytes;
    * a string `s3://bucket/key`: an archive in S3;
    * any other string: the handler module's source text, zipped by dpn;
    * nothing: a generated handler that does nothing, until the real code is deployed
      (Python and Node.js runtimes only).
    """
    if isinstance(code, Mapping):
        return _lambda_code_mapping(code)
    if isinstance(code, str) and code.startswith("s3://"):
        bucket, _, key = code.removeprefix("s3://").partition("/")
        if not bucket or not key:
            raise AwsInputError(f"Lambda code {code!r}: expected s3://bucket/key")
        return {"S3Bucket": bucket, "S3Key": key}
    family = next((f for f in _STUB_CODE if runtime.startswith(f)), None)
    if family is None:
        raise AwsInputError(f"Lambda runtime {runtime} needs `code` (s3://bucket/key)")
    suffix, stub = _STUB_CODE[family]
    module, _, function = handler.rpartition(".")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(module.replace(".", "/") + suffix, code or stub.format(function=function))
    return {"ZipFile": buffer.getvalue()}


def _lambda_code_mapping(code: Mapping[str, Any]) -> Kw:
    own = set(LAMBDA_CODE_KEYS.values())
    out: Kw = {}
    for key, value in code.items():
        param = LAMBDA_CODE_KEYS.get(key, key if key in own else None)
        if param is None:
            accepted = ", ".join(LAMBDA_CODE_KEYS)
            raise AwsInputError(f"Lambda code: unknown key {key!r}; accepted: {accepted}")
        if param in out:
            raise AwsInputError(f"Lambda code: {key!r} is given twice ({param})")
        if key == "zip_file":
            value = _read_zip_file(str(value))
        out[param] = value
    sources = [p for p in ("S3Bucket", "ImageUri", "ZipFile") if p in out]
    if len(sources) != 1:
        raise AwsInputError(
            "Lambda code: give exactly one of s3_bucket (with s3_key), image_uri or zip_file"
        )
    if "S3Bucket" in out and "S3Key" not in out:
        raise AwsInputError("Lambda code: s3_bucket needs s3_key")
    return out


def _read_zip_file(path: str) -> bytes:
    """The archive at `path` (absolute when it comes from a plan), checked again as it is
    read: a regular file inside its repository, within the catalogue's size limit."""
    from dpn_action.inputs import InputRefused, read_bounded
    from dpn_action.naming.catalogue import CATALOGUE

    spec = next(
        f for f in CATALOGUE["aws_lambda_function"].local_files if f.label == "code.zip_file"
    )
    try:
        return read_bounded(path, limit=spec.max_bytes, code="DPN015")
    except InputRefused as exc:
        raise AwsInputError(f"Lambda code: zip_file {path!r} {exc.message}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise AwsInputError(f"Lambda code: cannot read zip_file {path!r}: {reason}") from None


#: Lambda settings: blueprint property -> (`CreateFunction` / `UpdateFunctionConfiguration`
#: parameter, Lambda's default)
_LAMBDA_SETTINGS: dict[str, tuple[str, Any]] = {
    "runtime": ("Runtime", "python3.12"),
    "handler": ("Handler", "index.handler"),
    "memory_size": ("MemorySize", 128),
    "timeout": ("Timeout", 3),
    "description": ("Description", ""),
    "environment_variables": ("Environment", {}),
}


def _lambda_wanted(n: New) -> Kw:
    """The function's settings as the blueprint asks, Lambda's defaults where it is silent,
    in the API's terms (an image brings its own runtime and handler)."""
    out: Kw = {}
    code = n.props.get("code")
    image = isinstance(code, Mapping) and bool({"image_uri", "ImageUri"} & set(code))
    for prop, (_, default) in _LAMBDA_SETTINGS.items():
        if image and prop in ("runtime", "handler"):
            continue
        value = n.props.get(prop) or default
        if prop == "environment_variables":
            value = {str(k): str(v) for k, v in value.items()}
        elif prop in ("memory_size", "timeout"):
            value = int(value)
        out[prop] = value
    return out


def _lambda_params(settings: Kw) -> Kw:
    out = {_LAMBDA_SETTINGS[k][0]: v for k, v in settings.items()}
    if "Environment" in out:
        out["Environment"] = {"Variables": out["Environment"]}
    return out


def _lambda_create(c: Client, n: New) -> Kw:
    wanted = _lambda_wanted(n)
    kw: Kw = {
        "FunctionName": n.name,
        **_lambda_params(wanted),
        "Role": n.need("role_ref").resource_id,
        "Code": lambda_code(
            n.props.get("code"),
            wanted.get("runtime", _LAMBDA_SETTINGS["runtime"][1]),
            wanted.get("handler", _LAMBDA_SETTINGS["handler"][1]),
        ),
        "Tags": n.tags,
    }
    if "ImageUri" in kw["Code"]:
        kw["PackageType"] = "Image"
    return dict(c.create_function(**kw))


def _lambda_current(c: Client, n: New, t: Target, found: Kw) -> Kw:
    config = found["Configuration"]
    out = {prop: config.get(param, default) for prop, (param, default) in _LAMBDA_SETTINGS.items()}
    out["environment_variables"] = (config.get("Environment") or {}).get("Variables", {})
    return out


def _lambda_apply(c: Client, n: New, t: Target, changed: Kw) -> None:
    c.update_function_configuration(FunctionName=t.name, **_lambda_params(changed))


APIS: dict[str, Api] = {
    "aws_lambda_function": Api(
        "lambda",
        properties=words(
            "code runtime handler memory_size timeout description environment_variables"
        ),
        refs=words("role_ref"),
        create=_lambda_create,
        find=lambda c, t: c.get_function(FunctionName=t.name),
        ident=lambda r, t: r["Configuration"]["FunctionArn"],
        tags=lambda c, t, r: dict(c.list_tags(Resource=t.id).get("Tags", {})),
        tag=lambda c, t, tags: c.tag_resource(Resource=t.id, Tags=tags),
        delete=lambda c, t: c.delete_function(FunctionName=t.name),
        created=lambda r, t: r["FunctionArn"],
        ready=("function_active_v2", lambda t: {"FunctionName": t.name}),
        listing=Listing(
            "list_functions",
            "Functions",
            name=lambda f: f["FunctionName"],
            ident=lambda f, t: f["FunctionArn"],
            page_size=("MaxItems", 50),
            token=("NextMarker", "Marker"),
        ),
        settings=settings(
            " ".join(_LAMBDA_SETTINGS),
            _lambda_wanted,
            _lambda_current,
            _lambda_apply,
            settled=("function_updated_v2", lambda t: {"FunctionName": t.name}),
        ),
    ),
}
