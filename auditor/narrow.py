"""Least privilege as edits to the policies that exist: what ``plan`` proposes and the excess finding's
remediation (one computation, so the two always propose the same change).

What the vendor's principal should be allowed on the integration's buckets is the vendor profile's
``[[plan.statements]]`` for its mode (the *templates*: the guide's statements, narrowed to the zones).
From the policies that exist, the edits get there without ever widening a statement:

* a statement that may grant the vendor more than the templates (an *excess* statement, found by
  putting the requests the vendor could make to the IAM evaluator) is replaced by its intersection
  with them: the vendor's principal and no other, the actions and resources both allow, and every
  condition it had (a template's condition is added only on a key it did not constrain) — the
  result never allows what the statement did not;
* what the statement granted other principals, other buckets, or other services' explicitly named
  actions stays as it was, in a statement of its own; statements that do not concern the vendor are
  kept byte for byte, in order;
* what the vendor still lacks is granted as the templates, restricted to exactly what is missing:
  nothing another policy of the principal (an attached or group policy) already grants is repeated;
* a managed policy attached to the principal, or a group it belongs to, that grants excess is
  detached (the user leaves the group); what the integration needs from it moves to the inline policy.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from auditor import remediation as rem
from auditor.model import AccountState, BucketState, Integration, RoleState
from auditor.policy.arns import arn_account
from auditor.policy.variables import wildcard
from auditor.profile import render

PROBE = "auditor-probe"
OUTSIDE = "auditor-outside-scope/"
PRINCIPAL_KEYS = ("Principal", "NotPrincipal")


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, (str, Mapping)) else list(value)


def _shape(values: list[Any], like: Any) -> Any:
    """A one-element list as a bare value when the template wrote a bare value."""
    return values[0] if len(values) == 1 and not isinstance(like, list) else list(values)


# ----------------------------------------------------------------------------- templates


def plan_statements(integ: Integration, bucket: BucketState | None) -> list[dict[str, Any]]:
    """The profile's ``[[plan.statements]]`` for the integration's mode, rendered: the vendor's requirement.

    A statement with ``when_key_suffix`` counts only when a sampled key of ``bucket`` ends with it (V7
    lists a bucket only for MIRAX slides)."""
    profile = integ.profile
    if profile is None:
        return []
    values = profile.plan_values(integ.options, integ.bucket, integ.mode)
    keys = [o.key for o in bucket.objects] if bucket is not None else []
    out = []
    for t in profile.plan.statements:
        if integ.mode not in t.modes:
            continue
        if t.when_key_suffix and not any(k.lower().endswith(t.when_key_suffix) for k in keys):
            continue
        if t.unless_same and len({str(render(x, values)) for x in t.unless_same}) == 1:
            continue
        st = render(dict(t.statement), values)
        if t.condition_unless_empty and not values.get(t.condition_unless_empty):
            st.pop("Condition", None)
        out.append(st)
    return out


# ----------------------------------------------------------------------------- patterns


def _wild(text: str) -> bool:
    return "*" in text or "?" in text


def covers(outer: str, inner: str, *, ignore_case: bool = False) -> bool:
    """Does the IAM pattern ``outer`` match everything ``inner`` (a pattern too) matches? Sound, not complete:
    when it cannot tell, the answer is no."""
    if ignore_case:
        outer, inner = outer.lower(), inner.lower()
    if outer == inner:
        return True
    if "${" in outer or "${" in inner:
        return False
    if not _wild(inner):
        return bool(wildcard(outer).fullmatch(inner))
    head = outer[:-1]
    return outer.endswith("*") and not _wild(head) and inner.startswith(head)


def _service(action: str) -> str:
    return action.split(":", 1)[0].lower() if ":" in action else "*"


def resource_bucket(resource: str) -> str | None:
    """The bucket an S3 ARN (pattern) names literally: ``arn:aws:s3:::b/x/*`` → ``b``; None otherwise."""
    if not resource.startswith("arn:aws:s3:::"):
        return None
    name = resource[len("arn:aws:s3:::"):].split("/", 1)[0]
    return None if not name or _wild(name) or "${" in name else name


def touches(resource: str, bucket: str) -> bool:
    """Can the Resource pattern match ``bucket`` or one of its objects? (a policy variable may be anything)"""
    import re

    pattern = re.sub(r"\$\{[^}]*\}", "*", resource)
    arn = f"arn:aws:s3:::{bucket}"
    rx = wildcard(pattern)
    if rx.fullmatch(arn) or rx.fullmatch(f"{arn}/{PROBE}"):
        return True
    parts = pattern.split(":", 5)
    if len(parts) < 6 or "/" not in parts[5]:
        return False
    return bool(wildcard(parts[2]).fullmatch("s3") and wildcard(parts[5].split("/", 1)[0]).fullmatch(bucket))


# ----------------------------------------------------------------------------- conditions


def merged_conditions(own: Mapping[str, Any] | None, added: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``own`` with ``added``'s operator/key pairs on keys ``own`` does not constrain (all must hold: only narrower)."""
    out: dict[str, Any] = {op: dict(block) for op, block in (own or {}).items() if isinstance(block, Mapping)}
    constrained = {str(k).lower() for block in out.values() for k in block}
    for op, block in (added or {}).items():
        if not isinstance(block, Mapping):
            continue
        for key, value in block.items():
            if str(key).lower() in constrained:
                continue
            out.setdefault(op, {})[key] = copy.deepcopy(value)
    return out or None


# ----------------------------------------------------------------------------- statements


def principal_values(stmt: Mapping[str, Any]) -> list[str] | None:
    """The ``Principal.AWS`` values of a statement; None when it names anyone (``*``) or uses NotPrincipal."""
    if "NotPrincipal" in stmt:
        return None
    p = stmt.get("Principal")
    if p == "*" or not isinstance(p, Mapping):
        return None
    aws = p.get("AWS")
    if aws == "*" or (isinstance(aws, list) and "*" in aws):
        return None
    return [str(v) for v in as_list(aws)]


@dataclass(frozen=True, slots=True)
class Vendor:
    """Who the vendor's principal is, and which principal values in a resource policy name it."""

    arn: str
    account: str | None
    fixed: bool  # the vendor's own principal (another account), not a user or role of the customer's

    def names(self, value: str) -> bool:
        if value == self.arn:
            return True
        return self.fixed and bool(self.account) and value in (self.account, f"arn:aws:iam::{self.account}:root")


def split_principal(stmt: Mapping[str, Any], mine: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """(the statement for the other principals it names, or None; the ``Principal.AWS`` values ``mine`` accepts)."""
    p = stmt["Principal"]
    values = [str(v) for v in as_list(p.get("AWS"))]
    ours = [v for v in values if mine(v)]
    rest = [v for v in values if not mine(v)]
    others = {k: v for k, v in p.items() if k != "AWS"}
    if rest:
        others["AWS"] = rest[0] if len(rest) == 1 and not isinstance(p.get("AWS"), list) else rest
    if not others:
        return None, ours
    kept = copy.deepcopy(dict(stmt))
    kept["Principal"] = others
    return kept, ours


def remainders(stmt: Mapping[str, Any], buckets: Sequence[str]) -> list[dict[str, Any]]:
    """What an excess statement grants away from the integration, kept as it was: its resources that cannot
    touch the integration's buckets (all its actions there), and other services' actions it names one by one
    (on its resources here). Both are parts of the statement, never more."""
    if "NotAction" in stmt or "NotResource" in stmt or "Resource" not in stmt:
        return []
    out = []
    resources = [str(r) for r in as_list(stmt.get("Resource"))]
    elsewhere = [r for r in resources if not any(touches(r, b) for b in buckets)]
    here = [r for r in resources if r not in elsewhere]
    if elsewhere:
        out.append({**copy.deepcopy(dict(stmt)), "Resource": _shape(elsewhere, stmt.get("Resource"))})
    named = [str(a) for a in as_list(stmt.get("Action")) if not _wild(str(a)) and _service(str(a)) != "s3"]
    if named and here:
        out.append({**copy.deepcopy(dict(stmt)), "Action": _shape(named, stmt.get("Action")),
                    "Resource": _shape(here, stmt.get("Resource"))})
    return out


def _action_allowed(stmt: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in stmt:
        return not any(covers(str(p), action, ignore_case=True) or _overlap(str(p), action)
                       for p in as_list(stmt["NotAction"]))
    return any(covers(str(p), action, ignore_case=True) for p in as_list(stmt.get("Action")))


def _overlap(pattern: str, action: str) -> bool:
    """Could ``pattern`` match some action ``action`` (a pattern) matches? (conservative: yes when unsure)"""
    if not _wild(action):
        return bool(wildcard(pattern.lower()).fullmatch(action.lower()))
    return True


def _resource_allowed(stmt: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in stmt:
        return not any(covers(str(p), resource) or covers(resource, str(p)) or _overlap(str(p), resource)
                       or "${" in str(p) for p in as_list(stmt["NotResource"]))
    if "Resource" not in stmt:
        return False
    return any(covers(str(p), resource) for p in as_list(stmt.get("Resource")))


def intersection(stmt: Mapping[str, Any], template: Mapping[str, Any], actions: Sequence[str],
                 resources: Sequence[str], principal: list[str] | None) -> dict[str, Any] | None:
    """The part of ``stmt`` that allows ``actions`` on ``resources`` (both within ``template``), as a statement:
    ``principal`` (a part of the statement's own, or None in an identity policy), the statement's conditions
    and the template's on keys the statement leaves open. None when the statement allows none of it."""
    acts = [a for a in actions if _action_allowed(stmt, a)]
    res = [r for r in resources if _resource_allowed(stmt, r)]
    if not acts or not res:
        return None
    parts: dict[str, Any] = {}
    sid = template.get("Sid") or stmt.get("Sid")
    if sid:
        parts["Sid"] = sid
    parts["Effect"] = "Allow"
    if principal is not None:
        parts["Principal"] = {"AWS": principal[0] if len(principal) == 1 else list(principal)}
    parts["Action"] = _shape(acts, template.get("Action"))
    parts["Resource"] = _shape(res, template.get("Resource"))
    cond = merged_conditions(stmt.get("Condition"), template.get("Condition"))
    if cond:
        parts["Condition"] = cond
    # In the statement's own order of elements (a smaller diff), then the template's.
    order = [k for k in stmt if k in parts] + [k for k in ("NotAction", "NotResource") if k in stmt]
    order = [{"NotAction": "Action", "NotResource": "Resource"}.get(k, k) for k in order]
    out = {k: parts[k] for k in dict.fromkeys(order) if k in parts}
    out.update({k: v for k, v in parts.items() if k not in out})
    return out


# ----------------------------------------------------------------------------- where policies live


@dataclass
class Holder:
    """A policy document that grants the vendor's principal, and where a change to it goes."""

    kind: str  # "bucket" | "inline-user" | "inline-role" | "inline-group" | "managed"
    owner: str  # bucket, user, role or group name; a managed policy's ARN
    name: str = ""  # an inline policy's name (a managed policy's, for messages)
    document: Mapping[str, Any] | None = None
    group: str = ""  # a policy the user has through this group
    new: bool = False  # created by the plan

    @property
    def identity(self) -> bool:
        return self.kind != "bucket"

    @property
    def detachable(self) -> bool:
        """A policy the principal stops using as a whole (it may be shared): managed, or through a group."""
        return self.kind == "managed" or bool(self.group)

    def label(self) -> str:
        return {"bucket": f"bucket policy of {self.owner}", "inline-user": f"inline policy {self.name} of user {self.owner}",
                "inline-role": f"inline policy {self.name} of role {self.owner}",
                "inline-group": f"inline policy {self.name} of group {self.owner}",
                "managed": f"managed policy {self.owner}"}[self.kind]


@dataclass
class Edit:
    """One change to one policy: ``put`` (the whole new document), ``delete``, ``detach`` (a managed policy from
    the principal) or ``leave-group``."""

    action: str
    holder: Holder
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    # Statements of ``after`` that were not there before: (statement, "narrowed" | "template", its source).
    new: list[tuple[dict[str, Any], str, Mapping[str, Any]]] = field(default_factory=list)


@dataclass
class GrantPlan:
    vendor: Vendor
    principal_kind: str  # "external" | "user" | "role"
    principal_name: str
    templates: list[dict[str, Any]]
    edits: list[Edit] = field(default_factory=list)
    narrowed: bool = False  # an excess statement was narrowed, or a policy detached
    blocked: list[str] = field(default_factory=list)  # needed requests an explicit Deny refuses
    delete_needed: frozenset[str] = frozenset()  # buckets where the templates grant deletes


# ----------------------------------------------------------------------------- asking the evaluator


_DELETE = ("s3:deleteobject", "s3:deleteobjectversion", "s3:delete*", "s3:*", "*")


@lru_cache(maxsize=1)
def _candidates() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from auditor.checks.privilege import is_bucket_action, is_object_action
    from auditor.policy import expand_actions

    every = sorted(expand_actions("s3:*"))
    return tuple(a for a in every if is_bucket_action(a)), tuple(a for a in every if is_object_action(a))


@lru_cache(maxsize=4096)
def _expand(pattern: str) -> frozenset[str]:
    from auditor.policy import expand_actions

    return expand_actions(pattern)


def _statement_actions(stmt: Mapping[str, Any]) -> set[str]:
    """The S3 actions a statement may allow (every one for NotAction)."""
    bucket_actions, object_actions = _candidates()
    every = set(bucket_actions) | set(object_actions)
    if "NotAction" in stmt:
        allowed = set(every)
        for p in as_list(stmt["NotAction"]):
            allowed -= _expand(str(p))
        return allowed
    out: set[str] = set()
    for p in as_list(stmt.get("Action")):
        out |= _expand(str(p)) & every
    return out


class _Asker:
    """Puts the vendor's requests to the evaluator, over a given set of policies."""

    def __init__(self, account: AccountState, integ: Integration, actor: Any, finished_at: str | None):
        from auditor.checks._access import NamedPolicy, ask

        self._ask, self._named = ask, NamedPolicy
        self.account, self.integ, self.actor, self.finished_at = account, integ, actor, finished_at
        profile = integ.profile
        self.presigned = {a for r in (profile.requests if profile else ()) if r.auth == "presigned"
                          and integ.mode in r.modes for a in (r.actions or ("s3:GetObject",))}

    def auth_types(self, action: str) -> list[str]:
        from auditor.policy.requestctx import REST_HEADER, REST_QUERY_STRING

        return [REST_HEADER, REST_QUERY_STRING] if action in self.presigned else [REST_HEADER]

    def decision(self, action: str, resource: str, prefix: str | None, *, identity: Sequence[Mapping[str, Any]],
                 resource_policy: Mapping[str, Any] | None, bucket: str) -> str:
        """allowed | unknown | explicit | implicit, over every auth type the vendor uses for ``action``."""
        actor = self.actor
        if not actor.cross_account:
            actor = dataclasses.replace(actor, identity=tuple(
                self._named(f"policy {i}", d, "inline-user", actor.name) for i, d in enumerate(identity)))
        policy = self._named(f"bucket policy of {bucket}", resource_policy, "bucket", bucket) if resource_policy else None
        state = self.account.bucket(bucket)
        answers = []
        for auth in self.auth_types(action):
            a = self._ask(actor, action, resource, resource_account=state.account_id if state else self.account.account_id,
                          resource_policy=policy, extra_context={"s3:prefix": prefix} if prefix is not None else None,
                          region=state.region if state else None, auth_type=auth,
                          snapshot=_Finished(self.finished_at))
            answers.append("allowed" if a.allowed else "unknown" if a.unknown else
                           "explicit" if a.decision == "explicitly_denied" else "implicit")
        for worst in ("explicit", "implicit", "unknown"):
            if worst in answers:
                return worst
        return "allowed"


@dataclass(frozen=True, slots=True)
class _Finished:
    finished_at: str | None


# ----------------------------------------------------------------------------- the grant plan


def _actor(account: AccountState, integ: Integration) -> tuple[Any, Vendor, str] | str:
    from auditor.checks._access import Actor, external_actor, role_actor, user_actor

    profile = integ.profile
    if profile is None:
        return f"no vendor pack for '{integ.vendor}' is loaded"
    if profile.access == "fixed-principal":
        if not profile.principal:
            return f"the {profile.id} pack names no principal"
        account_id = profile.account or arn_account(profile.principal)
        return external_actor(integ.vendor, profile.principal), Vendor(profile.principal, account_id, True), "external"
    if profile.access == "assumed-role":
        name = (integ.role_arn or "").split("/")[-1]
        found = role_actor(account, integ.vendor, integ.role_arn or "")
        arn = integ.role_arn or f"arn:aws:iam::{account.account_id}:role/{name}"
        kind, type_ = "role", "iam_role"
        exists = account.role(integ.role_arn or "") is not None
    else:
        name = integ.user_name or ""
        found = user_actor(account, integ.vendor, name)
        arn = f"arn:aws:iam::{account.account_id}:user/{name}"
        kind, type_ = "user", "iam_user"
        exists = account.user(name) is not None
    if isinstance(found, Actor):
        return found, Vendor(found.arn, account.account_id, False), kind
    if exists:  # IAM unreadable, a policy not collected: nothing can be decided
        return found.message.removeprefix("Could not verify: ").rstrip(".")
    return Actor(integ.vendor, arn, type_, account.account_id, name, kind), Vendor(arn, account.account_id, False), kind


def _holders(account: AccountState, integ: Integration, kind: str, name: str) -> list[Holder]:
    out = [Holder("bucket", b, document=state.policy) for b in integ.buckets()
           if (state := account.bucket(b)) is not None]
    if kind == "user":
        user = account.user(name)
        if user is not None:
            out += [Holder("inline-user", user.name, p.name, p.document) for p in user.inline]
            out += [Holder("managed", a.arn, a.name, account.managed_policies.get(a.arn)) for a in user.attached]
            for g in user.groups:
                group = account.group(g)
                if group is None:
                    continue
                out += [Holder("inline-group", g, p.name, p.document, group=g) for p in group.inline]
                out += [Holder("managed", a.arn, a.name, account.managed_policies.get(a.arn), group=g)
                        for a in group.attached]
    elif kind == "role":
        role = account.role(integ.role_arn or name)
        if role is not None:
            out += [Holder("inline-role", role.name, p.name, p.document) for p in role.inline]
            out += [Holder("managed", a.arn, a.name, account.managed_policies.get(a.arn)) for a in role.attached]
    return out


def _concerns(stmt: Any, holder: Holder, vendor: Vendor) -> bool:
    """An Allow statement that grants the vendor's principal (in a bucket policy: one that names it)."""
    if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Allow":
        return False
    if holder.identity:
        return True
    values = principal_values(stmt)
    return bool(values) and any(vendor.names(v) for v in values or ())


def _probes(account: AccountState, integ: Integration, bucket: str, stmt: Mapping[str, Any],
            templates: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str | None]]:
    """The requests on ``bucket`` that tell whether ``stmt`` grants more than the templates: each S3 action it may
    allow, on the bucket (listing from the root, each zone's prefix and outside them) and on a key in each zone,
    each key the templates name, a key outside every zone and a key in each of the statement's own patterns."""
    from auditor.policy.keyspace import key_pattern, representative

    bucket_actions, object_actions = _candidates()
    acts = _statement_actions(stmt)
    arn = f"arn:aws:s3:::{bucket}"
    prefixes = [""] + _zone_prefixes(integ, bucket)
    keys = [p + PROBE for p in prefixes] + [OUTSIDE + PROBE]
    for t in templates:
        for r in as_list(t.get("Resource")):
            if resource_bucket(str(r)) == bucket and "/" in str(r):
                keys.append(_key_of(str(r)))
    for r in as_list(stmt.get("Resource")) + as_list(stmt.get("NotResource")):
        p = key_pattern(str(r), bucket)
        if p is not None and "${" not in p:
            key = representative(p, "")
            if key:
                keys.append(key)
    state = account.bucket(bucket)
    keys += [o.key for o in (state.objects if state else ())[:3]]
    out: list[tuple[str, str, str | None]] = []
    for a in bucket_actions:
        if a not in acts:
            continue
        if a.startswith("s3:ListBucket"):
            out += [(a, arn, None)] + [(a, arn, p) for p in dict.fromkeys(prefixes[1:] + [OUTSIDE])]
        else:
            out.append((a, arn, None))
    for a in object_actions:
        if a in acts:
            out += [(a, f"{arn}/{k}", None) for k in dict.fromkeys(keys)]
    return out


def _zone_prefixes(integ: Integration, bucket: str) -> list[str]:
    profile = integ.profile
    needs = profile.needs.get(integ.mode) if profile else None
    out = []
    for zname, _ in needs.objects if needs else ():
        z = integ.zone(zname)
        if z.bucket == bucket and z.prefix:
            out.append(z.prefix)
    return list(dict.fromkeys(out))


def _key_of(resource: str) -> str:
    key = resource.split("/", 1)[1] if "/" in resource else ""
    return key.replace("*", PROBE).replace("?", "x")


def _pair_requests(integ: Integration, template: Mapping[str, Any], action: str,
                   resource: str) -> list[tuple[str, str, str | None]]:
    """The requests that stand for one (action, resource) a template grants."""
    bucket = resource_bucket(resource)
    if bucket is None:
        return []
    if "/" in resource:
        return [(action, f"arn:aws:s3:::{bucket}/{_key_of(resource)}", None)]
    prefixes: list[str | None] = []
    for block in (template.get("Condition") or {}).values():
        for key, values in block.items() if isinstance(block, Mapping) else ():
            if str(key).lower() == "s3:prefix":
                prefixes += [str(v).rstrip("*") for v in as_list(values)]
    if not prefixes and action.startswith("s3:ListBucket"):
        prefixes = list(_zone_prefixes(integ, bucket)) or [None]
    return [(action, f"arn:aws:s3:::{bucket}", p) for p in (prefixes or [None])]


@dataclass
class _New:
    """A statement the plan writes, with where it comes from."""

    statement: dict[str, Any]
    how: str  # "narrowed": a part of ``source``; "template": a part of the template ``source``
    source: Mapping[str, Any]


def _raw(stmts: Iterable[Any]) -> list[Any]:
    return [s.statement if isinstance(s, _New) else s for s in stmts]


class _State:
    """The documents as the plan would leave them: a statement list per holder (``_New`` marks what is new)."""

    def __init__(self, holders: list[Holder]):
        self.holders = holders
        self.statements: list[list[Any]] = [list(rem.statements_of(h.document)) for h in holders]
        self.dropped: set[int] = set()

    def add(self, holder: Holder) -> int:
        self.holders.append(holder)
        self.statements.append([])
        return len(self.holders) - 1

    def identity_docs(self) -> list[dict[str, Any]]:
        return [{"Version": rem.VERSION, "Statement": _raw(s)}
                for i, (h, s) in enumerate(zip(self.holders, self.statements, strict=True))
                if h.identity and i not in self.dropped and s]

    def bucket_doc(self, bucket: str) -> dict[str, Any] | None:
        for h, s in zip(self.holders, self.statements, strict=True):
            if h.kind == "bucket" and h.owner == bucket and s:
                return {"Version": rem.VERSION, "Statement": _raw(s)}
        return None


def grant_plan(account: AccountState, integ: Integration, *, narrow: bool,
               finished_at: str | None = None) -> GrantPlan | str:
    """The edits that give the integration's principal what the templates grant and nothing it lacks, narrowing
    excess statements when ``narrow``; a sentence saying why not when that cannot be worked out."""
    found = _actor(account, integ)
    if isinstance(found, str):
        return found
    actor, vendor, kind = found
    profile = integ.profile
    assert profile is not None
    templates = plan_statements(integ, account.bucket(integ.bucket))
    result = GrantPlan(vendor, kind, actor.name, templates)
    result.delete_needed = delete_buckets(templates)
    if not templates:
        return result
    holders = _holders(account, integ, kind, actor.name)
    state = _State(holders)
    original = _State(list(holders))  # the documents as they are, before any edit
    asker = _Asker(account, integ, actor, finished_at)
    buckets = list(integ.buckets())
    template_doc = {"Version": rem.VERSION, "Statement": templates}

    def ask(request: tuple[str, str, str | None], identity: Sequence[Mapping[str, Any]],
            resource_policy: Mapping[str, Any] | None) -> str:
        action, resource, prefix = request
        return asker.decision(action, resource, prefix, identity=identity, resource_policy=resource_policy,
                              bucket=resource_bucket(resource) or integ.bucket)

    granted: dict[tuple[str, str, str | None], bool] = {}

    def template_allows(request: tuple[str, str, str | None]) -> bool:
        if request not in granted:
            granted[request] = (ask(request, (), template_doc) if vendor.fixed
                                else ask(request, (template_doc,), None)) == "allowed"
        return granted[request]

    def excess(stmt: Mapping[str, Any], holder: Holder) -> bool:
        doc = {"Version": rem.VERSION, "Statement": [stmt]}
        for b in buckets:
            if holder.kind == "bucket" and b != holder.owner:
                continue
            for request in _probes(account, integ, b, stmt, templates):
                got = ask(request, (), doc) if holder.kind == "bucket" else ask(request, (doc,), None)
                if got in ("allowed", "unknown") and not template_allows(request):
                    return True
        return False

    # 1. Excess statements come out; their parts for other principals, other buckets, other services stay.
    sources: list[tuple[int, int, Mapping[str, Any], list[str] | None]] = []  # (holder, position, statement, principal)
    if narrow:
        for hi, holder in enumerate(holders):
            before = state.statements[hi]
            out: list[Any] = []
            for stmt in before:
                if not _concerns(stmt, holder, vendor) or not excess(stmt, holder):
                    out.append(stmt)
                    continue
                result.narrowed = True
                part, principal = stmt, None
                if holder.kind == "bucket":
                    others, mine = split_principal(stmt, vendor.names)
                    if others is not None:
                        out.append(_New(others, "narrowed", stmt))
                    part, principal = {**stmt, "Principal": {"AWS": _shape(mine, [])}}, [vendor.arn]
                out.extend(_New(r, "narrowed", stmt) for r in remainders(part, buckets))
                sources.append((hi, len(out), stmt, principal))
            state.statements[hi] = out
            if holder.detachable and any(src[0] == hi for src in sources):
                state.dropped |= {hj for hj, other in enumerate(holders)
                                  if other is holder or (holder.group and other.group == holder.group)}
        # A policy the principal stops using: every statement of it may still be where a need comes from.
        for hi in sorted(state.dropped):
            for stmt in rem.statements_of(holders[hi].document):
                if _concerns(stmt, holders[hi], vendor) and not any(src[2] is stmt for src in sources):
                    sources.append((hi, -1, stmt, None))
    target = _target(holders, profile.plan.policy_name or f"auditor-{integ.vendor}", kind, actor.name)
    target_index = None
    if target is not None:
        target_index = holders.index(target) if target in holders else state.add(target)

    def allows(request: tuple[str, str, str | None]) -> str:
        return ask(request, state.identity_docs(), state.bucket_doc(resource_bucket(request[1]) or integ.bucket))

    def home(template: Mapping[str, Any]) -> int | None:
        """Where the template's statements go: the bucket policy it names (the vendor's own principal), else the
        principal's inline policy."""
        if not vendor.fixed:
            return target_index
        b = next((resource_bucket(str(r)) for r in as_list(template.get("Resource"))), None)
        return next((i for i, h in enumerate(holders) if h.kind == "bucket" and h.owner == b), None)

    def kept(request: tuple[str, str, str | None]) -> bool:
        """Still granted once the edits are made. Undecided counts only where it was undecided (or refused)
        before: a need a detached policy granted outright must not be left to a condition the vendor's
        request cannot decide (aws:SourceIp in the inline policy that stays)."""
        now = allows(request)
        if now != "unknown":
            return now == "allowed"
        bucket = resource_bucket(request[1]) or integ.bucket
        return ask(request, original.identity_docs(), original.bucket_doc(bucket)) != "allowed"

    # 2. What the vendor lacks: first from a statement that allowed it (narrowed), ...
    missing = []
    for t in templates:
        for action in as_list(t.get("Action")):
            for resource in as_list(t.get("Resource")):
                requests = _pair_requests(integ, t, str(action), str(resource))
                if requests and not all(kept(r) for r in requests):
                    missing.append((t, str(action), str(resource), requests))
    groups: dict[tuple[int, int], tuple[Mapping[str, Any], list[str], list[str]]] = {}
    for t, action, resource, _ in missing:
        for n, (_hi, _pos, stmt, principal) in enumerate(sources):
            if intersection(stmt, t, [action], [resource], principal) is not None:
                _, acts, res = groups.setdefault((n, id(t)), (t, [], []))
                acts.append(action) if action not in acts else None
                res.append(resource) if resource not in res else None
                break
    placed: dict[int, list[tuple[int | None, _New]]] = {}
    for (n, _), (tmpl, acts, res) in groups.items():
        hi, pos, stmt, principal = sources[n]
        moved = hi in state.dropped or pos < 0
        in_bucket = holders[hi].kind == "bucket"
        st = intersection(stmt, tmpl, acts, res, principal if in_bucket else None)
        dest = home(tmpl) if moved else hi
        if st is None or dest is None:
            continue
        placed.setdefault(dest, []).append((None if moved else pos, _New(st, "narrowed", stmt)))
    _place(state, placed)

    # A detached policy's Deny statements stay with the principal: leaving the group must not lift a Deny.
    if target_index is not None:
        denies = [s for hi in sorted(state.dropped) for s in rem.statements_of(holders[hi].document)
                  if isinstance(s, Mapping) and s.get("Effect") == "Deny"]
        _place(state, {target_index: [(None, _New(copy.deepcopy(dict(s)), "narrowed", s)) for s in denies]})

    # 3. ... then, for what is still lacking, the template's own statement, restricted to what is lacking.
    lacking: dict[int, tuple[Mapping[str, Any], list[str], list[str]]] = {}
    for t, action, resource, requests in missing:
        answers = [allows(r) for r in requests]
        if all(a in ("allowed", "unknown") for a in answers):
            continue
        if "explicit" in answers:
            result.blocked.append(f"{action} on {resource}")
            continue
        _, acts, res = lacking.setdefault(id(t), (t, [], []))
        acts.append(action) if action not in acts else None
        res.append(resource) if resource not in res else None
    placed = {}
    for tmpl, acts, res in lacking.values():
        dest = home(tmpl)
        if dest is None:
            continue
        st = {k: copy.deepcopy(v) for k, v in tmpl.items()}
        st["Action"] = _shape(acts, tmpl.get("Action"))
        st["Resource"] = _shape(res, tmpl.get("Resource"))
        placed.setdefault(dest, []).append((None, _New(st, "template", tmpl)))
    _place(state, placed)
    result.edits = _edits(state, target)
    return result


def _target(holders: list[Holder], policy_name: str, kind: str, name: str) -> Holder | None:
    """Where an identity principal's new statements go: its only inline policy, else the pack's policy name."""
    if kind == "external":
        return None
    inline_kind = f"inline-{kind}"
    own = [h for h in holders if h.kind == inline_kind]
    if len(own) == 1:
        return own[0]
    return next((h for h in own if h.name == policy_name), None) or Holder(inline_kind, name, policy_name, new=True)


def _place(state: _State, placed: Mapping[int, list[tuple[int | None, _New]]]) -> None:
    """Insert new statements where the statement they narrow was (in order), or append them."""
    for hi, items in placed.items():
        stmts = state.statements[hi]
        present = _raw(stmts)
        fresh = [(pos, n) for pos, n in items if not any(rem._same(n.statement, s) for s in present)]
        at = [(pos, seq, n) for seq, (pos, n) in enumerate(fresh) if pos is not None]
        for pos, _, n in sorted(at, key=lambda x: (x[0], x[1]), reverse=True):
            stmts.insert(pos, n)
        stmts.extend(n for pos, n in fresh if pos is None)


def _edits(state: _State, target: Holder | None) -> list[Edit]:
    """The documents that change, as edits: the target policy first (grants before removals), detaches last."""
    puts: list[Edit] = []
    removals: list[Edit] = []
    left: set[str] = set()
    for hi, holder in enumerate(state.holders):
        before = copy.deepcopy(dict(holder.document)) if holder.document is not None else None
        if hi in state.dropped:
            if holder.group and holder.group in left:
                continue
            left.add(holder.group)
            removals.append(Edit("leave-group" if holder.group else "detach", holder, before, None))
            continue
        stmts = state.statements[hi]
        if not any(isinstance(s, _New) for s in stmts) and len(stmts) == len(rem.statements_of(holder.document)):
            continue
        doc: dict[str, Any] = {k: copy.deepcopy(v) for k, v in (holder.document or {}).items() if k != "Statement"}
        doc.setdefault("Version", rem.VERSION)
        sids = {s.get("Sid") for s in stmts if isinstance(s, Mapping) and s.get("Sid")}
        final: list[Any] = []
        new: list[tuple[dict[str, Any], str, Mapping[str, Any]]] = []
        for s in stmts:
            if not isinstance(s, _New):
                final.append(s)
                continue
            st = dict(s.statement)
            sid = st.get("Sid")
            if sid is not None and sid in sids:
                st = {"Sid": _next_sid(sid, sids), **{k: v for k, v in st.items() if k != "Sid"}}
            if sid is not None:
                sids.add(st["Sid"])
            final.append(st)
            new.append((st, s.how, s.source))
        doc["Statement"] = final
        if final:
            edit = Edit("put", holder, before, doc, new)
            puts.insert(0, edit) if holder is target else puts.append(edit)
        elif holder.document is not None:
            removals.append(Edit("delete", holder, before, None))
    return puts + removals


# ----------------------------------------------------------------------------- trust


@dataclass
class TrustPlan:
    after: dict[str, Any] | None = None
    principals: list[str] = field(default_factory=list)
    problem: str = ""  # what must be asked for: "principal" | "external-id"
    new: list[tuple[dict[str, Any], str, Mapping[str, Any]]] = field(default_factory=list)


def trust_plan(role: RoleState | None, integ: Integration) -> TrustPlan:
    """The role's trust with the vendor's statements narrowed to ``sts:AssumeRole`` by the vendor's principal, only
    with its external id (each keeps its other conditions); statements for anyone else kept as they are.

    The principal is the one the integration names; else what the trust already names in the vendor's account;
    else, for a vendor whose guide names only its account (no principal key), that account. Nothing is guessed:
    ``problem`` says what to ask for."""
    profile = integ.profile
    assert profile is not None and profile.plan.trust is not None
    configured = integ.vendor_principal
    account = integ.vendor_account

    def mine(value: str) -> bool:
        return value == configured or bool(account) and (value == account or arn_account(value) == account)

    statements = rem.statements_of(role.trust_policy if role else None)
    vendor_statements = [s for s in statements if isinstance(s, Mapping) and s.get("Effect") == "Allow"
                         and any(mine(v) for v in principal_values(s) or [])]
    named = list(dict.fromkeys(v for s in vendor_statements for v in principal_values(s) or [] if mine(v)))
    if configured:
        wanted = [configured]
    elif named:
        wanted = named
    elif account and profile.key_of_type("principal-arn") is None:
        wanted = [f"arn:aws:iam::{account}:root"]
    else:
        return TrustPlan(problem="principal")
    ext = integ.external_id
    if not ext:
        return TrustPlan(principals=wanted, problem="external-id")
    roots = {account, f"arn:aws:iam::{account}:root"} if account else set()
    out: list[Any] = []
    new: list[tuple[dict[str, Any], str, Mapping[str, Any]]] = []
    covered = False
    for s in statements:
        if not any(s is v for v in vendor_statements):
            out.append(s)
            continue
        others, ours = split_principal(s, mine)
        if others is not None:
            out.append(others)
            new.append((others, "narrowed", s))
        who = [w for w in wanted if w in ours or roots & set(ours)]
        if not who or not _action_allowed(s, "sts:AssumeRole"):
            continue
        cond = {op: {k: v for k, v in block.items() if str(k).lower() != "sts:externalid"}
                for op, block in (s.get("Condition") or {}).items() if isinstance(block, Mapping)}
        cond = {op: block for op, block in cond.items() if block}
        cond.setdefault("StringEquals", {})["sts:ExternalId"] = ext
        parts = {"Effect": "Allow", "Principal": {"AWS": who[0] if len(who) == 1 else who},
                 "Action": "sts:AssumeRole", "Condition": cond}
        # The statement's own order of elements, without the ones a narrowed trust statement drops.
        st: dict[str, Any] = {k: parts.get(k, s[k]) for k in s if k in parts or k == "Sid"}
        st.update({k: v for k, v in parts.items() if k not in st})
        covered = True
        if not any(rem._same(st, o) for o in out if isinstance(o, Mapping)):
            out.append(st)
            new.append((st, "narrowed", s))
    out = _require_external_id_where_the_vendor_matches(out, new, role, wanted[0], ext)
    if not covered:
        for w in wanted:
            t = render(dict(profile.plan.trust), integ.values() | {"principal": w})
            out.append(t)
            new.append((t, "template", t))
    out, new = _unique_sids(out, new)
    base = {k: v for k, v in (role.trust_policy or {}).items() if k != "Statement"} if role else {}
    return TrustPlan({"Version": rem.VERSION, **base, "Statement": out}, wanted, "", new)


def _require_external_id_where_the_vendor_matches(statements: list[Any], new: list[tuple[dict[str, Any], str, Mapping[str, Any]]],
                                                  role: RoleState | None, principal: str, ext: str) -> list[Any]:
    """A statement that names no principal in particular (``*``, NotPrincipal) but lets the vendor's principal
    assume the role without an external id (``aws:PrincipalAccount`` = the vendor's account, say) gets the
    ``sts:ExternalId`` condition too: it narrows that statement, and without it the external id protects
    nothing. Only where the evaluator decides that the vendor matches; a statement whose conditions the vendor's
    request cannot decide (``aws:PrincipalOrgID``) is left as it is."""
    from auditor.checks._access import NamedPolicy, ask, external_actor

    if role is None:
        return statements
    actor = external_actor("trust", principal)
    out = []
    for s in statements:
        if (isinstance(s, Mapping) and s.get("Effect") == "Allow" and principal_values(s) is None
                and _action_allowed(s, "sts:AssumeRole") and "sts:externalid" not in _condition_keys(s)):
            alone = NamedPolicy(f"trust policy of role {role.name}", {"Version": rem.VERSION, "Statement": [s]},
                                "trust", role.name)
            asked = ask(actor, "sts:AssumeRole", role.arn, resource_account=arn_account(role.arn),
                        resource_policy=alone, resource_policy_required=True)
            if asked.allowed:
                cond = copy.deepcopy(dict(s.get("Condition") or {}))
                cond.setdefault("StringEquals", {})["sts:ExternalId"] = ext
                narrowed = {**s, "Condition": cond}
                new.append((narrowed, "narrowed", s))
                s = narrowed
        out.append(s)
    return out


def _condition_keys(stmt: Mapping[str, Any]) -> set[str]:
    """The condition keys of a statement, lower-cased."""
    return {str(k).lower() for block in (stmt.get("Condition") or {}).values() if isinstance(block, Mapping)
            for k in block}


def _next_sid(sid: str, taken: set[Any]) -> str:
    """The first of ``Sid2``, ``Sid3``… not in ``taken``: IAM rejects a policy whose statements share a Sid."""
    n = 2
    while f"{sid}{n}" in taken:
        n += 1
    return f"{sid}{n}"


def _unique_sids(statements: list[Any], new: list[tuple[dict[str, Any], str, Mapping[str, Any]]]
                 ) -> tuple[list[Any], list[tuple[dict[str, Any], str, Mapping[str, Any]]]]:
    """IAM rejects a policy whose statements share a Sid: a statement split in two (the vendor's part and
    everyone else's) keeps the Sid on the first part, and the second gets the next free ``Sid2``, ``Sid3``…"""
    taken = {s.get("Sid") for s in statements if isinstance(s, Mapping) and s.get("Sid") is not None}
    seen: set[Any] = set()
    out: list[Any] = []
    for s in statements:
        sid = s.get("Sid") if isinstance(s, Mapping) else None
        if sid is not None and sid in seen:
            renamed = {"Sid": _next_sid(sid, taken), **{k: v for k, v in s.items() if k != "Sid"}}
            taken.add(renamed["Sid"])
            new = [(renamed if st is s else st, how, source) for st, how, source in new]
            s, sid = renamed, renamed["Sid"]
        seen.add(sid)
        out.append(s)
    return out, new


# ----------------------------------------------------------------------------- the words and the commands


def delete_buckets(templates: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The buckets on which the templates let the vendor delete objects (there, versioning is the answer)."""
    return frozenset(b for t in templates for r in as_list(t.get("Resource")) if (b := resource_bucket(str(r)))
                     and any(str(a).lower() in _DELETE for a in as_list(t.get("Action"))))


def edit_title(edit: Edit, plan: GrantPlan, vendor: str, mode: str) -> str:
    """What one edit does, in a sentence."""
    h = edit.holder
    who = {"external": plan.vendor.arn, "user": f"user {plan.principal_name}",
           "role": f"role {plan.principal_name}"}[plan.principal_kind]
    where = h.label()
    if edit.action == "put":
        now = rem.statements_of(edit.after)
        cut = any(how == "narrowed" for _, how, _ in edit.new) or any(s not in now for s in rem.statements_of(edit.before))
        what = (f"Narrow {vendor}'s access ({who}) to what {mode} needs" if cut
                else f"Grant {vendor} ({who}) what {mode} still lacks")
        return f"{what} in the {'new ' if h.new else ''}{where} (other statements kept)"
    if edit.action == "delete":
        return f"Delete the {where}: all it granted {who} is beyond what {mode} needs"
    if edit.action == "detach":
        return (f"Detach {h.owner} from {who}: it grants more than {mode} needs "
                "(what the integration needs from it is granted in the inline policy)")
    return (f"Remove {who} from group {h.group}: the group's policies grant more than {mode} needs "
            "(what the integration needs from them is granted in the inline policy)")


def edit_command(edit: Edit, plan: GrantPlan, provider: str | None = None) -> str:
    """The ``aws`` CLI command that makes one edit."""
    import shlex

    h = edit.holder
    if edit.action == "put":
        assert edit.after is not None
        if h.kind == "bucket":
            return rem.put_bucket_policy_cmd(h.owner, edit.after, provider)
        if h.kind == "inline-user":
            return rem.put_user_policy_cmd(h.owner, h.name, edit.after)
        return rem.put_role_policy_cmd(h.owner, h.name, edit.after)
    if edit.action == "delete":
        if h.kind == "bucket":
            return f"aws s3api delete-bucket-policy --bucket {h.owner}"
        kind = "user" if h.kind == "inline-user" else "role"
        return f"aws iam delete-{kind}-policy --{kind}-name {h.owner} --policy-name {shlex.quote(h.name)}"
    if edit.action == "detach":
        kind = plan.principal_kind
        return f"aws iam detach-{kind}-policy --{kind}-name {plan.principal_name} --policy-arn {h.owner}"
    return f"aws iam remove-user-from-group --user-name {plan.principal_name} --group-name {shlex.quote(h.group)}"
