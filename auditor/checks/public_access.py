"""S3 Block Public Access: all four settings effective, at bucket or account level."""

from __future__ import annotations

import json
import shlex
from typing import Any

from auditor.checks.registry import Outcome, Target, check
from auditor.model import Status

SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@check("block_public_access", reads=("s3:GetBucketPublicAccessBlock", "s3:GetAccountPublicAccessBlock"))
def block_public_access(target: Target) -> Outcome:
    """Each setting is on at the bucket or the account level (S3 applies the most restrictive of the two)."""
    bucket, account = target.bucket, target.account
    b_err, a_err = bucket.error("GetPublicAccessBlock"), account.error("GetAccountPublicAccessBlock")
    if a_err is not None and a_err.code == "NotSupported":
        a_err = None  # the provider has no account-level setting: only the bucket's counts
    b = bucket.public_access_block or {}
    a = account.public_access_block or {}
    effective = {s: bool(b.get(s)) or bool(a.get(s)) for s in SETTINGS}
    evidence: dict[str, Any] = {
        "bucket_level": None if b_err else dict(b) if bucket.public_access_block is not None else "not configured",
        "account_level": None if a_err else dict(a) if account.public_access_block is not None else "not configured",
        "effective": effective,
    }
    off = [s for s in SETTINGS if not effective[s]]
    if not off:
        return Outcome(Status.PASS, "All four Block Public Access settings are on.", evidence)
    errs = [e for e in (b_err, a_err) if e is not None]
    if errs:
        evidence["api_errors"] = [{"api": e.api, "code": e.code} for e in errs]
        return Outcome(Status.UNKNOWN, f"Could not verify {', '.join(off)}: {'; '.join(e.describe() for e in errs)}.", evidence)
    conf = {s: True for s in SETTINGS}
    remediation = (f"aws s3api put-public-access-block --bucket {bucket.name} "
                   f"--public-access-block-configuration {shlex.quote(json.dumps(conf))}")
    return Outcome(Status.FAIL, f"Block Public Access is off for {', '.join(off)}.", evidence, remediation)
