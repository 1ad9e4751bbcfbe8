"""``auditor init``: a commented auditor.toml written from what a scan of the account finds.

Every bucket is listed; a bucket whose policy names a vendor (V7's role or Wasabi user, a principal
of Datature's account, or a role that trusts Datature) becomes an ``[[integrations]]`` entry with the
keys read from the grants. A key the vendor requires that cannot be read from the account is marked
``FILL IN`` and its entry is left commented out, so the file loads as written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from auditor.config import ACCOUNT_KEYS, SCAN_KEYS, AccountConfig, ScanSettings
from auditor.model import Integration, Snapshot


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
        shown = str(value).lower() if isinstance(value, bool) else json.dumps(list(value)) if isinstance(value, tuple) else value
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
                "# [[integrations]]", f"# vendor = {_q(_vendor_ids()[0])}".ljust(28) + f"# {' | '.join(_vendor_ids())}",
                f"# account = {_q(account.name)}", '# bucket = "BUCKET"', '# mode = "read-only"         # or "read-write"']
    for integ in integrations:
        out += ["", *_integration(integ, account.name)]
    out += ["", "# Accepted risks, with an expiry date:",
            "# [[suppress]]", '# rule = "baseline.tls-only"', '# resource = "arn:aws:s3:::BUCKET"',
            '# reason = "why it is accepted"', "# until = 2027-01-31", ""]
    return "\n".join(out)


def _profiles() -> dict:
    from auditor.rulepack import load_packs, profiles

    return profiles(load_packs())


def _vendor_ids() -> list[str]:
    return list(_profiles())


def _integration(integ: Integration, account: str) -> list[str]:
    """One [[integrations]] entry, its keys and their help from the vendor's profile."""
    profile = integ.profile or _profiles().get(integ.vendor)
    keys = sorted(profile.keys, key=lambda k: k.name) if profile else []
    missing = [k.name for k in keys if k.needed(integ.mode) and not integ.options.get(k.name)]
    where = "policy or in a role that trusts the vendor" if profile and profile.access == "assumed-role" else "policy"
    head = [f"# {profile.name if profile else integ.vendor}: found in the bucket's {where}; "
            "mode read from what the grants allow."]
    if missing:
        head.append(f"# FILL IN {', '.join(missing)}, then remove the leading '# ' from the lines of this entry.")
    body = ["[[integrations]]", f"vendor = {_q(integ.vendor)}", f"account = {_q(account)}",
            f"bucket = {_q(integ.bucket)}", f"mode = {_q(integ.mode)}"]
    for k in keys:
        value = integ.options.get(k.name)
        if value:
            body.append(f"{k.name} = {_q(value)}".ljust(28) + f"# {k.help}".rstrip())
        elif k.name in missing:
            body.append(f'{k.name} = "FILL IN"'.ljust(28) + f"# {k.help}")
        else:
            body.append(f"# {k.name} = \"\"".ljust(28) + f"# {k.help} (optional)")
    if missing:
        body = ["# " + line for line in body]
    return head + body
