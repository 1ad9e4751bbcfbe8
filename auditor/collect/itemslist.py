"""RedBrick's items list, streamed page by page from ListObjectsV2 (constant memory for millions of keys).

RedBrick AI, "Configuring AWS s3", section "Items Path": items paths are "root-folder/sub-folder/datapoint.dcm", where
root-folder is inside the bucket of the storage method. The file is a JSON array of
``{"name": ..., "items": [path, ...]}`` datapoints.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from typing import Any, TextIO

from auditor.collect.calls import Failed, RepeatedToken, call
from auditor.errors import CollectError


async def write_items_list(s3: Any, bucket: str, prefix: str, out: TextIO, *, group_by: str = "file",
                           extensions: tuple[str, ...] = (), on_page: Callable[[int], None] | None = None) -> int:
    """Write the items list for every object under ``prefix``; return the number of datapoints.

    ``group_by="file"``: one datapoint per object. ``"folder"``: one datapoint per folder (a DICOM
    series), from consecutive keys of that folder in S3's listing order.
    """
    out.write("[")
    written = 0
    group_name: str | None = None
    group_items: list[str] = []

    def emit(name: str, items: list[str]) -> None:
        nonlocal written
        out.write(("\n" if written == 0 else ",\n") + json.dumps({"name": name, "items": items}, ensure_ascii=False))
        written += 1

    token = None
    pages = RepeatedToken("ListObjectsV2", "NextContinuationToken")
    while True:
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1000}
        if token:
            params["ContinuationToken"] = token
        result = await call("ListObjectsV2", s3.list_objects_v2(**params))
        if isinstance(result, Failed):
            raise CollectError(f"s3://{bucket}/{prefix}: {result.error.describe()}")
        resp = result.value
        contents = resp.get("Contents", [])
        for item in contents:
            key = item["Key"]
            if key.endswith("/") or (extensions and not key.lower().endswith(extensions)):
                continue
            if group_by == "folder":
                folder = posixpath.dirname(key)
                if folder != group_name and group_items:
                    emit(group_name or key, group_items)
                    group_items = []
                group_name = folder
                group_items.append(key)
            else:
                emit(key, [key])
        if on_page:
            on_page(len(contents))
        token = resp.get("NextContinuationToken")
        if not resp.get("IsTruncated") or not token:
            break
        repeated = pages.repeated(token)
        if repeated:  # a list that silently stops would onboard part of the data: fail, write nothing
            raise CollectError(f"s3://{bucket}/{prefix}: {repeated.describe()}")
    if group_items:
        emit(group_name or group_items[0], group_items)
    out.write("\n]\n" if written else "]\n")
    return written
