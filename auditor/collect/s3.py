"""S3: the account's buckets, each bucket's settings and a bounded sample of its keys."""

from __future__ import annotations

import asyncio
import fnmatch
import json
from collections.abc import Iterable
from typing import Any

from auditor.collect.calls import Failed, Limiter, NotConfigured, Ok, RepeatedToken, Setting, call, read_setting
from auditor.collect.session import AccountSession
from auditor.config import ScanSettings
from auditor.docshape import policy_problem
from auditor.model import ApiError, BucketState, Integration, Listing, ObjectState

# IAM actions behind the S3 calls below (for ``auditor permissions``).
READS = (
    "s3:ListAllMyBuckets", "s3:GetBucketLocation", "s3:GetBucketPolicy", "s3:GetBucketCORS",
    "s3:GetEncryptionConfiguration", "s3:GetBucketPublicAccessBlock", "s3:GetBucketOwnershipControls",
    "s3:GetBucketVersioning", "s3:ListBucket", "s3:GetAccountPublicAccessBlock",
)


async def list_buckets(acct: AccountSession, limit: Limiter) -> tuple[list[dict[str, Any]], ApiError | None]:
    s3 = await acct.client("s3")
    buckets: list[dict[str, Any]] = []
    token = None
    pages = RepeatedToken("ListBuckets", "ContinuationToken")
    failed: ApiError | None = None
    while True:
        # Paginated ListBuckets also returns each bucket's BucketRegion, which saves a
        # GetBucketLocation per bucket (S3 API reference, ListBuckets).
        params: dict[str, Any] = {"MaxBuckets": 10000}
        if token:
            params["ContinuationToken"] = token
        result = await call("ListBuckets", s3.list_buckets(**params), limit)
        if isinstance(result, Failed):
            return [], result.error
        resp = result.value
        page = resp.get("Buckets", [])
        named = [b for b in page if isinstance(b, dict) and isinstance(b.get("Name"), str) and b["Name"]]
        if len(named) != len(page) and failed is None:
            failed = ApiError("ListBuckets", "MalformedResponse",
                              f"{len(page) - len(named)} bucket entr(ies) of the answer have no name")
        buckets += named
        token = resp.get("ContinuationToken")
        if not token:
            break
        repeated = pages.repeated(token)
        if repeated:
            failed = repeated
            break  # the buckets listed so far are scanned; the rest is unknown through the recorded error
    wanted = acct.config.buckets
    if wanted:
        buckets = [b for b in buckets if any(fnmatch.fnmatchcase(b["Name"], g) for g in wanted)]
    buckets = list({b["Name"]: b for b in buckets}.values())  # a page served twice lists its buckets once
    return buckets, failed


async def account_public_access_block(acct: AccountSession, account_id: str,
                                      limit: Limiter) -> tuple[dict | None, ApiError | None]:
    if "s3control" in acct.unsupported:
        return None, ApiError("GetAccountPublicAccessBlock", "NotSupported",
                              f"provider {acct.config.provider} has no S3 Control API")
    ctl = await acct.client("s3control")
    match await read_setting("GetAccountPublicAccessBlock", ctl.get_public_access_block(AccountId=account_id), limit):
        case Ok(resp):
            return dict(resp["PublicAccessBlockConfiguration"]), None
        case NotConfigured():
            return None, None
        case Failed(err):
            return None, err


def sample_prefixes(integrations: Iterable[Integration]) -> list[str]:
    """Where the vendors read and write on this bucket (their profiles' zones): each is listed (first page)
    besides the root."""
    prefixes = [""]
    for i in integrations:
        if i.profile is None:
            continue
        for name, spec in i.profile.zones.items():
            z = i.zone(name)
            # A zone's default folder (V7's data/) is not where the user said the vendor works.
            if z.bucket == i.bucket and z.prefix and z.prefix != spec.default and z.prefix not in prefixes:
                prefixes.append(z.prefix)
    return prefixes


async def collect_bucket(acct: AccountSession, account_id: str, entry: dict[str, Any],
                         integrations: list[Integration], settings: ScanSettings,
                         limit: Limiter) -> BucketState:
    """Settings and a key sample of one bucket; every failed call is recorded, none stops the rest."""
    name = entry["Name"]
    errors: list[ApiError] = []
    s3 = await acct.client("s3")
    region = entry.get("BucketRegion")
    if not region:
        match await call("GetBucketLocation", s3.get_bucket_location(Bucket=name), limit):
            case Failed(err):
                errors.append(err)
            case Ok(resp):
                region = (resp or {}).get("LocationConstraint") or "us-east-1"
                region = "eu-west-1" if region == "EU" else region
    if region and not acct.config.endpoint_url:
        s3 = await acct.client("s3", region)

    calls = {
        "GetBucketPolicy": s3.get_bucket_policy(Bucket=name),
        "GetBucketCors": s3.get_bucket_cors(Bucket=name),
        "GetBucketEncryption": s3.get_bucket_encryption(Bucket=name),
        "GetPublicAccessBlock": s3.get_public_access_block(Bucket=name),
        "GetBucketOwnershipControls": s3.get_bucket_ownership_controls(Bucket=name),
        "GetBucketVersioning": s3.get_bucket_versioning(Bucket=name),
    }
    if "public-access-block" in acct.unsupported:  # not asked: recorded as the provider lacking it
        calls.pop("GetPublicAccessBlock").close()
        errors.append(ApiError("GetPublicAccessBlock", "NotSupported",
                               f"provider {acct.config.provider} has no Block Public Access"))
    prefixes = sample_prefixes(integrations)
    results, (objects, listings, list_errors) = await asyncio.gather(
        asyncio.gather(*(read_setting(api, aw, limit) for api, aw in calls.items())),
        list_sample(s3, name, prefixes, settings, limit),
    )
    got: dict[str, Any] = {}
    for api, result in zip(calls, results, strict=True):
        got[api] = _setting(result, errors)
    errors.extend(list_errors)

    policy = got["GetBucketPolicy"]
    if isinstance(policy, dict):
        text = policy.get("Policy")
        try:
            policy = json.loads(text) if isinstance(text, str) else text
            problem = policy_problem(policy)
        except (ValueError, RecursionError) as e:
            problem = f"not JSON ({type(e).__name__}: {e})"[:300]
        if problem:  # unreadable is not "no policy": the rules that need it are unknown
            errors.append(ApiError("GetBucketPolicy", "MalformedPolicy", problem))
            policy = None
    cors = got["GetBucketCors"]
    enc = got["GetBucketEncryption"]
    pab = got.get("GetPublicAccessBlock")
    own = got["GetBucketOwnershipControls"]
    ver = got["GetBucketVersioning"]
    return BucketState(
        name=name,
        account_id=account_id,
        region=region,
        policy=policy,
        cors=tuple(cors.get("CORSRules", ())) if isinstance(cors, dict) else None,
        encryption=tuple(enc.get("ServerSideEncryptionConfiguration", {}).get("Rules", ())) if isinstance(enc, dict) else None,
        public_access_block=dict(pab["PublicAccessBlockConfiguration"]) if isinstance(pab, dict) else None,
        ownership=(own.get("OwnershipControls", {}).get("Rules") or [{}])[0].get("ObjectOwnership") if isinstance(own, dict) else None,
        versioning=ver.get("Status") if isinstance(ver, dict) else None,
        objects=objects,
        listings=listings,
        errors=tuple(errors),
    )


def _setting(result: Setting[Any], errors: list[ApiError]) -> Any:
    """The answer of a settings call; None when the setting is absent or the call failed (recorded in ``errors``)."""
    match result:
        case Ok(value):
            return value
        case NotConfigured():
            return None
        case Failed(err):
            errors.append(err)
            return None


async def list_sample(s3: Any, bucket: str, prefixes: list[str], settings: ScanSettings,
                      limit: Limiter) -> tuple[tuple[ObjectState, ...], tuple[Listing, ...], list[ApiError]]:
    """First page under each prefix (the sample), walking the root further for ``.mrxs`` keys within the budget."""
    objects: dict[str, ObjectState] = {}
    listings: list[Listing] = []
    errors: list[ApiError] = []
    for prefix in prefixes:
        budget = settings.listing_budget if prefix == "" else settings.sample_size
        token: str | None = None
        seen = 0
        truncated = False
        pages = RepeatedToken("ListObjectsV2", "NextContinuationToken")
        while True:
            params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": min(1000, max(1, budget - seen))}
            if token:
                params["ContinuationToken"] = token
            result = await call("ListObjectsV2", s3.list_objects_v2(**params), limit)
            if isinstance(result, Failed):
                errors.append(result.error)
                break
            resp = result.value
            contents = resp.get("Contents", [])
            for i, item in enumerate(contents):
                key = item["Key"]
                if (seen + i < settings.sample_size or key.lower().endswith(".mrxs")) and key not in objects:
                    objects[key] = ObjectState(
                        key=key,
                        size=int(item.get("Size", 0)),
                        last_modified=item["LastModified"].isoformat() if item.get("LastModified") else None,
                    )
            seen += len(contents)
            truncated = bool(resp.get("IsTruncated"))
            token = resp.get("NextContinuationToken")
            if not truncated or not token or seen >= budget:
                break
            repeated = pages.repeated(token)
            if repeated:
                errors.append(repeated)
                break
        listings.append(Listing(prefix=prefix, keys_seen=seen, truncated=truncated))
    if any(e.api == "ListObjectsV2" for e in errors):
        errors = [next(e for e in errors if e.api == "ListObjectsV2")]
    return tuple(objects.values()), tuple(listings), errors
