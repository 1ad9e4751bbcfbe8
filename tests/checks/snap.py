"""Hand-built snapshots for check tests: no AWS."""

from __future__ import annotations

from typing import Any

from auditor.engine import evaluate
from auditor.model import (
    AccessKey,
    AccountState,
    ApiError,
    AttachedPolicy,
    BucketState,
    Finding,
    GroupState,
    InlinePolicy,
    Integration,
    KeyState,
    ObjectState,
    RoleState,
    Snapshot,
    UserState,
)
from auditor.rulepack import load_packs

ACCT = "111122223333"
V7_ROLE = "arn:aws:iam::258327614892:role/external_s3"
V7_USER = "arn:aws:iam::100000274636:user/darwin"
DATATURE_PRINCIPAL = "arn:aws:iam::277710232653:role/ext-5086f40b-058b-4e09-a9bb-894c2efd6487"
DATATURE_EXTERNAL_ID = "76072142-60c6-426e-a2ae-6ed0c3b1886b"
FINISHED = "2026-01-01T00:00:00Z"

__all__ = ["AccessKey", "ApiError", "AttachedPolicy", "GroupState", "InlinePolicy", "KeyState", "RoleState",
           "UserState"]


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def bucket(name: str = "radiology-scans", *, policy: dict | None = None, keys: tuple[str, ...] = ("img/a.png",),
           errors: tuple[ApiError, ...] = (), **kw: Any) -> BucketState:
    return BucketState(name=name, account_id=ACCT, region="us-east-1", policy=policy,
                       objects=tuple(ObjectState(key=k) for k in keys), errors=errors, **kw)


def account(*buckets: BucketState, **kw: Any) -> AccountState:
    return AccountState(name="prod", account_id=ACCT, buckets=tuple(buckets), **kw)


def integ(vendor: str, bucket: str = "radiology-scans", mode: str = "read-only", **options: str) -> Integration:
    return Integration(vendor=vendor, account="prod", bucket=bucket, mode=mode, options=options)


def snapshot(*accounts: AccountState, integrations: tuple[Integration, ...] = ()) -> Snapshot:
    return Snapshot(started_at="2025-12-31T23:59:00Z", finished_at=FINISHED, accounts=tuple(accounts),
                    integrations=tuple(integrations))


_PACKS = None


def run(snap: Snapshot) -> tuple[Finding, ...]:
    global _PACKS
    if _PACKS is None:
        _PACKS = load_packs()
    return evaluate(snap, _PACKS)


def findings(snap: Snapshot, rule_id: str) -> list[Finding]:
    return [f for f in run(snap) if f.rule_id == rule_id]


def one(snap: Snapshot, rule_id: str) -> Finding:
    found = findings(snap, rule_id)
    assert len(found) == 1, (rule_id, [(f.resource, f.status, f.message) for f in found])
    return found[0]


def user(name: str, *inline: dict, groups: tuple[str, ...] = (), attached: tuple[str, ...] = (),
         keys: tuple[AccessKey, ...] | None = (AccessKey("AKIAEXAMPLE", "Active", "2025-12-01T00:00:00Z"),),
         boundary: str | None = None, errors: tuple[ApiError, ...] = ()) -> UserState:
    return UserState(name=name, arn=f"arn:aws:iam::{ACCT}:user/{name}",
                     inline=tuple(InlinePolicy(f"p{i}", d) for i, d in enumerate(inline)),
                     attached=tuple(AttachedPolicy(a, a.rsplit("/", 1)[-1]) for a in attached),
                     groups=groups, access_keys=keys, boundary=boundary, errors=errors)


def role(name: str, trust: dict | None, *inline: dict, attached: tuple[str, ...] = (),
         boundary: str | None = None) -> RoleState:
    return RoleState(name=name, arn=f"arn:aws:iam::{ACCT}:role/{name}", trust_policy=trust,
                     inline=tuple(InlinePolicy(f"p{i}", d) for i, d in enumerate(inline)),
                     attached=tuple(AttachedPolicy(a, a.rsplit("/", 1)[-1]) for a in attached), boundary=boundary)


DENIED_POLICY = ApiError("GetBucketPolicy", "AccessDenied", "not authorised")
DENIED_IAM = ApiError("GetAccountAuthorizationDetails", "AccessDenied", "not authorised")
