"""The account's bucket list: without it, buckets the scan never saw are not checked at all.

An account-scope check (run once per account, not per bucket). It yields no finding when
ListBuckets answered; when it failed, the engine makes this rule ``unknown`` with the reason
(the check ``needs`` the call), so a scan that saw no bucket can never look like a clean one.
"""

from __future__ import annotations

from auditor.checks.registry import Outcome, Target, check


@check("bucket_inventory", needs=("ListBuckets",), reads=("s3:ListAllMyBuckets",), scope="account")
def bucket_inventory(target: Target) -> Outcome | None:
    return None  # listed: nothing to report (each bucket has its own findings)
