"""Object-level probes on a bucket's sample: HeadObject, bounded ranged reads, COCO files, MIRAX folders.

Only buckets that a vendor integration uses are probed, and only what that vendor's rules need:
- every integration: HeadObject on the sampled objects (encryption and its KMS key);
- rules with EXIF/MP4 checks (Datature): the first 64 KiB of sampled images in the rule's zone
  (EXIF orientation), MP4 box headers and ``moov``;
- rules with layout/COCO checks (Tenyks): the zone's ``files`` (``annotations``, ``predictions``;
  whole, up to a size limit) and the listing of the zone's folder;
- rules with MIRAX checks (V7): the companion folder of each ``.mrxs`` slide.
Never a whole large object. Every refused call is recorded on the object or the bucket.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import struct
from typing import Any

from auditor.collect.calls import Answer, Failed, Limiter, RepeatedToken, call
from auditor.collect.session import AccountSession
from auditor.config import ScanSettings
from auditor.model import ApiError, BucketState, Integration, Listing, ObjectState
from auditor.probe import coco, exif, mp4
from auditor.profile import Zone

READS = ("s3:GetObject",)

# With content reads off (--no-content, [scan] content = false) nothing is read from an object; the
# reads that would have been made are recorded as not made, so the rules that need them are unknown.
NOT_READ = "NotRead"
_OFF = "content reads are off (--no-content or [scan] content = false)"


def _not_read(api: str) -> ApiError:
    return ApiError(api, NOT_READ, _OFF)

COCO_MAX_BYTES = 64 * 1024 * 1024
MOOV_MAX_BYTES = 4 * 1024 * 1024
MP4_HOPS = 32


async def _read(s3: Any, bucket: str, key: str, limit: Limiter, first: int | None = None,
                last: int | None = None) -> Answer[bytes]:
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if first is not None:
        params["Range"] = f"bytes={first}-{'' if last is None else last}"

    async def fetch() -> bytes:
        resp = await s3.get_object(**params)
        async with resp["Body"] as stream:
            body: bytes = await stream.read()
            return body

    return await call("GetObject", fetch(), limit)


async def _head(s3: Any, bucket: str, obj: ObjectState, limit: Limiter) -> ObjectState:
    result = await call("HeadObject", s3.head_object(Bucket=bucket, Key=obj.key), limit)
    if isinstance(result, Failed):
        return dataclasses.replace(obj, errors=obj.errors + (result.error,))
    resp = result.value
    return dataclasses.replace(obj, size=int(resp.get("ContentLength", obj.size)),
                               sse=resp.get("ServerSideEncryption"), kms_key_id=resp.get("SSEKMSKeyId"),
                               probes={**obj.probes, "head": True})


async def _exif(s3: Any, bucket: str, obj: ObjectState, limit: Limiter) -> ObjectState:
    result = await _read(s3, bucket, obj.key, limit, 0, exif.HEAD_BYTES - 1)
    if isinstance(result, Failed):
        return dataclasses.replace(obj, errors=obj.errors + (result.error,))
    return dataclasses.replace(obj, probes={**obj.probes, "exif": exif.read_orientation(result.value or b"")})


async def _mp4(s3: Any, bucket: str, obj: ObjectState, limit: Limiter) -> ObjectState:
    """ftyp at offset 0; then hop from box header to box header (skipping mdat) to find moov."""
    first = await _read(s3, bucket, obj.key, limit, 0, exif.HEAD_BYTES - 1)
    if isinstance(first, Failed):
        return dataclasses.replace(obj, errors=obj.errors + (first.error,))
    head = first.value or b""
    facts: dict[str, Any] = {"major_brand": mp4.major_brand(head), "reads": 1}
    offset, moov = 0, b""
    for _ in range(MP4_HOPS):
        if offset + 8 > len(head) and obj.size and offset >= obj.size:
            break
        if offset + 16 <= len(head):
            chunk, base = head, 0
        else:
            read = await _read(s3, bucket, obj.key, limit, offset, offset + 15)
            facts["reads"] += 1
            if isinstance(read, Failed) or not read.value:
                break
            chunk, base = read.value, offset
        box = next(mp4.boxes(chunk, offset - base, len(chunk)), None) if chunk else None
        if box is None:
            break
        kind, _, _, size = box
        if kind == b"moov":
            if size > MOOV_MAX_BYTES:
                facts["error"] = f"moov box is {size} bytes, over the {MOOV_MAX_BYTES}-byte read limit"
                break
            if offset + size <= len(head):
                moov = head[offset:offset + size]
            else:
                # A moov that cannot be read is reported as not found, below.
                read = await _read(s3, bucket, obj.key, limit, offset, offset + size - 1)
                moov = b"" if isinstance(read, Failed) else read.value
                facts["reads"] += 1
            break
        offset += size
    if moov:
        try:
            facts.update(mp4.video_format(moov))
        except (ValueError, IndexError, struct.error) as e:  # a malformed box is a fact about the file
            facts["error"] = f"cannot parse the sample description: {type(e).__name__}: {e}"[:200]
    elif "error" not in facts:
        facts["error"] = "no moov box found in the file's top-level boxes"
    return dataclasses.replace(obj, probes={**obj.probes, "mp4": facts})


async def _list_all(s3: Any, bucket: str, prefix: str, budget: int,
                    limit: Limiter) -> tuple[list[str], bool, ApiError | None]:
    keys: list[str] = []
    token = None
    pages = RepeatedToken("ListObjectsV2", "NextContinuationToken")
    while True:
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1000}
        if token:
            params["ContinuationToken"] = token
        result = await call("ListObjectsV2", s3.list_objects_v2(**params), limit)
        if isinstance(result, Failed):
            return keys, False, result.error
        resp = result.value
        keys.extend(item["Key"] for item in resp.get("Contents", []))
        token = resp.get("NextContinuationToken")
        if not resp.get("IsTruncated") or not token:
            return keys, False, None
        if len(keys) >= budget:
            return keys, True, None
        repeated = pages.repeated(token)
        if repeated:
            return keys, False, repeated


async def _coco(s3: Any, bucket: BucketState, key: str, role: str, images_prefix: str, present: set[str] | None,
                listing_truncated: bool, limit: Limiter) -> dict[str, Any]:
    head = await call("HeadObject", s3.head_object(Bucket=bucket.name, Key=key), limit)
    if isinstance(head, Failed):
        err = head.error
        if err.code in ("404", "NoSuchKey", "NotFound"):
            return {"key": key, "exists": False}
        return {"key": key, "error": {"api": err.api, "code": err.code, "message": err.message}}
    size = int(head.value.get("ContentLength", 0))
    if size > COCO_MAX_BYTES:
        return {"key": key, "exists": True, "size": size,
                "error": {"api": "GetObject", "code": "TooLarge", "message": f"{size} bytes is over the {COCO_MAX_BYTES}-byte limit"}}
    body = await _read(s3, bucket.name, key, limit)
    if isinstance(body, Failed):
        err = body.error
        return {"key": key, "exists": True, "error": {"api": err.api, "code": err.code, "message": err.message}}
    try:
        doc = json.loads(body.value or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return {"key": key, "exists": True, "size": size, "kind": "invalid", "problems": [f"not JSON: {e}"]}
    except RecursionError:
        return {"key": key, "exists": True, "size": size, "kind": "invalid",
                "problems": ["not usable JSON: nested too deeply to read"]}
    try:
        summary = coco.summarise(doc, role)
    except (TypeError, ValueError, RecursionError) as e:  # ids that are lists or objects, and the like
        return {"key": key, "exists": True, "size": size, "kind": "invalid",
                "problems": [f"not a COCO file ({type(e).__name__}: {e})"[:300]]}
    del doc
    names = summary.pop("file_names", [])
    if present is not None and names:
        rel = {k[len(images_prefix):] for k in present}
        summary["missing_files"] = coco.missing_files(names, rel)[:coco.EXAMPLES]
        summary["missing_file_count"] = len(coco.missing_files(names, rel))
        summary["listing_truncated"] = listing_truncated
    return {"key": key, "exists": True, "size": size, **summary}


async def probe_objects(acct: AccountSession, bucket: BucketState, integrations: list[Integration],
                        settings: ScanSettings, limit: Limiter) -> BucketState:
    """The bucket with its sampled objects probed for what its integrations' rules need."""
    if not integrations:
        return bucket
    s3 = await acct.client("s3", None if acct.config.endpoint_url else bucket.region)
    objects = {o.key: o for o in bucket.objects}
    blobs: dict[str, Any] = dict(bucket.blobs)
    listings = list(bucket.listings)
    errors = list(bucket.errors)
    content = settings.content

    # Encryption of every sampled object (baseline.object-kms); an object already read (a bucket of a configured
    # and an inferred integration) is not read again.
    sample = [o for o in objects.values() if "head" not in o.probes and not o.errors][:settings.sample_size * 4]
    if content:
        heads = await asyncio.gather(*(_head(s3, bucket.name, o, limit) for o in sample))
    else:
        heads = [dataclasses.replace(o, errors=o.errors + (_not_read("HeadObject"),)) for o in sample]
    objects.update({o.key: o for o in heads})

    # What to probe follows from the checks the vendor's rules use (the profile's rules), per zone.
    tasks = []
    for integ in integrations:
        media = _zones_of(integ, ("exif_orientation", "mp4_format"))
        for prefix in dict.fromkeys(integ.zone(z).prefix for z in media):
            under = [o for k, o in objects.items() if k.startswith(prefix)]
            images = [o for o in under if o.key.lower().endswith(exif.IMAGE_SUFFIXES)
                      and "exif" not in o.probes][:settings.sample_size]
            videos = [o for o in under if o.key.lower().endswith(".mp4") and "mp4" not in o.probes][:settings.sample_size]
            if not content:
                objects.update({o.key: dataclasses.replace(o, errors=o.errors + (_not_read("GetObject"),))
                                for o in images + videos})
                continue
            tasks += [_exif(s3, bucket.name, o, limit) for o in images]
            tasks += [_mp4(s3, bucket.name, o, limit) for o in videos]
    probed = await asyncio.gather(*tasks)
    objects.update({o.key: o for o in probed})

    for integ in integrations:
        for zname in _zones_of(integ, ("tenyks_layout", "coco_format", "zone_images")):
            z = integ.zone(zname)
            if f"listing:{z.prefix}" in blobs and all(f"coco:{k}" in blobs for k in z.files.values()):
                continue  # already read for another integration of the bucket
            listings, blobs, errors = await _probe_layout(s3, bucket, integ.zone(zname), settings, limit,
                                                          listings, blobs, errors, content)

    if any(_uses(i, ("mrxs_list", "mrxs_companion")) for i in integrations):
        slides = [o for k, o in objects.items() if k.lower().endswith(".mrxs") and "mirax" not in o.probes]

        async def companion(o: ObjectState) -> ObjectState:
            folder = o.key[: -len(".mrxs")] + "/"
            result = await call("ListObjectsV2", s3.list_objects_v2(Bucket=bucket.name, Prefix=folder, MaxKeys=1000),
                                limit)
            if isinstance(result, Failed):
                return dataclasses.replace(o, errors=o.errors + (result.error,))
            resp = result.value
            keys = [c["Key"] for c in resp.get("Contents", [])]
            return dataclasses.replace(o, probes={**o.probes, "mirax": {
                "folder": folder, "files": len(keys), "truncated": bool(resp.get("IsTruncated")),
                "slidedat": f"{folder}Slidedat.ini" in keys}})

        objects.update({o.key: o for o in await asyncio.gather(*(companion(o) for o in slides[:settings.sample_size]))})

    return dataclasses.replace(bucket, objects=tuple(objects.values()), blobs=blobs, listings=tuple(listings),
                               errors=tuple(errors))


def _zones_of(integ: Integration, checks: tuple[str, ...]) -> list[str]:
    """The zones that the vendor's rules using ``checks`` look at, in the integration's mode."""
    if integ.profile is None:
        return []
    return list(dict.fromkeys(zone for check, zone, modes in integ.profile.rule_checks
                              if check in checks and integ.mode in modes and zone))


def _uses(integ: Integration, checks: tuple[str, ...]) -> bool:
    """Some rule of the integration's vendor (in its mode) uses one of ``checks``."""
    return integ.profile is not None and any(
        check in checks and integ.mode in modes for check, _, modes in integ.profile.rule_checks)


async def _probe_layout(s3: Any, bucket: BucketState, zone: Zone, settings: ScanSettings, limit: Limiter,
                        listings: list[Listing], blobs: dict[str, Any], errors: list[ApiError], content: bool = True):
    """List the zone's folder and read its COCO files (``files``: annotations, predictions; not with --no-content)."""
    images = zone.prefix
    keys, truncated, err = await _list_all(s3, bucket.name, images, settings.listing_budget, limit)
    if err:
        errors.append(err)
        present = None
    else:
        present = set(keys)
        listings.append(Listing(prefix=images, keys_seen=len(keys), truncated=truncated))
        blobs[f"listing:{images}"] = {"keys": len(keys), "truncated": truncated,
                                      "images": sum(1 for k in keys if k.lower().endswith(exif.IMAGE_SUFFIXES)),
                                      "videos": sum(1 for k in keys if k.lower().endswith(".mp4")),
                                      "examples": keys[:5]}
    for role, key in zone.files.items():
        blobs[f"coco:{key}"] = (await _coco(s3, bucket, key, role, images, present, truncated, limit) if content
                                else {"key": key, "error": {"api": "GetObject", "code": NOT_READ, "message": _OFF}})

    return listings, blobs, errors
