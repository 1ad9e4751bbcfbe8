"""IAM: users, groups, roles and their policies in one paginated GetAccountAuthorizationDetails walk."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from typing import Any

from auditor.collect.calls import Failed, Limiter, RepeatedToken, call
from auditor.collect.session import AccountSession
from auditor.model import AccessKey, ApiError, AttachedPolicy, GroupState, InlinePolicy, RoleState, UserState

READS = ("iam:GetAccountAuthorizationDetails", "iam:ListAccessKeys", "sts:GetCallerIdentity")


def _doc(value: Any) -> dict[str, Any]:
    """Policy documents arrive as dicts, JSON text or URL-encoded JSON text; anything but a JSON object is an error."""
    if not isinstance(value, dict):
        text = str(value)
        if text.startswith("%7B") or text.startswith("%7b"):
            text = urllib.parse.unquote(text)
        value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"a policy document is JSON {type(value).__name__}, not an object")
    return value


def _attached(items: list[dict[str, Any]]) -> tuple[AttachedPolicy, ...]:
    return tuple(AttachedPolicy(arn=p["PolicyArn"], name=p["PolicyName"]) for p in items or ())


def _inline(items: list[dict[str, Any]], ) -> tuple[InlinePolicy, ...]:
    return tuple(InlinePolicy(name=p["PolicyName"], document=_doc(p["PolicyDocument"])) for p in items or ())


async def collect_iam(acct: AccountSession, limit: Limiter) -> dict[str, Any]:
    """Users, groups, roles and managed policy documents; ``errors`` holds a refused walk."""
    out: dict[str, Any] = {"users": [], "groups": [], "roles": [], "managed": {}, "errors": []}
    if "iam" in acct.unsupported:
        out["errors"].append(ApiError("GetAccountAuthorizationDetails", "NotSupported",
                                      f"provider {acct.config.provider} has no IAM API"))
        return out
    iam = await acct.client("iam")
    marker: str | None = None
    pages = RepeatedToken("GetAccountAuthorizationDetails", "Marker")
    while True:
        params: dict[str, Any] = {"MaxItems": 1000}
        if marker:
            params["Marker"] = marker
        result = await call("GetAccountAuthorizationDetails", iam.get_account_authorization_details(**params), limit)
        if isinstance(result, Failed):
            out["errors"].append(result.error)
            return out
        resp = result.value
        try:
            _page(resp, out)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:  # not JSON, a missing field
            out["errors"].append(ApiError("GetAccountAuthorizationDetails", "MalformedResponse",
                                          f"{type(e).__name__}: {e}"[:300]))
            return out
        if not resp.get("IsTruncated"):
            break
        marker = resp.get("Marker")
        repeated = pages.repeated(marker)
        if repeated:
            out["errors"].append(repeated)
            return out
        if not marker:
            out["errors"].append(ApiError("GetAccountAuthorizationDetails", "MalformedResponse",
                                          "the answer said IsTruncated but gave no Marker for the next page"))
            return out
    return out


def _page(resp: dict[str, Any], out: dict[str, Any]) -> None:
    """One page of GetAccountAuthorizationDetails into ``out``."""
    for u in resp.get("UserDetailList", []):
        out["users"].append(UserState(
            name=u["UserName"], arn=u["Arn"],
            attached=_attached(u.get("AttachedManagedPolicies")),
            inline=_inline(u.get("UserPolicyList")),
            groups=tuple(u.get("GroupList", ())),
            boundary=(u.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        ))
    for g in resp.get("GroupDetailList", []):
        out["groups"].append(GroupState(
            name=g["GroupName"], arn=g["Arn"],
            attached=_attached(g.get("AttachedManagedPolicies")),
            inline=_inline(g.get("GroupPolicyList")),
        ))
    for r in resp.get("RoleDetailList", []):
        trust = r.get("AssumeRolePolicyDocument")
        out["roles"].append(RoleState(
            name=r["RoleName"], arn=r["Arn"],
            trust_policy=_doc(trust) if trust else None,
            attached=_attached(r.get("AttachedManagedPolicies")),
            inline=_inline(r.get("RolePolicyList")),
            boundary=(r.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        ))
    for p in resp.get("Policies", []):
        default = next((v for v in p.get("PolicyVersionList", []) if v.get("IsDefaultVersion")), None)
        if default and default.get("Document"):
            out["managed"][p["Arn"]] = _doc(default["Document"])


async def access_keys(acct: AccountSession, user: UserState, limit: Limiter) -> UserState:
    """The user with its access-key metadata (never the secrets)."""
    iam = await acct.client("iam")
    result = await call("ListAccessKeys", iam.list_access_keys(UserName=user.name), limit)
    if isinstance(result, Failed):
        return dataclasses.replace(user, errors=user.errors + (result.error,))
    resp = result.value
    keys = tuple(
        AccessKey(access_key_id=k["AccessKeyId"], status=k["Status"],
                  created=k["CreateDate"].isoformat() if hasattr(k.get("CreateDate"), "isoformat") else k.get("CreateDate"))
        for k in resp.get("AccessKeyMetadata", [])
    )
    return dataclasses.replace(user, access_keys=keys)
