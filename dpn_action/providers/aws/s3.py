"""S3 buckets (`aws_s3_bucket`).

A bucket is made in the region its `region` property names (the configured region
otherwise), with dpn's marks as tags in `CreateBucket`. Some endpoints drop create-time tags
(AWS keeps them, moto does not): the first create reads its tags back, and where they are
missing every bucket is tagged again right after its create, so a create killed between the
two calls leaves a bucket without marks (`late_marked_types`). `CreateBucket` in us-east-1
answers a create of a name one already owns with success, so `create` reads first.
Versioning, dpn's lifecycle rule and default encryption are set after the create, by the
same code `dpn update` uses.

Deleting a bucket. `delete` empties a bucket (every object version and delete marker) only
when the bucket, as it is now, is tagged `managed-by: dpn` with the same transaction id as
the state being deleted. A bucket that is not provably dpn's is never emptied: deleting it
fails with S3's `BucketNotEmpty` when it holds data.
"""

from __future__ import annotations

from dpn_action.providers.aws.api import (
    Api,
    Client,
    Kw,
    New,
    Tags,
    Target,
    from_kv,
    kv,
    settings,
    words,
)
from dpn_action.providers.aws.errors import error_code
from dpn_action.providers.aws.listing import Listing
from dpn_action.providers.base import MANAGED_BY_KEY, MANAGED_BY_VALUE, TXN_TAG_KEY, ResourceState


def _s3_create(c: Client, n: New) -> Kw:
    conf: Kw = {"Tags": kv(n.tags)}
    if n.region != "us-east-1":
        conf["LocationConstraint"] = n.region
    kw: Kw = {"Bucket": n.name, "CreateBucketConfiguration": conf}
    if n.props.get("object_lock"):
        kw["ObjectLockEnabledForBucket"] = True
    return dict(c.create_bucket(**kw))


def _s3_find(c: Client, t: Target) -> Kw:
    try:
        return dict(c.head_bucket(Bucket=t.name))
    except Exception as exc:
        if error_code(exc) == "403":  # exists, owned by someone else
            return {"foreign": True}
        raise


def _s3_tags(c: Client, t: Target, found: Kw) -> Tags:
    if found.get("foreign"):
        return {}
    try:
        return from_kv(c.get_bucket_tagging(Bucket=t.name).get("TagSet"))
    except Exception as exc:
        if error_code(exc) == "NoSuchTagSet":
            return {}
        raise


#: the id of the lifecycle rule dpn writes (other rules of a bucket are left alone)
LIFECYCLE_RULE = "dpn-expiry"
#: a new bucket's settings in `_s3_wanted`'s terms (S3 encrypts with SSE-S3 by default)
_S3_FRESH: Kw = {"versioning": "Suspended", "lifecycle_days": None, "encryption": "AES256"}


def _s3_wanted(n: New) -> Kw:
    p = n.props
    versioned = "versioning" not in p or bool(p["versioning"]) or bool(p.get("object_lock"))
    encryption = str(p.get("encryption") or "AES256")
    return {
        "versioning": "Enabled" if versioned else "Suspended",
        "lifecycle_days": int(p["lifecycle_days"]) if p.get("lifecycle_days") else None,
        "encryption": "aws:kms" if encryption.lower() == "kms" else encryption,
    }


def _s3_rules(c: Client, t: Target) -> list[Kw]:
    try:
        return list(c.get_bucket_lifecycle_configuration(Bucket=t.name)["Rules"])
    except Exception as exc:
        if error_code(exc) == "NoSuchLifecycleConfiguration":
            return []
        raise


def _s3_current(c: Client, n: New, t: Target, _: Kw) -> Kw:
    ours = next((r for r in _s3_rules(c, t) if r.get("ID") == LIFECYCLE_RULE), None)
    try:
        rules = c.get_bucket_encryption(Bucket=t.name)["ServerSideEncryptionConfiguration"]
        encryption = rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    except Exception as exc:
        if error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        encryption = "AES256"
    return {
        "versioning": c.get_bucket_versioning(Bucket=t.name).get("Status") or "Suspended",
        "lifecycle_days": ours["Expiration"]["Days"] if ours else None,
        "encryption": encryption,
    }


def _s3_apply(c: Client, n: New, t: Target, changed: Kw, rules: list[Kw] | None = None) -> None:
    """`rules`: the bucket's lifecycle rules when known (none on a new bucket), else read."""
    if "versioning" in changed:
        c.put_bucket_versioning(
            Bucket=t.name, VersioningConfiguration={"Status": changed["versioning"]}
        )
    if "lifecycle_days" in changed:
        days = changed["lifecycle_days"]
        rules = _s3_rules(c, t) if rules is None else rules
        rules = [r for r in rules if r.get("ID") != LIFECYCLE_RULE]
        if days:
            rules.append(
                {
                    "ID": LIFECYCLE_RULE,
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Expiration": {"Days": days},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": days},
                }
            )
        if rules:
            c.put_bucket_lifecycle_configuration(
                Bucket=t.name, LifecycleConfiguration={"Rules": rules}
            )
        else:
            c.delete_bucket_lifecycle(Bucket=t.name)
    if "encryption" in changed:
        by_default = {"SSEAlgorithm": changed["encryption"]}
        c.put_bucket_encryption(
            Bucket=t.name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": by_default}]
            },
        )


def _s3_configure(c: Client, n: New, t: Target) -> None:
    wanted = _s3_wanted(n)
    _s3_apply(c, n, t, {k: v for k, v in wanted.items() if v != _S3_FRESH[k]}, rules=[])


def _s3_empty_if_ours(c: Client, t: Target, state: ResourceState) -> None:
    live, txn = _s3_tags(c, t, {}), state.transaction_id
    if txn is None or live.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE or live.get(TXN_TAG_KEY) != txn:
        return  # not provably ours: its data is never touched
    for page in c.get_paginator("list_object_versions").paginate(Bucket=t.name):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if doomed:
            c.delete_objects(Bucket=t.name, Delete={"Objects": doomed, "Quiet": True})


APIS: dict[str, Api] = {
    "aws_s3_bucket": Api(
        "s3",
        properties=words("versioning lifecycle_days encryption object_lock region"),
        create=_s3_create,
        find=_s3_find,
        ident=lambda r, t: t.name,
        tags=_s3_tags,
        tag=lambda c, t, tags: c.put_bucket_tagging(Bucket=t.name, Tagging={"TagSet": kv(tags)}),
        delete=lambda c, t: c.delete_bucket(Bucket=t.name),
        created=lambda r, t: t.name,
        # CreateBucket answers a bucket of ours with success in us-east-1 only
        exclusive=lambda n: n.region != "us-east-1",
        whole_tag_set=True,
        retag=True,
        configure=_s3_configure,
        clear=_s3_empty_if_ours,
        listing=Listing(
            "list_buckets",
            "Buckets",
            name=lambda b: b["Name"],
            ident=lambda b, t: t.name,
            page_size=("MaxBuckets", 10000),
            prefix="Prefix",
            token=("ContinuationToken", "ContinuationToken"),
            decides=False,  # bucket names are global: the listing holds this account's only
        ),
        settings=settings(
            "versioning lifecycle_days encryption", _s3_wanted, _s3_current, _s3_apply
        ),
    ),
}
