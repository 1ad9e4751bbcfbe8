"""Integrations inferred from the snapshot when the config names none for a bucket.

A bucket policy that names a vendor's fixed principal (V7's role or Wasabi user), or a role that
trusts a vendor's fixed account (Datature's), gets that vendor's rules, marked ``inferred``. The mode is
read from what the grants allow (PutObject allowed → read-write), through the evaluator.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from auditor.model import AccountState, BucketState, Integration, RoleState, Snapshot
from auditor.policy import PolicyError
from auditor.profile import VendorProfile

PROBE = "auditor-probe"


def infer_integrations(snapshot: Snapshot, packs: Sequence) -> tuple[Integration, ...]:
    """Integrations implied by policies in ``snapshot`` that the config did not already name.

    By the profile's access: a fixed principal named in a bucket policy; a role trusted by the vendor's
    (fixed) account, or a bucket policy naming a principal of that account. IAM-user vendors are not
    inferred (a user name says nothing of who holds its keys).
    """
    everywhere = [p.vendor for p in packs if p.vendor.access is not None]
    configured = {(i.account, i.bucket, i.vendor) for i in snapshot.integrations}
    out: list[Integration] = []
    for account in snapshot.accounts:
        # Only the vendors that work on the account's provider (V7 on Wasabi is v7-wasabi, never v7-aws).
        profiles = [p for p in everywhere if account.provider in p.providers]
        for bucket in account.buckets:
            if bucket.policy is None:
                continue
            for profile in profiles:
                if profile.access != "fixed-principal" or not profile.principal:
                    continue
                if (account.name, bucket.name, profile.id) in configured:
                    continue
                found = None
                for principal in (profile.principal, *profile.infer.principals):
                    try:
                        found = _infer_fixed(snapshot, account, bucket, profile, principal)
                    except PolicyError:
                        # A policy the evaluator cannot read but that names the vendor: its rules then say
                        # why they could not decide, instead of the bucket silently getting none.
                        found = (Integration(vendor=profile.id, account=account.name, bucket=bucket.name,
                                             mode="read-only", inferred=True, profile=profile)
                                 if principal in json.dumps(bucket.policy) else None)
                    if found is not None:
                        out.append(found)
                        break
        for profile in profiles:
            if profile.access != "assumed-role" or not profile.account:
                continue
            by_role = [i for i in _infer_assumed(snapshot, account, profile)
                       if (i.account, i.bucket, i.vendor) not in configured]
            out.extend(by_role)
            taken = configured | {(i.account, i.bucket, i.vendor) for i in by_role}
            out.extend(i for i in _infer_assumed_by_bucket_policy(account, profile)
                       if (i.account, i.bucket, i.vendor) not in taken)
    return tuple(out)


def _key(profile: VendorProfile, type_: str) -> str | None:
    spec = profile.key_of_type(type_)
    return spec.name if spec else None


def _infer_assumed_by_bucket_policy(account: AccountState, profile: VendorProfile) -> list[Integration]:
    """A bucket whose policy allows a principal of the vendor's account (PRODUCT.md §2) is the vendor's.

    The vendor reads through a role it assumes (Datature's guide, "Connect Amazon S3 Bucket"), so the role is taken
    to be the one role of the account that trusts the vendor's account, if there is exactly one; otherwise
    the role-based rules report that no role is known.
    """
    from auditor.checks.trust import principal_account

    vendor_account = profile.account or ""
    role_key, principal_key = _key(profile, "role-arn"), _key(profile, "principal-arn")
    scope_key = profile.infer.scope_key
    out = []
    roles = [r.arn for r in account.roles if _trusted_in(r, vendor_account)]
    for bucket in account.buckets:
        named = [p for st in _statements(bucket.policy) if st.get("Effect") == "Allow"
                 for p in _aws_principals(st) if p != "*" and principal_account(p) == vendor_account]
        if not named:
            continue
        options: dict[str, str] = {}
        if len(roles) == 1 and role_key:
            options[role_key] = roles[0]
        specific = sorted({p for p in named if p.startswith("arn:") and not p.endswith(":root")})
        if len(specific) == 1 and principal_key:
            options[principal_key] = specific[0]
        prefix = _single_prefix(_object_patterns([bucket.policy], bucket.name))
        if prefix and scope_key:
            options[scope_key] = prefix
        out.append(Integration(vendor=profile.id, account=account.name, bucket=bucket.name, mode=profile.modes[0],
                               options=options, inferred=True, profile=profile))
    return out


def _statements(doc: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    from auditor.remediation import statements_of

    return [s for s in statements_of(doc) if isinstance(s, Mapping)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, (str, Mapping)) else list(value)


def _aws_principals(st: Mapping[str, Any]) -> list[str]:
    p = st.get("Principal")
    if p == "*":
        return ["*"]
    if isinstance(p, Mapping):
        return [str(x) for x in _as_list(p.get("AWS"))]
    return []


def _object_patterns(docs: Iterable[Mapping[str, Any] | None], bucket: str) -> list[str]:
    """Key patterns (after ``bucket/``) named by Allow statements' resources."""
    out = []
    for doc in docs:
        for st in _statements(doc):
            if st.get("Effect") != "Allow":
                continue
            for r in _as_list(st.get("Resource")):
                r = str(r)
                for head in (f"arn:aws:s3:::{bucket}/", "arn:aws:s3:::*/"):
                    if r.startswith(head):
                        out.append(r[len(head):])
    return list(dict.fromkeys(out))


def _probe_keys(bucket: BucketState, patterns: Sequence[str]) -> list[str]:
    keys = [re.sub(r"\*.*$", PROBE, p).replace("?", "x") for p in patterns]
    keys += [o.key for o in bucket.objects[:5] if not o.key.endswith("/")]
    keys.append(PROBE)
    return list(dict.fromkeys(k for k in keys if k))


def _names_action(st: Mapping[str, Any], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in _as_list(st.get("Action")))


def _single_prefix(patterns: Sequence[str]) -> str | None:
    """'x/' when every pattern is 'x/*' for one x (the vendor was given a sub-folder)."""
    prefixes = {p[:-1] for p in patterns if p.endswith("*") and "*" not in p[:-1] and "?" not in p}
    if len(prefixes) == 1 and len(prefixes) == len(set(patterns)):
        prefix = prefixes.pop()
        return prefix if prefix.endswith("/") else None
    return None


def _infer_fixed(snapshot: Snapshot, account: AccountState, bucket: BucketState, profile: VendorProfile,
                 principal: str) -> Integration | None:
    from auditor.checks._access import arn_account, ask_s3, external_actor
    from auditor.checks.registry import Target

    text = json.dumps(bucket.policy)
    vendor_account = arn_account(principal) or ""
    if principal not in text and vendor_account not in text:
        return None
    naming = [st for st in _statements(bucket.policy) if st.get("Effect") == "Allow"
              and any(p == principal or p == vendor_account or p == f"arn:aws:iam::{vendor_account}:root"
                      for p in _aws_principals(st))]
    patterns = _object_patterns([{"Statement": naming}] if naming else [bucket.policy], bucket.name)
    vendor_id = profile.id
    actor = external_actor(vendor_id, principal)
    target = Target(snapshot, account, bucket)
    keys = _probe_keys(bucket, patterns)
    # Named by ARN in an Allow statement: an integration, even when a condition keeps V7 out (that is
    # what the rules then report). Named only through its account: the grant must actually reach it.
    by_arn = [st for st in naming if principal in _aws_principals(st)]
    if not by_arn and not any(ask_s3(target, actor, bucket, "s3:GetObject", k).allowed for k in keys):
        return None
    options: dict[str, str] = {}
    scope = _single_prefix(patterns)
    inf = profile.infer
    if scope and inf.scope_key:
        options[inf.scope_key] = scope
    default = inf.write_default
    writable = [k for k in keys + ([default + PROBE] if default else [])
                if ask_s3(target, actor, bucket, "s3:PutObject", k).allowed]
    if not writable and any(_names_action(st, "s3:PutObject") for st in by_arn):
        writable = ["(granted by a statement naming the principal)"]
    if writable and "read-write" in profile.modes:
        if scope and inf.write_key and not (default and any(k.startswith(default) for k in writable)):
            options[inf.write_key] = scope
    mode = "read-write" if writable and "read-write" in profile.modes else profile.modes[0]
    return Integration(vendor=vendor_id, account=account.name, bucket=bucket.name, mode=mode, options=options,
                       inferred=True, profile=profile)


def _infer_assumed(snapshot: Snapshot, account: AccountState, profile: VendorProfile) -> list[Integration]:
    from auditor.checks._access import Actor, iam_problem, role_actor

    if iam_problem(account):
        return []
    out = []
    for role in account.roles:
        trusted = _trusted_in(role, profile.account or "")
        if not trusted:
            continue
        actor = role_actor(account, profile.id, role.arn)
        if not isinstance(actor, Actor):
            continue
        try:
            out += _role_buckets(snapshot, account, role, actor, trusted, profile)
        except PolicyError:
            continue  # its policies cannot be read; the rules of a configured integration say so
    return out


def _trusted_in(role: RoleState, account_id: str) -> list[str]:
    """The principals of ``account_id`` that ``role``'s trust policy names."""
    from auditor.checks.trust import principal_account, trusted_aws_principals

    return [p for p in trusted_aws_principals(role.trust_policy) if p != "*" and principal_account(p) == account_id]


def _role_buckets(snapshot: Snapshot, account: AccountState, role: RoleState, actor: Any,
                  trusted: list[str], profile: VendorProfile) -> list[Integration]:
    from auditor.checks._access import ask_s3
    from auditor.checks.registry import Target
    from auditor.checks.trust import external_ids

    out = []
    docs = [p.document for p in actor.identity]
    if not any(st.get("Effect") == "Allow" for d in docs for st in _statements(d)):
        return []  # nothing of its own allows anything, so it reads no bucket
    for bucket in account.buckets:
        # The role's own policies must grant the read: a bucket policy open to everyone does not make
        # the bucket the vendor's.
        own_only = dataclasses.replace(bucket, policy=None)
        target = Target(snapshot, account, own_only)
        patterns = _object_patterns(docs, bucket.name)
        if not any(ask_s3(target, actor, own_only, "s3:GetObject", k).allowed
                   for k in _probe_keys(bucket, patterns)):
            continue
        role_key, principal_key = _key(profile, "role-arn"), _key(profile, "principal-arn")
        id_key, scope_key = _key(profile, "external-id"), profile.infer.scope_key
        options = {role_key: role.arn} if role_key else {}
        specific = [p for p in trusted if p.startswith("arn:") and not p.endswith(":root")]
        if len(specific) == 1 and principal_key:
            options[principal_key] = specific[0]
        ids = external_ids(role.trust_policy)
        if len(ids) == 1 and id_key:
            options[id_key] = ids[0]
        prefix = _single_prefix(patterns)
        if prefix and scope_key:
            options[scope_key] = prefix
        out.append(Integration(vendor=profile.id, account=account.name, bucket=bucket.name, mode=profile.modes[0],
                               options=options, inferred=True, profile=profile))
    return out
