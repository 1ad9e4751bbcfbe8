"""Shared by the access checks: who the vendor's caller is, which policies apply to it, and
how its request is put to the IAM evaluator (``auditor.policy``) with the context it really has.

The request context is the vendor's real request (:mod:`auditor.policy.requestctx`, PRODUCT.md
§5): over HTTPS from the vendor's own infrastructure (no VPC or access-point keys), not in the
customer's organisation, and without the keys its action can never carry. Keys only the vendor
knows (its source IP, a tag it sends) are passed as unknown, so a decision that hangs on them
comes back ``unknown`` naming the value that would flip it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.checks.registry import Outcome, Target
from auditor.model import AccountState, BucketState, Integration, Status
from auditor.policy import Decision, Request, Result, StatementRef, compile_cached, compile_policy, evaluate, requestctx
from auditor.policy.arns import arn_account as arn_account  # re-exported for the checks
from auditor.policy.evaluator import _action_matches as action_matches
from auditor.policy.public import is_public_policy
from auditor.policy.requestctx import REST_HEADER, Caller, RequestContext, combine, flip_text, policy_keys
from auditor.prefixes import norm_prefix  # noqa: F401  (re-exported for the checks)

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
VENDOR_SIDE = compile_policy(ALLOW_ALL, "vendor's own identity policy (assumed to allow)", "identity")
PROBE = "auditor-probe"


def no_role(integ: Integration) -> str:
    """Why a role-based vendor's rules cannot run: the integration names no role."""
    who = integ.profile.short_name if integ.profile else integ.vendor
    key = integ.profile.key_of_type("role-arn") if integ.profile else None
    return (f"Could not verify: no role is known through which {who} reads this bucket — set "
            f"{key.name if key else 'the role'} (the role {who} assumes) in the integration.")

# ----------------------------------------------------------------------------- policies


@dataclass(frozen=True, slots=True)
class NamedPolicy:
    """A policy document with the name evidence shows, and where a fix would go."""

    name: str
    document: Mapping[str, Any]
    kind: str  # "inline-user" | "inline-role" | "inline-group" | "managed" | "bucket" | "key" | "trust" | "boundary"
    owner: str = ""  # user/role/group name, bucket, key id, or managed policy ARN
    policy_name: str = ""  # inline policy name
    compiled: Any = None  # an already compiled form (e.g. a key policy with the key's grants)


def compiled(p: NamedPolicy, policy_type: str) -> Any:
    return p.compiled if p.compiled is not None else compile_cached(p.document, p.name, policy_type)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who sends the vendor's requests, and the caller-side policies that apply to it."""

    vendor: str
    arn: str
    type: str  # Request.principal_type
    account: str | None
    name: str
    kind: str  # "external" (another account; its own side is taken to allow) | "user" | "role"
    identity: tuple[NamedPolicy, ...] = ()
    boundary: NamedPolicy | None = None

    @property
    def cross_account(self) -> bool:
        return self.kind == "external"

    def describe(self) -> str:
        what = {"user": "IAM user", "role": "role", "external": "vendor principal"}[self.kind]
        return f"{what} {self.arn}"


def _managed(account: AccountState, arn: str) -> NamedPolicy | str:
    doc = account.managed_policies.get(arn)
    if doc is None:
        return f"the document of managed policy {arn} was not collected"
    return NamedPolicy(f"managed policy {arn}", doc, "managed", arn)


def _identity(account: AccountState, kind: str, owner: str, attached, inline) -> list[NamedPolicy] | str:
    out: list[NamedPolicy] = []
    for a in attached:
        p = _managed(account, a.arn)
        if isinstance(p, str):
            return p
        out.append(p)
    for p in inline:
        out.append(NamedPolicy(f"{kind} {owner} inline policy {p.name}", p.document, f"inline-{kind}", owner, p.name))
    return out


def iam_problem(account: AccountState) -> str | None:
    """Why this account's IAM state cannot be used, if it cannot."""
    err = account.error("GetAccountAuthorizationDetails")
    if err is not None:
        return err.describe()
    if "iam" in account.unsupported:
        return f"the provider ({account.provider}) has no IAM API the scanner can read"
    return None


def user_actor(account: AccountState, vendor: str, user_name: str) -> Actor | Outcome:
    problem = iam_problem(account)
    if problem:
        return Outcome(Status.UNKNOWN, f"Could not verify: {problem}.", {"user": user_name})
    user = account.user(user_name)
    if user is None:
        arn = f"arn:aws:iam::{account.account_id}:user/{user_name}"
        return Outcome(Status.FAIL, f"IAM user {user_name!r} does not exist in account {account.account_id}.",
                       {"user": user_name}, f"aws iam create-user --user-name {user_name}", resource=arn, missing=arn)
    policies = _identity(account, "user", user.name, user.attached, user.inline)
    if isinstance(policies, str):
        return Outcome(Status.UNKNOWN, f"Could not verify: {policies}.", {"user": user.arn}, principal=user.arn)
    for gname in user.groups:
        group = account.group(gname)
        if group is None:
            return Outcome(Status.UNKNOWN, f"Could not verify: group {gname!r} of user {user.name} was not collected.",
                           {"user": user.arn}, principal=user.arn)
        more = _identity(account, "group", group.name, group.attached, group.inline)
        if isinstance(more, str):
            return Outcome(Status.UNKNOWN, f"Could not verify: {more}.", {"user": user.arn}, principal=user.arn)
        policies += more
    boundary = _boundary(account, user.boundary, "user", user.arn)
    if isinstance(boundary, Outcome):
        return boundary
    return Actor(vendor, user.arn, "iam_user", account.account_id, user.name, "user", tuple(policies), boundary)


def _boundary(account: AccountState, arn: str | None, kind: str, owner: str) -> NamedPolicy | Outcome | None:
    """The principal's permissions boundary as a named policy, or why it cannot be read."""
    if not arn:
        return None
    b = _managed(account, arn)
    if isinstance(b, str):
        return Outcome(Status.UNKNOWN, f"Could not verify: {b}.", {kind: owner}, principal=owner)
    return NamedPolicy(f"permission boundary {arn}", b.document, "boundary", arn)


def role_actor(account: AccountState, vendor: str, role_arn: str) -> Actor | Outcome:
    problem = iam_problem(account)
    if problem:
        return Outcome(Status.UNKNOWN, f"Could not verify: {problem}.", {"role": role_arn}, principal=role_arn)
    role = account.role(role_arn)
    if role is None:
        return Outcome(Status.FAIL, f"Role {role_arn} does not exist in account {account.account_id}.",
                       {"role": role_arn}, resource=role_arn, principal=role_arn, missing=role_arn)
    policies = _identity(account, "role", role.name, role.attached, role.inline)
    if isinstance(policies, str):
        return Outcome(Status.UNKNOWN, f"Could not verify: {policies}.", {"role": role.arn}, principal=role.arn)
    boundary = _boundary(account, role.boundary, "role", role.arn)
    if isinstance(boundary, Outcome):
        return boundary
    return Actor(vendor, role.arn, "iam_role", account.account_id, role.name, "role", tuple(policies), boundary)


def external_actor(vendor: str, arn: str) -> Actor:
    kind = "iam_user" if ":user/" in arn else "account_root" if arn.endswith(":root") else "iam_role"
    return Actor(vendor, arn, kind, arn_account(arn), arn.rsplit("/", 1)[-1], "external")


def actor_for(target: Target, integ: Integration) -> Actor | Outcome:
    """The principal that makes ``integ``'s vendor requests, or an unknown/fail Outcome saying why not.

    How depends only on the profile's ``access``: its fixed principal named in the bucket policy, the
    role in the customer's account that it assumes, or the IAM user whose keys it holds.
    """
    profile = integ.profile
    if profile is None:
        return Outcome(Status.UNKNOWN, f"Could not verify: no vendor pack for '{integ.vendor}' is loaded "
                       "(add it with --rules-dir or [scan] rule_dirs).", {"vendor": integ.vendor})
    if profile.access == "fixed-principal":
        return external_actor(integ.vendor, profile.principal or "")
    if profile.access == "assumed-role":
        role_arn = integ.role_arn
        if not role_arn:
            return Outcome(Status.UNKNOWN, no_role(integ), {})
        return role_actor(target.account, integ.vendor, role_arn)
    user = integ.user_name
    if not user:
        return Outcome(Status.UNKNOWN, f"The integration names no IAM user for {integ.vendor}.", {})
    return user_actor(target.account, integ.vendor, user)


# ----------------------------------------------------------------------------- requests


def caller_of(actor: Actor) -> Caller:
    """The request model's view of the actor (a vendor principal of another account is outside the organisation)."""
    return Caller(actor.arn, actor.type, actor.account, actor.name, outside_org=actor.cross_account)


def request_context(actor: Actor, action: str, *, resource_account: str | None,
                    extra: Mapping[str, Any] | None = None, finished_at: str | None = None,
                    region: str | None = None, auth_type: str = REST_HEADER) -> RequestContext:
    """The vendor's direct request (:func:`auditor.policy.requestctx.direct`)."""
    return requestctx.direct(caller_of(actor), action, resource_account=resource_account, region=region,
                             time=finished_at, auth_type=auth_type, extra=extra)


@dataclass(frozen=True, slots=True)
class Asked:
    """One question put to the evaluator and its answer."""

    action: str
    resource: str
    result: Result
    note: str = ""  # e.g. "representative key, no sampled object"
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def decision(self) -> str:
        return self.result.decision.value

    @property
    def allowed(self) -> bool:
        return self.result.decision == Decision.ALLOWED

    @property
    def unknown(self) -> bool:
        return self.result.decision == Decision.UNKNOWN

    @property
    def denied(self) -> bool:
        return not self.allowed and not self.unknown

    def to_json(self) -> dict[str, Any]:
        r = self.result
        out: dict[str, Any] = {"action": self.action, "resource": self.resource, "decision": self.decision,
                               "reason": r.reason}
        if self.note:
            out["note"] = self.note
        deciding = [ref_json(s) for s in r.deciding]
        if deciding:
            out["deciding_statements"] = deciding
        if r.blocked_by:
            out["blocked_by"] = list(r.blocked_by)
        if r.undecided_conditions:
            out["undecided_conditions"] = list(r.undecided_conditions)
        if getattr(r, "undecided_keys", ()):
            out["undecided_keys"] = list(r.undecided_keys)  # the request values that would decide it
        return out


def ref_json(ref: StatementRef) -> dict[str, Any]:
    return {"policy": ref.policy, "sid": ref.sid, "index": ref.index, "effect": ref.effect,
            "policy_type": ref.policy_type, "statement": dict(ref.statement)}


# The checks ask thousands of questions that differ only in the resource: what does not depend on it is
# worked out once. Keyed by identity, each entry keeping what its key names alive (ids are not reused).
_CONTEXTS: dict[tuple[Any, ...], RequestContext] = {}
_KEYS: dict[tuple[int, ...], tuple[list[Any], frozenset[str]]] = {}
_PREPARED: dict[tuple[int, int], tuple[RequestContext, frozenset[str], frozenset[str], list[tuple[dict[str, Any], str]]]] = {}
_PUBLIC: dict[int, tuple[Any, tuple[bool, tuple[StatementRef, ...]]]] = {}
_LIMIT = 2048  # a few buckets' worth: most repeats are of one bucket's questions


def release_caches() -> None:
    """Forget what the questions of one evaluation worked out (compiled policies, their candidate statements,
    wildcard patterns, request contexts): an estate's worth, which the reports written next can use instead."""
    from auditor.policy import evaluator
    from auditor.policy.variables import wildcard

    for cache in (_CONTEXTS, _KEYS, _PREPARED, _PUBLIC, evaluator._CACHE):
        cache.clear()
    wildcard.cache_clear()


def _direct_context(actor: Actor, action: str, resource_account: str | None, extra: Mapping[str, Any] | None,
                    finished_at: str | None, region: str | None, auth_type: str) -> RequestContext:
    """``request_context`` for the vendor's direct request, made once per set of arguments."""
    try:
        key = (actor.arn, actor.type, actor.account, actor.name, actor.kind, action, resource_account,
               tuple(extra.items()) if extra else None, finished_at, region, auth_type)
        hash(key)
    except TypeError:  # an extra value that is not a plain value
        return request_context(actor, action, resource_account=resource_account, extra=extra,
                               finished_at=finished_at, region=region, auth_type=auth_type)
    rc = _CONTEXTS.get(key)
    if rc is None:
        if len(_CONTEXTS) > _LIMIT:
            _CONTEXTS.clear()
        rc = _CONTEXTS[key] = request_context(actor, action, resource_account=resource_account, extra=extra,
                                              finished_at=finished_at, region=region, auth_type=auth_type)
    return rc


def _policy_keys(docs: list[Mapping[str, Any] | None]) -> frozenset[str]:
    """``policy_keys(docs)``, once per list of document objects."""
    key = tuple(id(d) for d in docs)
    hit = _KEYS.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], docs, strict=True)):
        return hit[1]
    if len(_KEYS) > _LIMIT:
        _KEYS.clear()
    keys = frozenset(policy_keys(docs))
    _KEYS[key] = (list(docs), keys)
    return keys


def _prepared(rc: RequestContext, keys: frozenset[str]) -> tuple[frozenset[str], list[tuple[dict[str, Any], str]]]:
    """(the unknown keys, the context variants) of ``rc`` for policies consulting ``keys``, once per pair."""
    key = (id(rc), id(keys))
    hit = _PREPARED.get(key)
    if hit is not None and hit[0] is rc and hit[1] is keys:
        return hit[2], hit[3]
    if len(_PREPARED) > _LIMIT:
        _PREPARED.clear()
    unknown, variants = rc.unknown_keys(keys), rc.variants(keys)
    _PREPARED[key] = (rc, keys, unknown, variants)
    return unknown, variants


def ask(actor: Actor, action: str, resource: str, *, resource_account: str | None,
        resource_policy: NamedPolicy | None, resource_policy_required: bool = False,
        extra_context: Mapping[str, Any] | None = None, note: str = "", snapshot=None,
        region: str | None = None, auth_type: str = REST_HEADER, context: RequestContext | None = None) -> Asked:
    """Evaluate ``actor`` doing ``action`` on ``resource`` over every policy that applies.

    ``context``: a request context built by the caller (e.g. a KMS call S3 makes for the vendor);
    by default the vendor's direct request with ``auth_type`` and ``extra_context``."""
    if actor.cross_account:
        # The vendor's own side is taken to allow (its account, its policies).
        identity = [VENDOR_SIDE]
        docs: list[Mapping[str, Any] | None] = []
    else:
        identity = [compiled(p, "identity") for p in actor.identity]
        docs = [p.document for p in actor.identity]
    boundary = compiled(actor.boundary, "permission_boundary") if actor.boundary else None
    if actor.boundary:
        docs.append(actor.boundary.document)
    resource_doc = compiled(resource_policy, "resource") if resource_policy else None
    if resource_policy:
        docs.append(resource_policy.document)
    rc = context or _direct_context(actor, action, resource_account, extra_context,
                                    snapshot.finished_at if snapshot else None, region, auth_type)
    unknown, variants = _prepared(rc, _policy_keys(docs))
    answers = []
    for ctx, label in variants:  # one per possible value of e.g. s3:TlsVersion, if consulted
        request = Request(principal=actor.arn, principal_type=actor.type, action=action, resource=resource,
                          resource_account=resource_account, context=ctx, unknown_keys=unknown,
                          principal_account=actor.account)
        answers.append((label, evaluate(request, identity_policies=identity, resource_policy=resource_doc,
                                        permission_boundary=boundary,
                                        resource_policy_required=resource_policy_required)))
    return Asked(action, resource, combine(answers), note, rc.context)


def unmatched_actions(actor: Actor, bucket: BucketState, actions: Sequence[str]) -> frozenset[str]:
    """Of ``actions`` on ``bucket``, those no statement of a policy that applies to ``actor`` names (by its
    Action or NotAction; for a principal of another account, its own side is not counted: it is taken to
    allow everything, unconditionally). Such a request matches no statement whatever its resource or
    context, so the evaluator denies it implicitly in every variant of its context: asking is not needed
    to know it is neither allowed nor undecided."""
    policies = [] if actor.cross_account else [compiled(p, "identity") for p in actor.identity]
    if actor.boundary:
        policies.append(compiled(actor.boundary, "permission_boundary"))
    resource_policy = bucket_policy(bucket)
    if resource_policy is not None:
        policies.append(compiled(resource_policy, "resource"))
    statements = [st for p in policies if p is not None for st in p.statements]
    return frozenset(a for a in actions if a.lower().startswith("s3:")
                     and not any(action_matches(st, a) for st in statements))


def denied_unasked(action: str, resource: str, note: str = "") -> Asked:
    """The answer for a request :func:`unmatched_actions` lists: implicitly denied (nothing names it)."""
    return Asked(action, resource, Result(Decision.IMPLICITLY_DENIED, (), ()), note)


def bucket_policy(bucket: BucketState) -> NamedPolicy | None:
    if bucket.policy is None:
        return None
    return NamedPolicy(f"bucket policy of {bucket.name}", bucket.policy, "bucket", bucket.name)


def ask_s3(target: Target, actor: Actor, bucket: BucketState, action: str, key: str | None = None, *,
           prefix: str | None = None, note: str = "", auth_type: str = REST_HEADER) -> Asked:
    """An S3 request on ``bucket`` (``key`` for object actions; ``prefix`` as ``s3:prefix`` for listing);
    ``auth_type`` REST-QUERY-STRING for a browser's presigned URL."""
    resource = f"{bucket.arn}/{key}" if key is not None else bucket.arn
    extra = {"s3:prefix": prefix} if prefix is not None else None
    asked = ask(actor, action, resource, resource_account=bucket.account_id, resource_policy=bucket_policy(bucket),
                extra_context=extra, note=note, snapshot=target.snapshot, region=bucket.region, auth_type=auth_type)
    if asked.denied:
        return asked
    restricted = restrict_public_buckets(target.account, actor, bucket)
    if restricted is None:
        return asked
    decision, why = restricted
    if decision != Decision.UNKNOWN:
        return Asked(action, resource, Result(decision, (), (BPA,), note=why), note, asked.context)
    r = asked.result  # unknown: what the policies left undecided still counts
    return Asked(action, resource, Result(decision, r.deciding, (BPA,), note=why,
                                          undecided_conditions=r.undecided_conditions,
                                          undecided_keys=r.undecided_keys), note, asked.context)


BPA = "block-public-access"  # Result.blocked_by: S3's Block Public Access decided, not a policy


def _public(policy: Mapping[str, Any], owner: str) -> tuple[bool, tuple[StatementRef, ...]]:
    """``is_public_policy`` once per bucket policy object: every request of another account asks it."""
    hit = _PUBLIC.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    if len(_PUBLIC) > _LIMIT:
        _PUBLIC.clear()
    answer = is_public_policy(policy, owner)
    _PUBLIC[id(policy)] = (policy, answer)  # keeps the policy alive so its id is not reused while cached
    return answer


def restrict_public_buckets(account: AccountState, actor: Actor, bucket: BucketState) -> tuple[Decision, str] | None:
    """What Block Public Access's RestrictPublicBuckets does to a request from another account: with it on (for
    the bucket or the account) and a public bucket policy, S3 lets in only AWS services and the bucket owner's
    account, "including non-public delegation to specific accounts" (AWS S3 User Guide, "Blocking public access
    to your Amazon S3 storage"). None when it does not decide: same account, a policy that is not public, the
    setting off, a provider without Block Public Access; UNKNOWN with the reason when the setting could not be read."""
    if account.provider != "aws" or bucket.policy is None or actor.account == bucket.account_id:
        return None
    public, statements = _public(bucket.policy, bucket.account_id)
    if not public:
        return None
    sids = ", ".join(s.name for s in statements)
    unread = []
    for level, conf, err in (("bucket", bucket.public_access_block, bucket.error("GetPublicAccessBlock")),
                             ("account", account.public_access_block, account.error("GetAccountPublicAccessBlock"))):
        if conf and conf.get("RestrictPublicBuckets") is True:
            return (Decision.IMPLICITLY_DENIED,
                    f"Block Public Access ({level}) has RestrictPublicBuckets on and the bucket policy is public "
                    f"(statement(s) {sids}): S3 refuses every other account, {actor.arn} included")
        if err is not None and err.code != "NotSupported":
            unread.append(f"{level} Block Public Access ({err.describe()})")
    if unread:
        return (Decision.UNKNOWN, f"the bucket policy is public (statement(s) {sids}), so RestrictPublicBuckets "
                f"decides whether another account gets in, and it could not be read: {'; '.join(unread)}")
    return None


# ----------------------------------------------------------------------------- keys


def sampled_keys(bucket: BucketState, prefix: str, limit: int = 20) -> list[str]:
    return [o.key for o in bucket.objects if o.key.startswith(prefix) and not o.key.endswith("/")][:limit]


def keys_under(bucket: BucketState, prefix: str, limit: int = 20) -> list[tuple[str, str]]:
    """Sampled keys under ``prefix`` plus a representative key for the prefix itself.

    The representative key (``{prefix}auditor-probe``) checks the grant covers the whole
    prefix, not only the objects that happen to exist.
    """
    out = [(k, "sampled object") for k in sampled_keys(bucket, prefix, limit)]
    probe = f"{prefix}{PROBE}"
    note = ("representative key for the prefix (no sampled object under it)" if not out
            else "representative key for the prefix")
    out.append((probe, note))
    return out


def summarise(asked: Sequence[Asked]) -> tuple[Status, list[Asked], list[Asked]]:
    """(status, denied, unknown): any denied → fail; else any unknown → unknown; else pass."""
    denied = [a for a in asked if a.denied]
    unknown = [a for a in asked if a.unknown]
    if denied:
        return Status.FAIL, denied, unknown
    if unknown:
        return Status.UNKNOWN, denied, unknown
    return Status.PASS, denied, unknown


def conditions_text(asked: Sequence[Asked]) -> str:
    """What the undecided answers hang on, naming the values that would flip them ("" if nothing)."""
    unread = dict.fromkeys(a.result.note for a in asked if a.unknown and BPA in a.result.blocked_by and a.result.note)
    return "; ".join(t for t in (flip_text(a.result for a in asked), *unread) if t)
