"""``auditor init``: a commented auditor.toml written from what a scan of the account finds.

Every bucket is listed; a bucket whose policy names a vendor (V7's role or Wasabi user, a principal
of Datature's account, or a role that trusts Datature) becomes an ``[[integrations]]`` entry with the
keys read from the grants. A key the vendor requires that cannot be read from the account is marked
``FILL IN`` and its entry is left commented out, so the file loads as written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from auditor.config import ACCOUNT_KEYS, SCAN_KEYS, VENDOR_KEYS, AccountConfig, ScanSettings
from auditor.model import Integration, Snapshot

VENDOR_NOTES = {
    "v7-aws": "V7 Darwin on AWS S3",
    "v7-wasabi": "V7 Darwin on Wasabi",
    "datature": "Datature Nexus",
    "tenyks": "Tenyks",
    "redbrick": "RedBrick AI",
}

KEY_HELP = {
    "scope": "the sub-folder V7 may read (default: whole bucket)",
    "prefix": "folder prefix the vendor uses",
    "role_arn": "the role Datature assumes (required)",
    "vendor_principal": "the ARN shown in Datature's set-up screen",
    "external_id": "the external id shown in Datature's set-up screen",
    "user": "the IAM user the vendor signs in as (required)",
    "dataset": "dataset folder (required)",
    "images_dir": "images folder inside the dataset (required)",
    "metadata_bucket": "metadata bucket (default: the same bucket)",
    "metadata_dir": "metadata folder, a key prefix from the bucket root",
}


def _q(value: str) -> str:
    return json.dumps(value)


def render_config(snapshot: Snapshot, integrations: Sequence[Integration], account: AccountConfig,
                  *, command: str = "auditor init") -> str:
    """The text of a commented auditor.toml for ``snapshot`` (one account) and the inferred ``integrations``."""
    defaults = ScanSettings()
    out = [
        f"# auditor.toml, written by `{command}` from a scan of the account on {snapshot.finished_at}.",
        "# Review it, fill in what is marked FILL IN, then run `auditor scan`.",
        "# Every key: README 'Scanning your accounts'; a mistake is reported with its line and the fix.",
        "",
        "[scan]",
    ]
    for key, help_text in SCAN_KEYS.items():
        value = getattr(defaults, key)
        shown = str(value).lower() if isinstance(value, bool) else value
        out.append(f"# {key} = {shown}".ljust(28) + f"# {help_text}")
    ids = sorted({a.account_id for a in snapshot.accounts})
    out += ["", "[[accounts]]", f"name = {_q(account.name)}".ljust(28) + f"# {ACCOUNT_KEYS['name']}"
            + (f"; account {', '.join(ids)}" if ids else "")]
    for key in ("profile", "role_arn", "external_id", "endpoint_url"):
        value = getattr(account, key)
        if value:
            out.append(f"{key} = {_q(value)}")
    if account.provider != "aws":
        out.append(f"provider = {_q(account.provider)}")
    if account.regions:
        out.append(f"regions = [{', '.join(_q(r) for r in account.regions)}]")
    if account.buckets:
        out.append(f"buckets = [{', '.join(_q(b) for b in account.buckets)}]")
    else:
        out.append('# buckets = ["ml-*"]'.ljust(28) + f"# {ACCOUNT_KEYS['buckets']}")

    names = [b.name for a in snapshot.accounts for b in a.buckets]
    used = {i.bucket for i in integrations}
    out += ["", f"# {len(names)} bucket(s) found; every one gets the baseline rules:"]
    for name in names:
        out.append(f"#   {name}" + ("  (vendor integration below)" if name in used else ""))

    if not integrations:
        out += ["", "# No bucket policy names a vendor. To check one, add an [[integrations]] entry, e.g.:",
                "# [[integrations]]", '# vendor = "v7-aws"          # v7-aws | v7-wasabi | datature | tenyks | redbrick',
                f"# account = {_q(account.name)}", '# bucket = "BUCKET"', '# mode = "read-only"         # or "read-write"']
    for integ in integrations:
        out += ["", *_integration(integ, account.name)]
    out += ["", "# Accepted risks, with an expiry date:",
            "# [[suppress]]", '# rule = "baseline.tls-only"', '# resource = "arn:aws:s3:::BUCKET"',
            '# reason = "why it is accepted"', "# until = 2027-01-31", ""]
    return "\n".join(out)


def _integration(integ: Integration, account: str) -> list[str]:
    allowed, required = VENDOR_KEYS[integ.vendor]
    need = set(required) | ({"metadata_dir"} if integ.vendor == "tenyks" and integ.mode == "read-write" else set())
    missing = sorted(k for k in need if not integ.options.get(k))
    head = [f"# {VENDOR_NOTES.get(integ.vendor, integ.vendor)}: found in the bucket's "
            + ("policy or in a role that trusts the vendor" if integ.vendor == "datature" else "policy")
            + "; mode read from what the grants allow."]
    if missing:
        head.append(f"# FILL IN {', '.join(missing)}, then remove the leading '# ' from the lines of this entry.")
    body = ["[[integrations]]", f"vendor = {_q(integ.vendor)}", f"account = {_q(account)}",
            f"bucket = {_q(integ.bucket)}", f"mode = {_q(integ.mode)}"]
    for key in sorted(allowed):
        value = integ.options.get(key)
        if value:
            body.append(f"{key} = {_q(value)}".ljust(28) + f"# {KEY_HELP.get(key, '')}".rstrip())
        elif key in missing:
            body.append(f'{key} = "FILL IN"'.ljust(28) + f"# {KEY_HELP.get(key, '')}")
        else:
            body.append(f"# {key} = \"\"".ljust(28) + f"# {KEY_HELP.get(key, '')} (optional)")
    if missing:
        body = ["# " + line for line in body]
    return head + body
