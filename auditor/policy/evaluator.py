"""IAM policy evaluation, following the IAM User Guide's "Policy evaluation logic".

Policies are compiled once (statements normalised, wildcards turned into regular
expressions); :func:`evaluate` then decides one request. Conditions are three-valued: a
condition on a key whose value the scanner cannot know is *undecided*, and the decision is
``unknown`` unless it comes out the same whichever way those conditions go.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from auditor.policy.arns import arn_account, parse_arn, role_name, session_parts
from auditor.policy.conditions import evaluate_condition, parse_operator
from auditor.policy.variables import UnknownVariable, has_variables, lookup, resolve_pattern, variable_keys
from auditor.policy.variables import wildcard as _pattern


class PolicyError(ValueError):
    """A policy document that cannot be parsed."""


class Decision(StrEnum):
    ALLOWED = "allowed"
    IMPLICITLY_DENIED = "implicitly_denied"
    EXPLICITLY_DENIED = "explicitly_denied"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Request:
    principal: str | None
    principal_type: str
    action: str
    resource: str
    resource_account: str | None
    context: Mapping[str, Any] = field(default_factory=dict)
    unknown_keys: frozenset[str] = frozenset()
    principal_account: str | None = None

    @property
    def account(self) -> str | None:
        if self.principal_account:
            return self.principal_account
        return arn_account(self.principal) if self.principal else None


@dataclass(frozen=True, slots=True)
class StatementRef:
    policy: str
    sid: str | None
    index: int
    effect: str
    policy_type: str
    statement: Mapping[str, Any]

    @property
    def name(self) -> str:
        """Its Sid, else its position in the policy (``#0`` for the first)."""
        return self.sid or f"#{self.index}"

    def label(self) -> str:
        return f"{self.policy} statement {self.name}"


@dataclass(frozen=True, slots=True)
class Result:
    decision: Decision
    deciding: tuple[StatementRef, ...] = ()
    blocked_by: tuple[str, ...] = ()
    note: str = ""  # set for unknown decisions; otherwise the reason is derived on demand
    undecided_conditions: tuple[str, ...] = ()
    undecided_keys: tuple[str, ...] = ()  # the request keys whose values would decide an unknown answer

    @property
    def allowed(self) -> bool:
        return self.decision == Decision.ALLOWED

    @property
    def reason(self) -> str:
        """One readable sentence: which statements decided, or which policy type did not allow."""
        return self.note or _reason(self.decision, self.deciding, self.blocked_by)


# ----------------------------------------------------------------------------- ARNs and principals


def session_role_arn(arn: str) -> str | None:
    """``arn:aws:sts::1:assumed-role/R/S`` → ``arn:aws:iam::1:role/R``.

    A session ARN does not show the role's path; a request knows the role's full ARN from
    ``aws:PrincipalArn`` (see :func:`_session_role`).
    """
    parts = session_parts(arn)
    return f"arn:{parts[0]}:iam::{parts[1]}:role/{parts[2]}" if parts else None


def _session_role(req: Request, context: Mapping[str, Any]) -> str | None:
    """The role ARN of a role session, with its path: AWS sets ``aws:PrincipalArn`` of a session to the
    role's ARN (IAM User Guide, "AWS global condition context keys"); without it, the path-less form."""
    parts = session_parts(req.principal)
    if parts is None:
        return None
    given = lookup(context, "aws:PrincipalArn")
    if isinstance(given, str):
        role = parse_arn(given)
        if (role is not None and role.service == "iam" and role.account == parts[1]
                and role.resource.startswith("role/") and role.resource.rsplit("/", 1)[-1] == parts[2]):
            return given
    return f"arn:{parts[0]}:iam::{parts[1]}:role/{parts[2]}"


def _role_name(arn: str) -> str:
    return role_name(arn)


# ----------------------------------------------------------------------------- compiled policies


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@dataclass(frozen=True, slots=True)
class _Principals:
    any: bool
    aws: tuple[str, ...]
    service: tuple[str, ...]
    other: tuple[str, ...]  # Federated, CanonicalUser


def _principals(value: Any) -> _Principals:
    if value == "*":
        return _Principals(True, (), (), ())
    if isinstance(value, (str, list)):
        value = {"AWS": value}  # a bare ARN or list of ARNs names AWS principals
    if not isinstance(value, Mapping):
        raise PolicyError(f"Principal must be \"*\" or an object, got {value!r}")
    aws = tuple(str(v).strip() for v in _as_list(value.get("AWS")))
    return _Principals("*" in aws, aws, tuple(str(v) for v in _as_list(value.get("Service"))),
                       tuple(str(v) for k in ("Federated", "CanonicalUser") for v in _as_list(value.get(k))))


@dataclass(frozen=True, slots=True)
class _Condition:
    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Statement:
    ref: StatementRef
    allow: bool
    actions: tuple[re.Pattern[str], ...]
    not_action: bool
    resources: tuple[str, ...]  # raw patterns (may hold variables)
    resource_res: tuple[re.Pattern[str] | None, ...]  # compiled when free of variables
    not_resource: bool
    has_resource: bool
    principals: _Principals | None
    not_principal: bool
    conditions: tuple[_Condition, ...]
    has_variables: bool = False  # Resource holds ${...}: matched per request
    variables: bool = True  # the policy's Version is 2012-10-17: ${...} are variables, else literal text


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    name: str
    policy_type: str
    statements: tuple[_Statement, ...]
    document: Mapping[str, Any]
    # (action, resource) -> statements whose Action and Resource elements match: most scans ask
    # the same few questions many times.
    _candidates: dict[tuple[Any, ...], tuple[_Statement, ...]] = field(default_factory=dict, compare=False, repr=False)

    def candidates(self, req: Request, with_principal: bool, has_boundary: bool,
                   role: str | None = None) -> tuple[_Statement, ...]:
        """Statements whose Action, Resource (and for resource policies, Principal) elements match.

        ``role``: for a role session, the role's ARN with its path (:func:`_session_role`)."""
        key = (req.action, req.resource, req.principal, req.principal_type, req.principal_account,
               has_boundary, role) if with_principal else (req.action, req.resource)
        hit = self._candidates.get(key)
        if hit is None:
            if len(self._candidates) > 20000:
                self._candidates.clear()
            hit = tuple(st for st in self.statements if _action_matches(st, req.action)
                        and (st.has_variables or _resource_matches(st, req.resource, {}))
                        and (not with_principal or _principal_named(st, req, has_boundary, role)))
            self._candidates[key] = hit
        return hit


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _compile_statement(raw: Any, index: int, name: str, policy_type: str, variables: bool = True) -> _Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{name}: statement {index} is not an object")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{name}: statement {index} has Effect {effect!r}")
    if "Action" in raw and "NotAction" in raw:
        raise PolicyError(f"{name}: statement {index} has both Action and NotAction")
    not_action = "NotAction" in raw
    # No trimming: "s3:GetObject " is not s3:GetObject.
    actions = tuple(_pattern(str(a), True) for a in _as_list(raw.get("NotAction" if not_action else "Action")))
    not_resource = "NotResource" in raw
    has_resource = "Resource" in raw or not_resource
    resources = tuple(str(r) for r in _as_list(raw.get("NotResource" if not_resource else "Resource")))
    principals, not_principal = None, False
    if "Principal" in raw:
        principals = _principals(raw["Principal"])
    elif "NotPrincipal" in raw:
        principals, not_principal = _principals(raw["NotPrincipal"]), True
    conditions = []
    cond = raw.get("Condition") or {}
    if not isinstance(cond, Mapping):
        raise PolicyError(f"{name}: statement {index} Condition is not an object")
    for operator, pairs in cond.items():
        try:
            parse_operator(operator)
        except ValueError as e:
            raise PolicyError(f"{name}: statement {index}: {e}") from None
        if not isinstance(pairs, Mapping):
            raise PolicyError(f"{name}: statement {index}: {operator} needs an object of keys")
        for key, values in pairs.items():
            conditions.append(_Condition(operator, str(key), tuple(_text(v) for v in _as_list(values))))
    ref = StatementRef(name, raw.get("Sid"), index, effect, policy_type, dict(raw))
    return _Statement(
        ref=ref, allow=effect == "Allow", actions=actions, not_action=not_action, resources=resources,
        resource_res=tuple(None if variables and has_variables(r) else _pattern(r, False) for r in resources),
        not_resource=not_resource, has_resource=has_resource, principals=principals, not_principal=not_principal,
        conditions=tuple(conditions), has_variables=variables and any(has_variables(r) for r in resources),
        variables=variables)


def compile_policy(doc: Mapping[str, Any] | str | CompiledPolicy, name: str = "policy",
                   policy_type: str = "identity") -> CompiledPolicy:
    """Parse a policy once; raise PolicyError on malformed JSON or structure."""
    if isinstance(doc, CompiledPolicy):
        return doc
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as e:
            raise PolicyError(f"{name}: not JSON ({e})") from None
    if not isinstance(doc, Mapping):
        raise PolicyError(f"{name}: a policy is a JSON object")
    raw = doc.get("Statement", [])
    stmts = [raw] if isinstance(raw, Mapping) else list(raw or [])
    # IAM User Guide, "Policy variables": variables need "Version": "2012-10-17"; in an older
    # policy or one without Version, ${...} is literal text.
    variables = doc.get("Version") == "2012-10-17"
    return CompiledPolicy(name, policy_type, tuple(_compile_statement(s, i, name, policy_type, variables)
                                                   for i, s in enumerate(stmts)), doc)


_CACHE: dict[tuple[int, str, str], tuple[Any, CompiledPolicy]] = {}


def compile_cached(p: Any, name: str, policy_type: str) -> CompiledPolicy | None:
    """``compile_policy`` once per document object (and name, type): checks ask thousands of
    questions of the same few policies."""
    if p is None:
        return None
    if isinstance(p, CompiledPolicy):
        return p
    key = (id(p), name, policy_type)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is p:
        return hit[1]
    compiled = compile_policy(p, name, policy_type)
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[key] = (p, compiled)  # keep p alive so its id is not reused while cached
    return compiled


# ----------------------------------------------------------------------------- matching


def _principal_matches(spec: _Principals, req: Request, role: str | None = None, *, exact_only: bool = False) -> bool:
    """Does a Principal element name the requester? Account principals match every principal of the account."""
    if spec.any:
        return True
    p = req.principal
    if p is None:
        return False
    if req.principal_type == "service":
        return p in spec.service
    account = req.account
    if req.principal_type != "assumed_role_session":
        role = None
    elif role is None:
        role = session_role_arn(p)
    for value in spec.aws:
        if value == p or (role is not None and value == role):
            return True
        if not exact_only and account and (value == account or value == f"arn:aws:iam::{account}:root"
                                           or re.fullmatch(rf"arn:aws[\w-]*:iam::{account}:root", value)):
            return True
    return p in spec.other


def _names_principal_directly(stmt: _Statement, req: Request, role: str | None = None) -> str | None:
    """How a resource-policy Allow names the requester: "exact" (user / session ARN), "role", "account" or None."""
    spec = stmt.principals
    if spec is None:
        return None
    if stmt.not_principal or spec.any:
        return "exact"  # "*" grants to everyone as such, like naming them (IAM docs: anonymous/public grants)
    p = req.principal or ""
    if p in spec.aws or p in spec.service or p in spec.other:
        # A role ARN (not a session ARN) is limited by the role's boundary (IAM docs).
        return "role" if req.principal_type == "iam_role" else "exact"
    if req.principal_type != "assumed_role_session":
        role = None
    elif role is None:
        role = session_role_arn(p)
    if role and role in spec.aws:
        return "role"
    return "account"


def _principal_named(stmt: _Statement, req: Request, has_boundary: bool, role: str | None = None) -> bool:
    """Does a resource-policy statement apply to the requester (Principal / NotPrincipal)?"""
    if stmt.principals is None:
        return False  # a resource policy statement must name its principals
    named = _principal_matches(stmt.principals, req, role)
    if stmt.not_principal:
        named = not named if not stmt.principals.any else False
        # IAM docs (permissions boundaries): a Deny with NotPrincipal in a resource policy
        # always denies a principal that has a permissions boundary.
        if not stmt.allow and has_boundary:
            named = True
    return named


def _action_matches(stmt: _Statement, action: str) -> bool:
    hit = False
    for p in stmt.actions:
        if p.fullmatch(action):
            hit = True
            break
    return not hit if stmt.not_action else hit


def _resource_matches(stmt: _Statement, resource: str, context: Mapping[str, Any],
                      unknown: frozenset[str] = frozenset()) -> bool:
    """Does the Resource (NotResource) element cover ``resource``?

    Raises :class:`UnknownVariable` when that hangs on a variable whose key the scanner cannot know.
    """
    if not stmt.has_resource:
        return True  # trust policies and some resource policies omit Resource
    hit = False
    undecided: UnknownVariable | None = None
    for raw, rx in zip(stmt.resources, stmt.resource_res, strict=True):
        if rx is None:
            try:
                rx = resolve_pattern(raw, context, unknown)  # substituted values match literally
            except UnknownVariable as e:
                undecided = e
                continue
            if rx is None:
                continue
        if rx.fullmatch(resource):
            hit = True
            break
    if not hit and undecided is not None:
        raise undecided
    return not hit if stmt.not_resource else hit


def _lookup_key(lowered: Mapping[str, Any], unknown: frozenset[str], key: str) -> tuple[bool, list[str] | None, bool]:
    low = key.lower()
    if low in unknown:
        return False, None, True
    value = lowered.get(low)
    if value is None:
        return False, None, False
    values = [_text(v) for v in value] if isinstance(value, (list, tuple)) else [_text(value)]
    return True, values, False


def _variable_keys(values: Iterable[str], unknown: frozenset[str]) -> list[str]:
    return [k for v in values for k in variable_keys(v) if k.lower() in unknown]


def _conditions(stmt: _Statement, lowered: Mapping[str, Any], context: Mapping[str, Any],
                unknown: frozenset[str]) -> tuple[bool | None, list[str], list[str]]:
    """AND over every operator and key: False if any is false, None if any is undecided, else True.

    Also the undecided conditions (as JSON) and the keys whose values would decide them."""
    undecided: list[str] = []
    keys: list[str] = []
    for c in stmt.conditions:
        outcome = evaluate_condition(c.operator, _lookup_key(lowered, unknown, c.key), c.values, context,
                                     unknown=unknown, variables=stmt.variables)
        if outcome is False:
            return False, [], []
        if outcome is None:
            undecided.append(json.dumps({c.operator: {c.key: list(c.values)}}))
            keys += [c.key] if c.key.lower() in unknown else _variable_keys(c.values, unknown)
    return (None, undecided, keys) if undecided else (True, [], [])


@dataclass
class _Matches:
    """The statements of one policy that apply: certain and undecided, per effect."""

    allow: list[StatementRef] = field(default_factory=list)
    allow_maybe: list[StatementRef] = field(default_factory=list)
    deny: list[StatementRef] = field(default_factory=list)
    deny_maybe: list[StatementRef] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    undecided_keys: list[str] = field(default_factory=list)
    allow_kinds: dict[int, str] = field(default_factory=dict)  # id(ref) -> how the Allow names the principal


def _match(policy: CompiledPolicy, req: Request, context: Mapping[str, Any], lowered: Mapping[str, Any],
           unknown: frozenset[str], action: str, with_principal: bool, has_boundary: bool = False,
           role: str | None = None) -> _Matches:
    candidates = policy.candidates(req, with_principal, has_boundary, role)
    if not candidates:
        return _NO_MATCHES
    m = _Matches()
    for stmt in candidates:
        resource_undecided: list[str] = []
        if stmt.has_variables:
            try:
                if not _resource_matches(stmt, req.resource, context, unknown):
                    continue
            except UnknownVariable as e:
                resource_undecided = [e.key]
        if stmt.conditions:
            outcome, undecided, keys = _conditions(stmt, lowered, context, unknown)
            if outcome is False:
                continue
        else:
            outcome, undecided, keys = True, [], []
        if resource_undecided:
            outcome = None
            undecided = [json.dumps({"NotResource" if stmt.not_resource else "Resource": list(stmt.resources)})] + undecided
            keys = resource_undecided + keys
        target = (m.allow if outcome else m.allow_maybe) if stmt.allow else (m.deny if outcome else m.deny_maybe)
        target.append(stmt.ref)
        m.undecided.extend(undecided)
        m.undecided_keys.extend(keys)
        if stmt.allow and with_principal:
            m.allow_kinds[id(stmt.ref)] = _names_principal_directly(stmt, req, role) or "account"
    return m


# ----------------------------------------------------------------------------- decision

_NO_MATCHES = _Matches()  # shared, never mutated


@lru_cache(maxsize=256)
def _lowered(keys: frozenset[str]) -> frozenset[str]:
    return frozenset(k.lower() for k in keys)


def _levels(levels: Sequence[Any] | None, name: str, policy_type: str) -> list[list[CompiledPolicy | None]]:
    out = []
    for i, level in enumerate(levels or ()):
        policies = level if isinstance(level, (list, tuple)) else [level]
        out.append([compile_cached(p, f"{name}[{i}][{j}]", policy_type) for j, p in enumerate(policies)])
    return out


def evaluate(request: Request, *, identity_policies: Iterable[Any] = (), resource_policy: Any = None,
             permission_boundary: Any = None, session_policy: Any = None, scps: Sequence[Any] = (),
             rcps: Sequence[Any] = (), vpc_endpoint_policies: Iterable[Any] = (),
             resource_policy_required: bool = False) -> Result:
    """Decide ``request`` against every policy that applies (IAM policy evaluation logic)."""
    req = request
    context = req.context
    unknown = _lowered(req.unknown_keys)
    lowered = {k.lower(): v for k, v in context.items()}  # condition keys are case-insensitive
    action = req.action
    identity = [p if isinstance(p, CompiledPolicy) else compile_cached(p, f"identity[{i}]", "identity")
                for i, p in enumerate(identity_policies)]
    resource = compile_cached(resource_policy, "resource-policy", "resource")
    boundary = compile_cached(permission_boundary, "permission-boundary", "permission_boundary")
    session = compile_cached(session_policy, "session-policy", "session")
    endpoints = [compile_cached(p, f"vpc-endpoint[{i}]", "vpc_endpoint") for i, p in enumerate(vpc_endpoint_policies)]
    scp_levels = _levels(scps, "scp", "scp") if scps else []
    rcp_levels = _levels(rcps, "rcp", "rcp") if rcps else []

    role = _session_role(req, context) if req.principal_type == "assumed_role_session" else None

    def match(p: CompiledPolicy | None, with_principal: bool = False) -> _Matches:
        return (_match(p, req, context, lowered, unknown, action, with_principal, boundary is not None, role)
                if p is not None else _NO_MATCHES)

    # KMS key policies and role trust policies must allow the request even in the same account.
    resource_policy_required = resource_policy_required or _needs_resource_policy(action, req.resource)

    id_m = [match(p) for p in identity]
    res_m = match(resource, with_principal=True)
    pb_m = match(boundary)
    ses_m = match(session)
    ep_m = [match(p) for p in endpoints]
    scp_m = [[match(p) for p in level] for level in scp_levels]
    rcp_m = [[match(p) for p in level] for level in rcp_levels]
    everything = id_m + [res_m, pb_m, ses_m] + ep_m + [m for lv in scp_m for m in lv] + [m for lv in rcp_m for m in lv]

    gci = action.lower() == "sts:getcalleridentity"
    outsider = req.principal_type in ("anonymous", "service")  # SCPs limit the organisation's own principals only
    immutable = _immutable(action, req.resource)
    account = req.account
    same_account = account is not None and account == req.resource_account

    def decide(optimistic: bool) -> tuple[Decision, tuple[StatementRef, ...], tuple[str, ...]]:
        """The decision when undecided Allows apply and undecided Denies don't (optimistic), or the reverse."""
        def allows(m: _Matches) -> list[StatementRef]:
            return m.allow + m.allow_maybe if optimistic and m.allow_maybe else m.allow

        # sts:GetCallerIdentity needs no permission and cannot be denied (STS API reference).
        if gci:
            return Decision.ALLOWED, (), ()
        explicit = [r for m in everything for r in (m.deny if optimistic else m.deny + m.deny_maybe)
                    if not (outsider and r.policy_type == "scp")]
        if explicit:
            return Decision.EXPLICITLY_DENIED, tuple(explicit), tuple(dict.fromkeys(r.policy_type for r in explicit))
        if immutable:
            return Decision.IMPLICITLY_DENIED, (), ("service",)
        if not outsider:
            for level in scp_m:
                if not any(allows(m) for m in level):
                    return Decision.IMPLICITLY_DENIED, (), ("scp",)
        for level in rcp_m:
            if not any(allows(m) for m in level):
                return Decision.IMPLICITLY_DENIED, (), ("rcp",)
        for m in ep_m:
            if not allows(m):
                return Decision.IMPLICITLY_DENIED, (), ("vpc_endpoint",)

        res_allow = allows(res_m)
        if outsider:  # anonymous and service principals: only a resource policy can grant
            return (Decision.ALLOWED, tuple(res_allow), ()) if res_allow else (Decision.IMPLICITLY_DENIED, (), ("resource",))
        id_allow = [r for m in id_m for r in allows(m)]
        pb_ok = boundary is None or bool(allows(pb_m))
        ses_ok = session is None or bool(allows(ses_m))
        if same_account:
            # Same account (IAM docs, "Policy evaluation logic"): a resource policy naming the user or
            # the session ARN grants on its own, not limited by a boundary (a session policy still
            # limits a session); naming the role ARN is limited by the boundary and session policy;
            # naming the account delegates to IAM, so an identity policy must allow.
            kinds = {res_m.allow_kinds.get(id(r), "account") for r in res_allow}
            if "exact" in kinds:
                if not ses_ok:
                    return Decision.IMPLICITLY_DENIED, (), ("session",)
                return Decision.ALLOWED, tuple(res_allow), ()
            if resource_policy_required and not res_allow:
                return Decision.IMPLICITLY_DENIED, (), ("resource",)
            if not id_allow and "role" not in kinds:
                return Decision.IMPLICITLY_DENIED, (), ("identity",)
        else:
            # Cross-account: both the requester's side and the resource policy must allow.
            if not id_allow:
                return Decision.IMPLICITLY_DENIED, (), ("identity",)
        if not pb_ok:
            return Decision.IMPLICITLY_DENIED, (), ("permission_boundary",)
        if not ses_ok:
            return Decision.IMPLICITLY_DENIED, (), ("session",)
        if not same_account and not res_allow:
            return Decision.IMPLICITLY_DENIED, (), ("resource",)
        return Decision.ALLOWED, tuple(res_allow + id_allow), ()

    if not any(m.allow_maybe or m.deny_maybe for m in everything):
        decision, deciding, blocked = decide(False)
        return Result(decision, deciding, blocked)
    hi = decide(True)
    lo = decide(False)
    undecided = tuple(dict.fromkeys(u for m in everything for u in m.undecided))
    keys = tuple(dict.fromkeys(k for m in everything for k in m.undecided_keys))
    if hi[0] == lo[0]:
        # The same either way: an Allow from the certain statements only; a denial that holds
        # even if every undecided Allow applies and no undecided Deny does.
        decision, deciding, blocked = lo if lo[0] == Decision.ALLOWED else hi
        return Result(decision, deciding, blocked)
    if hi[0] != Decision.ALLOWED and lo[0] != Decision.ALLOWED:
        # Denied either way, but whether explicitly hangs on an undecided Deny: nothing allows
        # the request (hi), and the Deny would also deny it when its conditions hold (lo).
        maybe_denies = tuple(r for r in lo[1] if r not in hi[1])
        note = ("denied whichever way the undecided conditions go: "
                + ("; ".join(_WHERE.get(b, b) for b in hi[2]) if hi[2] else "nothing allows it")
                + ("; " + ", ".join(r.label() for r in maybe_denies) + " would also deny it explicitly when "
                   + "; ".join(undecided) if maybe_denies else ""))
        return Result(hi[0], hi[1] + maybe_denies, hi[2], note, undecided, keys)
    maybe = [r for m in everything for r in (m.allow_maybe + m.deny_maybe)]
    on = f"the value of {', '.join(keys)}" if keys else "conditions the scanner cannot know"
    return Result(Decision.UNKNOWN, tuple(maybe), (), f"the decision depends on {on}: " + "; ".join(undecided),
                  undecided, keys)


_READ_ONLY_IAM = re.compile(r"^iam:(Get|List|Generate|Simulate)", re.IGNORECASE)


def _immutable(action: str, resource: str) -> bool:
    """Resources AWS owns: AWS-managed policies, reserved roles and ``alias/aws/*`` KMS aliases cannot be changed."""
    if ":iam::aws:policy/" in resource or ":role/aws-reserved/" in resource:
        return action.lower().startswith("iam:") and not _READ_ONLY_IAM.match(action)
    if ":alias/aws/" in resource:
        return action.lower() in ("kms:createalias", "kms:updatealias", "kms:deletealias")
    return False


def _needs_resource_policy(action: str, resource: str) -> bool:
    a = action.lower()
    return (a.startswith("kms:") and ":key/" in resource) or a.startswith("sts:assumerole")


def _reason(decision: Decision, deciding: Sequence[StatementRef], blocked: Sequence[str]) -> str:
    if decision == Decision.ALLOWED:
        return "allowed by " + ", ".join(r.label() for r in deciding) if deciding else "allowed"
    if decision == Decision.EXPLICITLY_DENIED:
        return "explicitly denied by " + ", ".join(r.label() for r in deciding)
    return "implicitly denied: " + "; ".join(_WHERE.get(b, b) for b in blocked) if blocked else "implicitly denied"


_WHERE = {"identity": "no identity-based policy allows it", "resource": "the resource policy does not allow it",
          "permission_boundary": "the permissions boundary does not allow it",
          "session": "the session policy does not allow it", "scp": "a service control policy does not allow it",
          "rcp": "a resource control policy does not allow it",
          "vpc_endpoint": "the VPC endpoint policy does not allow it", "service": "AWS owns the resource"}


__all__ = ["Decision", "Request", "Result", "StatementRef", "CompiledPolicy", "PolicyError", "compile_policy", "compile_cached",
           "evaluate", "arn_account", "session_role_arn", "_role_name"]
