"""The request context of the request a vendor really makes: what AWS puts in it, what it leaves
out, and what nobody but the vendor can know.

Everything vendor-specific comes in as parameters (who calls, whether browsers also fetch through
presigned URLs); the rest is fixed by how a vendor reaches a customer's bucket — directly, over
HTTPS, from its own infrastructure — and by which keys an action can carry at all (the Service
Authorization Reference, :mod:`auditor.policy.actions`). A key is then one of:

- known: its value is in the context (``aws:SecureTransport``, ``s3:ResourceAccount``, …);
- absent: the request never carries it (``aws:SourceVpce``, ``s3:x-amz-acl`` on ``GetObject``);
- unknown: only the vendor knows it (its source IP, a tag it sends). Only these can make an
  answer ``unknown``, and :func:`flip_text` names them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from auditor.policy.actions import can_carry
from auditor.policy.evaluator import Decision, Result
from auditor.policy.variables import variable_keys

# Keys whose value is one of a few: AWS API endpoints accept TLS 1.2 or 1.3 only (AWS requires
# TLS 1.2 at least on every API endpoint), so a request's s3:TlsVersion is 1.2 or 1.3.
CHOICES: dict[str, tuple[str, ...]] = {"s3:TlsVersion": ("1.2", "1.3")}

REST_HEADER = "REST-HEADER"  # a back end signing the Authorization header
REST_QUERY_STRING = "REST-QUERY-STRING"  # a browser fetching a presigned URL
SIGV4 = "AWS4-HMAC-SHA256"

# Keys a direct call from the vendor's own infrastructure never carries: it does not come through
# the customer's VPC or an access point, it is not an AWS service acting for someone, not
# MFA-authenticated console use, not S3 Access Grants (IAM User Guide, "AWS global condition
# context keys"; S3 User Guide, "Bucket policy examples using condition keys").
DIRECT_ABSENT = frozenset(k.lower() for k in (
    "aws:SourceVpc", "aws:SourceVpce", "aws:VpcSourceIp", "aws:SourceVpcArn",
    "aws:SourceArn", "aws:SourceAccount", "aws:SourceOwner", "aws:SourceOrgID", "aws:SourceOrgPaths",
    "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast",
    "aws:MultiFactorAuthPresent", "aws:MultiFactorAuthAge", "aws:FederatedProvider",
    "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList", "sts:ExternalId",
    "s3:DataAccessPointArn", "s3:DataAccessPointAccount", "s3:AccessGrantsInstanceArn",
))
# A principal of another account is not in the customer's organisation.
ORG_KEYS = frozenset(("aws:principalorgid", "aws:principalorgpaths", "aws:principalorgmasteraccount"))
# Never known to the scanner, whatever the policies say.
ALWAYS_UNKNOWN = ("aws:SourceIp",)

# What the value of an unknown key is, in words, for messages (prefix match on the lowercase key).
_WHAT = (
    ("aws:sourceip", "the IP address the vendor's requests come from"),
    ("aws:principaltag/", "a tag on the vendor's principal"),
    ("aws:requesttag/", "a tag the vendor sends with the request"),
    ("aws:resourcetag/", "a tag on the resource"),
    ("aws:tagkeys", "the tag keys the vendor sends"),
    ("aws:referer", "the Referer header of the request"),
    ("aws:useragent", "the vendor's client (User-Agent)"),
    ("aws:tokenissuetime", "when the vendor's session credentials were issued"),
    ("aws:userid", "the vendor's principal id"),
    ("aws:ec2instancesource", "the vendor's EC2 instance"),
    ("s3:tlsversion", "the TLS version of the vendor's client"),
    ("s3:signatureage", "how long ago the request (or presigned URL) was signed"),
    ("s3:existingobjecttag/", "a tag on the object"),
    ("s3:requestobjecttag", "an object tag the vendor sends"),
    ("s3:x-amz-", "a header the vendor sends"),
    ("s3:delimiter", "the delimiter the vendor lists with"),
    ("s3:max-keys", "the page size the vendor lists with"),
    ("s3:versionid", "the object version the vendor asks for"),
)


def describe_key(key: str) -> str:
    """``aws:SourceIp`` → ``aws:SourceIp (the IP address the vendor's requests come from)``."""
    low = key.lower()
    for prefix, what in _WHAT:
        if low.startswith(prefix):
            return f"{key} ({what})"
    return key


@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes the request: the vendor-specific inputs."""

    arn: str
    principal_type: str  # auditor.policy.Request.principal_type
    account: str | None
    name: str | None = None  # the IAM user's name (aws:username)
    outside_org: bool = False  # another company's account: not in the customer's organisation


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The context of one request, and the keys it certainly does not carry (lowercase)."""

    action: str
    context: Mapping[str, Any]
    absent: frozenset[str] = frozenset()
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # key -> its possible values

    def variants(self, policy_keys: Iterable[str]) -> list[tuple[dict[str, Any], str]]:
        """The contexts to decide over: one per possible value of each key with a few possible values
        that the policies consult (with a label such as ``s3:TlsVersion=1.2``); just the context otherwise."""
        used = {k.lower() for k in policy_keys}
        out: list[tuple[dict[str, Any], str]] = [(dict(self.context), "")]
        for key, values in self.choices.items():
            if key.lower() not in used or any(k.lower() == key.lower() for k in self.context):
                continue
            out = [({**ctx, key: v}, f"{label}, {key}={v}".lstrip(", ")) for ctx, label in out for v in values]
        return out

    def unknown_keys(self, policy_keys: Iterable[str]) -> frozenset[str]:
        """Of the condition keys the policies use, those only the vendor knows.

        A key is known when the context has it, absent when the request never carries it (fixed
        facts, or the action cannot carry it per the Service Authorization Reference); the rest are
        unknown, as is ``aws:SourceIp`` always.
        """
        known = {k.lower() for k in self.context} | {k.lower() for k in self.choices}
        out = set()
        for key in policy_keys:
            low = key.lower()
            if low in known or low in self.absent:
                continue
            if can_carry(self.action, key) is False:
                continue  # e.g. s3:x-amz-acl on GetObject, s3:delimiter on GetBucketAcl
            out.add(key)
        out.update(k for k in ALWAYS_UNKNOWN if k.lower() not in known)
        return frozenset(out)


def policy_keys(docs: Iterable[Mapping[str, Any] | None]) -> set[str]:
    """Every request key the policies consult: condition keys, and the keys their ``${...}``
    variables name (in Resource, NotResource and condition values; only under Version 2012-10-17)."""
    keys: set[str] = set()
    for doc in docs:
        if not isinstance(doc, Mapping):
            continue
        variables = doc.get("Version") == "2012-10-17"
        raw = doc.get("Statement", [])
        for st in [raw] if isinstance(raw, Mapping) else list(raw or []):
            if not isinstance(st, Mapping):
                continue
            texts: list[str] = []
            for element in ("Resource", "NotResource"):
                value = st.get(element)
                texts += [str(v) for v in (value if isinstance(value, list) else [value]) if v is not None]
            cond = st.get("Condition")
            for block in (cond.values() if isinstance(cond, Mapping) else ()):
                if isinstance(block, Mapping):
                    keys.update(str(k) for k in block)
                    for v in block.values():
                        texts += [str(x) for x in (v if isinstance(v, list) else [v])]
            if variables:
                for text in texts:
                    keys.update(variable_keys(text))
    return keys


@lru_cache(maxsize=64)
def _time_keys(time: str) -> tuple[tuple[str, str], ...]:
    out = [("aws:CurrentTime", time)]
    try:
        out.append(("aws:EpochTime", str(int(dt.datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp()))))
    except ValueError:
        pass
    return tuple(out)


def _now(time: str | None) -> dict[str, Any]:
    return dict(_time_keys(time)) if time else {}


def _principal(caller: Caller) -> dict[str, Any]:
    ctx: dict[str, Any] = {"aws:PrincipalArn": caller.arn, "aws:PrincipalIsAWSService": "false"}
    if caller.account:
        ctx["aws:PrincipalAccount"] = caller.account
    if caller.principal_type == "iam_user":
        ctx["aws:PrincipalType"] = "User"
        if caller.name:
            ctx["aws:username"] = caller.name
    elif caller.principal_type in ("iam_role", "assumed_role_session"):
        ctx["aws:PrincipalType"] = "AssumedRole"
    elif caller.principal_type == "account_root":
        ctx["aws:PrincipalType"] = "Account"
    return ctx


def _absent(caller: Caller) -> frozenset[str]:
    return DIRECT_ABSENT | ORG_KEYS if caller.outside_org else DIRECT_ABSENT


def direct(caller: Caller, action: str, *, resource_account: str | None, region: str | None = None,
           time: str | None = None, auth_type: str = REST_HEADER,
           extra: Mapping[str, Any] | None = None) -> RequestContext:
    """A request the vendor sends itself, over HTTPS, from its own infrastructure.

    For S3: ``s3:ResourceAccount`` is the bucket owner, ``s3:authType`` says whether a back end
    signed the header or a browser fetched a presigned URL, signed with SigV4. A ListBucket with no
    ``s3:prefix`` in ``extra`` lists from the root: the key is absent.
    """
    ctx: dict[str, Any] = {"aws:SecureTransport": "true", "aws:ViaAWSService": "false", **_principal(caller)}
    if resource_account:
        ctx["aws:ResourceAccount"] = resource_account
    if region:
        ctx["aws:RequestedRegion"] = region
    ctx.update(_now(time))
    absent = set(_absent(caller))
    service = action.split(":", 1)[0].lower()
    if service == "s3":
        if resource_account:
            ctx["s3:ResourceAccount"] = resource_account
        ctx["s3:authType"] = auth_type
        ctx["s3:signatureversion"] = SIGV4
    elif service == "kms" and caller.account:
        ctx["kms:CallerAccount"] = caller.account
    if extra:
        ctx.update(extra)
    if service == "s3" and not (extra and any(k.lower() == "s3:prefix" for k in extra)):
        absent.add("s3:prefix")
    choices = {k: v for k, v in CHOICES.items() if k.split(":", 1)[0].lower() == service}
    return RequestContext(action, ctx, frozenset(absent), choices)


def kms_via_s3(caller: Caller, action: str, *, key_account: str | None, region: str | None,
               encryption_context_arn: str, time: str | None = None) -> RequestContext:
    """The KMS call S3 makes on the vendor's behalf when it reads or writes an SSE-KMS object.

    KMS Developer Guide: ``kms:ViaService`` is ``s3.<region>.amazonaws.com``, ``kms:CallerAccount``
    the vendor's account, the encryption context ``aws:s3:arn`` the object's ARN (the bucket's ARN
    with S3 Bucket Keys); the call comes through an AWS service (``aws:ViaAWSService`` true).
    """
    ctx: dict[str, Any] = {"aws:SecureTransport": "true", "aws:ViaAWSService": "true", **_principal(caller)}
    if key_account:
        ctx["aws:ResourceAccount"] = key_account
    if region:
        ctx["aws:RequestedRegion"] = region
        ctx["kms:ViaService"] = f"s3.{region}.amazonaws.com"
    ctx.update(_now(time))
    if caller.account:
        ctx["kms:CallerAccount"] = caller.account
    ctx["kms:EncryptionContext:aws:s3:arn"] = encryption_context_arn
    ctx["kms:EncryptionContextKeys"] = ["aws:s3:arn"]
    ctx["kms:EncryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
    return RequestContext(action, ctx, _absent(caller))


def combine(results: Sequence[tuple[str, Result]]) -> Result:
    """One answer from the answers for each possible value (:meth:`RequestContext.variants`): the
    common one when they agree, else ``unknown`` naming the key and what each value gives."""
    first = results[0][1]
    if all(r.decision == first.decision for _, r in results):
        return first
    keys: dict[str, None] = {}
    for label, r in results:
        for part in label.split(", "):
            keys[part.split("=", 1)[0]] = None
        for k in r.undecided_keys:
            keys[k] = None
    deciding = tuple({(ref.policy, ref.index): ref for _, r in results for ref in r.deciding}.values())
    outcomes = tuple(f"{label}: {r.decision.value.replace('_', ' ')}" for label, r in results)
    conditions = tuple(dict.fromkeys(c for _, r in results for c in r.undecided_conditions)) + outcomes
    return Result(Decision.UNKNOWN, deciding, (), f"the decision depends on the value of {', '.join(keys)}: "
                  + "; ".join(outcomes), conditions, tuple(keys))


def flip_text(results: Iterable[Any]) -> str:
    """What an unknown answer hangs on, naming the values that would flip it.

    ``results``: evaluator Results (or anything with ``undecided_keys`` / ``undecided_conditions``);
    "" when nothing is undecided.
    """
    keys: dict[str, None] = {}
    conditions: dict[str, None] = {}
    for r in results:
        for k in getattr(r, "undecided_keys", ()):
            keys[k] = None
        for c in getattr(r, "undecided_conditions", ()):
            conditions[c] = None
    if not keys and not conditions:
        return ""
    conds = "; ".join(sorted(conditions))
    if not keys:
        return conds
    named = ", ".join(describe_key(k) for k in keys)
    return f"the value of {named}, which the scanner cannot know ({conds})"


__all__ = ["ALWAYS_UNKNOWN", "Caller", "DIRECT_ABSENT", "REST_HEADER", "REST_QUERY_STRING", "RequestContext",
           "combine", "describe_key", "direct", "flip_text", "kms_via_s3", "policy_keys"]
