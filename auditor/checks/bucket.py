"""Checks on the bucket itself: its name."""

from __future__ import annotations

import re

from auditor.checks.registry import Outcome, Param, Target, check
from auditor.model import Status

# AWS "Bucket naming rules": 3–63 characters, lowercase letters, numbers, dots and hyphens,
# begins and ends with a letter or number, not formatted as an IP address.
_VALID = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


@check("bucket_name", params={
    "forbid_dots": Param(bool, False, "dots break virtual-host-style HTTPS"),
    "charset": Param(str, "", "regex character class the whole name must use, e.g. 'a-z0-9-'"),
    "quote": Param(str, "", "the guide's own words for its naming rule, quoted in the message"),
})
def bucket_name(target: Target, *, forbid_dots: bool, charset: str, quote: str = "") -> Outcome:
    """The bucket name suits the vendor (V7: no dots; Datature: a-z 0-9 - only)."""
    name = target.bucket.name
    broken, asked = [], []  # what will not work; what the guide asks for beyond that
    if not _VALID.match(name) or _IP.match(name) or ".." in name:
        broken.append("it is not a valid S3 bucket name")
    if forbid_dots and "." in name:
        broken.append("it contains dots, which break virtual-host-style HTTPS to the bucket")
    if charset and not re.fullmatch(f"[{charset}]+", name):
        bad = sorted({c for c in name if not re.fullmatch(f"[{charset}]", c)})
        asked.append(f"uses {' '.join(repr(c) for c in bad)} (outside {charset})")
    evidence = {"bucket": name}
    if broken or asked:
        text = f"Bucket name {name!r} will not work: {'; '.join(broken)}" if broken else f"Bucket name {name!r}"
        if asked:
            text += ("; it " if broken else " ") + "; ".join(asked)
        if quote:
            who = target.vendor.short_name if target.vendor else "the vendor"
            text += f"; {who}'s guide: \"{quote.rstrip('.')}\""
            evidence["guide"] = quote
        return Outcome(Status.FAIL, text + ".", evidence,
                       remediation=("Bucket names cannot be changed. Create a new bucket whose name uses only "
                                    "lowercase letters, digits and hyphens, copy the data, then point the integration "
                                    f"at it:\n  aws s3 mb s3://{name.replace('.', '-').lower()}\n"
                                    f"  aws s3 sync s3://{name} s3://{name.replace('.', '-').lower()}"))
    return Outcome(Status.PASS, f"Bucket name {name!r} is valid for this vendor.", evidence)
