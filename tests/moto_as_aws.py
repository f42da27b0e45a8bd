"""moto, made to keep the tags given in a create call where AWS does and moto does not.

AWS's `CreateBucket` takes the new bucket's tags (`CreateBucketConfiguration.Tags`, S3 API
Reference) and `CreateStream` takes the new stream's (`Tags`, Kinesis API Reference); moto
5 ignores both. The provider reads a first create's tags back and tags again wherever they
are missing, so both behaviours are tested: plain moto (the tags are dropped: every create
tags again) and this one (they are kept: only the first create reads them back). The
provisioning benchmark runs its moto server with this patch, as AWS behaves.

`python tests/moto_as_aws.py -H 127.0.0.1 -p PORT` runs moto's server with the patch.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any


def keep_tags_given_at_create() -> Callable[[], None]:
    """Patch moto (this process) to keep create-time bucket and stream tags; returns the
    function that undoes it."""
    import xmltodict
    from moto.kinesis.responses import KinesisResponse
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    made = threading.local()
    create_bucket = S3Backend.create_bucket
    bucket_put = S3Response._bucket_response_put
    create_stream = KinesisResponse.create_stream

    def created_bucket(self: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        bucket = create_bucket(self, bucket_name, *args, **kwargs)
        made.bucket = bucket_name  # new, not an existing one answered again (us-east-1)
        return bucket

    def put_bucket(self: Any, request: Any, bucket_name: str, querystring: Any) -> Any:
        made.bucket = None
        answer = bucket_put(self, request, bucket_name, querystring)
        if getattr(made, "bucket", None) == bucket_name and not querystring and self.body:
            conf = xmltodict.parse(self.body, force_list={"Tag": True}).get(
                "CreateBucketConfiguration"
            )
            tags = ((conf or {}).get("Tags") or {}).get("Tag") or []
            if tags:
                self.backend.put_bucket_tagging(
                    bucket_name, {t["Key"]: t.get("Value") or "" for t in tags}
                )
        return answer

    def created_stream(self: Any) -> Any:
        answer = create_stream(self)
        tags = self._get_param("Tags")
        if tags:
            name = self._get_param("StreamName")
            self.kinesis_backend.add_tags_to_stream(None, name, tags)
        return answer

    S3Backend.create_bucket = created_bucket  # type: ignore[method-assign]
    S3Response._bucket_response_put = put_bucket  # type: ignore[method-assign]
    KinesisResponse.create_stream = created_stream  # type: ignore[method-assign]

    def undo() -> None:
        S3Backend.create_bucket = create_bucket  # type: ignore[method-assign]
        S3Response._bucket_response_put = bucket_put  # type: ignore[method-assign]
        KinesisResponse.create_stream = create_stream  # type: ignore[method-assign]

    return undo


if __name__ == "__main__":
    from moto.server import main

    keep_tags_given_at_create()
    main(sys.argv[1:])
