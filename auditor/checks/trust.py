"""Role trust checks: who may ``sts:AssumeRole``, and is an external id required of other accounts."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from auditor import narrow
from auditor import remediation as fix
from auditor.checks._access import (
    PROBE,
    Asked,
    NamedPolicy,
    arn_account,
    ask,
    conditions_text,
    external_actor,
    iam_problem,
    no_role,
)
from auditor.checks.registry import Outcome, Target, check
from auditor.model import RoleState, Status
from auditor.remediation import statements_of

WRONG_EXTERNAL_ID = "auditor-wrong-external-id"
ACCOUNT_ID = re.compile(r"^\d{12}$")
TRUST_READS = ("iam:GetAccountAuthorizationDetails",)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, (str, Mapping)) else list(value)


def trusted_aws_principals(trust: Mapping[str, Any] | None) -> list[str]:
    """Every ``Principal.AWS`` value (ARN, bare account id or ``*``) in the trust's Allow statements."""
    out: list[str] = []
    for st in statements_of(trust):
        if not isinstance(st, Mapping) or st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        if principal == "*":
            out.append("*")
        elif isinstance(principal, Mapping):
            out.extend(str(p) for p in _as_list(principal.get("AWS")))
    return list(dict.fromkeys(out))


def principal_account(value: str) -> str | None:
    return value if ACCOUNT_ID.match(value) else arn_account(value)


def candidates(trust: Mapping[str, Any] | None, account: str) -> list[str]:
    """Principals of ``account`` to ask about: those the trust names, and a representative role of the account."""
    named = [p for p in trusted_aws_principals(trust)
             if principal_account(p) == account and not ACCOUNT_ID.match(p) and not p.endswith(":root")]
    return named + [f"arn:aws:iam::{account}:role/{PROBE}"]


def external_ids(trust: Mapping[str, Any] | None) -> list[str]:
    """``sts:ExternalId`` values the trust's conditions compare against."""
    out: list[str] = []
    for st in statements_of(trust):
        if not isinstance(st, Mapping):
            continue
        for op, block in (st.get("Condition") or {}).items():
            if not isinstance(block, Mapping):
                continue
            for key, value in block.items():
                if key.lower() == "sts:externalid" and "Not" not in op:
                    out.extend(str(v) for v in _as_list(value))
    return list(dict.fromkeys(out))


def ask_assume(target: Target, role: RoleState, principal: str, external_id: str | None, note: str = "") -> Asked:
    actor = external_actor("trust", principal)
    if actor.type == "account_root":
        actor = external_actor("trust", f"arn:aws:iam::{actor.account}:role/{PROBE}")
    trust = NamedPolicy(f"trust policy of role {role.name}", role.trust_policy or {}, "trust", role.name)
    extra = {"sts:ExternalId": external_id} if external_id is not None else None
    return ask(actor, "sts:AssumeRole", role.arn, resource_account=target.account.account_id, resource_policy=trust,
               resource_policy_required=True, extra_context=extra, note=note, snapshot=target.snapshot)


def _role(target: Target) -> RoleState | Outcome:
    integ = target.integration
    if integ is None:
        return Outcome(Status.UNKNOWN, "Could not verify: the rule needs an integration.", {})
    role_arn = integ.role_arn
    if not role_arn:
        return Outcome(Status.UNKNOWN, no_role(integ), {})
    problem = iam_problem(target.account)
    if problem:
        return Outcome(Status.UNKNOWN, f"Could not verify: {problem}.", {"role": role_arn}, resource=role_arn)
    role = target.account.role(role_arn)
    if role is None:
        return Outcome(Status.FAIL, f"Role {role_arn} does not exist in account {target.account.account_id}.",
                       {"role": role_arn}, resource=role_arn, missing=role_arn)
    if role.trust_policy is None:
        return Outcome(Status.UNKNOWN, f"Could not verify: the trust policy of {role.arn} was not collected.",
                       {"role": role.arn}, resource=role.arn)
    return role


def _vendor(target: Target) -> tuple[str, str]:
    """(the vendor's short name, its account id or '') for messages and candidate principals."""
    integ = target.integration
    profile = integ.profile if integ else None
    name = profile.short_name if profile else (integ.vendor if integ else "the vendor")
    return name, (integ.vendor_account if integ else None) or ""


def _vendor_principals(target: Target, role: RoleState) -> list[str]:
    configured = target.integration.vendor_principal if target.integration else None
    if configured:
        return [configured]
    _, account = _vendor(target)
    if not account:
        return [p for p in trusted_aws_principals(role.trust_policy) if p != "*"] or [f"arn:aws:iam::999999999999:role/{PROBE}"]
    return candidates(role.trust_policy, account)


def _fallback_principal(target: Target) -> str:
    """The principal a trust fix names when the integration names none: the vendor's account."""
    integ = target.integration
    if integ and integ.vendor_principal:
        return integ.vendor_principal
    _, account = _vendor(target)
    return f"arn:aws:iam::{account or 'VENDOR-ACCOUNT-ID'}:root"


def _sid(target: Target) -> str:
    integ = target.integration
    name = integ.profile.short_name if integ and integ.profile else "Vendor"
    return "".join(w[:1].upper() + w[1:] for w in name.replace("-", " ").split() if w.isalnum()) + "AssumeRole"


def _planned_fix(target: Target, role: RoleState) -> tuple[str | None, str | None]:
    """The trust change `auditor plan` proposes (the same computation), when the vendor's pack plans trusts:
    the vendor's statements narrowed to its principal and external id, nothing else touched, no principal
    guessed; and the principal it names. (None, None) when the pack has no trust template."""
    integ = target.integration
    if integ is None or integ.profile is None or integ.profile.plan.trust is None:
        return None, None
    found = narrow.trust_plan(role, integ)
    named = next(iter(found.principals), None)
    name, _ = _vendor(target)
    if found.problem == "principal":
        key = integ.profile.key_of_type("principal-arn")
        return (f"The trust of {role.name} names no principal of {name}'s account: give the ARN shown in {name}'s "
                f"set-up screen ({key.flag if key else '--vendor-principal'}, or its key in [[integrations]]); "
                "auditor plan then writes the trust. No account-wide principal is guessed.", named)
    if found.problem == "external-id" or found.after is None:
        return None, named  # the statement below, with the id to fill in, for the principal the trust names
    return fix.explain(f"Let {name} assume {role.name} only with its external id (other statements kept):",
                       found.after, fix.update_assume_role_policy_cmd(role.name, found.after)), named


def _assume_statement(target: Target, principal: str, external_id: str | None) -> dict[str, Any]:
    """The vendor's trust statement: ``principal`` may assume the role, only with the external id (a placeholder
    naming where to find it when none is configured)."""
    name, _ = _vendor(target)
    return {"Sid": _sid(target), "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id
                                           or f"EXTERNAL-ID-SHOWN-IN-{name.upper().replace(' ', '-')}"}}}


def _trust_fix(target: Target, role: RoleState, principal: str, external_id: str | None) -> str:
    planned, named = _planned_fix(target, role)
    if planned is not None:
        return planned
    name, _ = _vendor(target)
    stmt = _assume_statement(target, named or principal, external_id)
    merged = fix.merge_statement(role.trust_policy, stmt)
    return fix.explain(f"Let {name} assume {role.name} (existing statements kept):", merged,
                       fix.update_assume_role_policy_cmd(role.name, merged))


@check("assume_role_trust", reads=TRUST_READS)
def assume_role_trust(target: Target) -> Outcome | None:
    """The role's trust policy lets the vendor's principal sts:AssumeRole (with the external id it sends)."""
    role = _role(target)
    if isinstance(role, Outcome):
        return role
    integ = target.integration
    vname, vaccount = _vendor(target)
    configured_id = integ.external_id if integ else None
    ext = configured_id or next(iter(external_ids(role.trust_policy)), None)
    principals = _vendor_principals(target, role)
    asked = [ask_assume(target, role, p, ext, note=f"sts:ExternalId={ext!r}" if ext else "no sts:ExternalId")
             for p in principals]
    evidence: dict[str, Any] = {"role": role.arn, "trust_policy": dict(role.trust_policy or {}),
                                "external_id_used": ext, "checked": [a.to_json() for a in asked]}
    if configured_id is None and ext is not None:
        evidence["external_id_source"] = "taken from the trust policy (no external_id configured)"
    allowed = [a for a in asked if a.allowed]
    if allowed:
        who = allowed[0].context.get("aws:PrincipalArn")
        return Outcome(Status.PASS, f"The trust policy of {role.name} lets {who} assume it.", evidence,
                       resource=role.arn, principal=who)
    unknown = [a for a in asked if a.unknown]
    if unknown:
        return Outcome(Status.UNKNOWN, f"Could not establish whether {vname} may assume {role.name}: it depends on "
                       f"{conditions_text(unknown)}.", evidence, resource=role.arn, principal=principals[0])
    want = integ.vendor_principal if integ else None
    return Outcome(Status.FAIL, f"The trust policy of {role.name} does not let {vname} "
                   f"({want or 'any principal of account ' + (vaccount or '?')}) assume it: {asked[0].result.reason}.",
                   evidence, _trust_fix(target, role, _fallback_principal(target), configured_id),
                   resource=role.arn, principal=want)


@check("assume_role_external_id", reads=TRUST_READS)
def assume_role_external_id(target: Target) -> Outcome | None:
    """The trust requires the vendor's sts:ExternalId (equal to the configured external id)."""
    role = _role(target)
    if isinstance(role, Outcome):
        return role
    integ = target.integration
    if integ is None:
        return None
    vname, _ = _vendor(target)
    configured_id = integ.external_id
    found = external_ids(role.trust_policy)
    right = configured_id or next(iter(found), None)
    principals = _vendor_principals(target, role)
    evidence: dict[str, Any] = {"role": role.arn, "trust_policy": dict(role.trust_policy or {}),
                                "external_ids_in_trust": found, "configured_external_id": configured_id}
    without = [ask_assume(target, role, p, None, "no sts:ExternalId") for p in principals]
    wrong = [ask_assume(target, role, p, WRONG_EXTERNAL_ID, "a wrong sts:ExternalId") for p in principals]
    with_right = [ask_assume(target, role, p, right, f"sts:ExternalId={right!r}") for p in principals] if right else []
    evidence["checked"] = [a.to_json() for a in without + wrong + with_right]
    principal = principals[0]
    fixed = _trust_fix(target, role, _fallback_principal(target), configured_id)
    loose = [a for a in without if a.allowed]
    if loose:
        fix_text = _drop_and_fix(target, role, loose, integ.vendor_principal or loose[0].context["aws:PrincipalArn"],
                                 configured_id)
        return Outcome(Status.FAIL, f"{loose[0].context['aws:PrincipalArn']} may assume {role.name} without an "
                       "sts:ExternalId (confused-deputy risk).", evidence, fix_text, resource=role.arn,
                       principal=loose[0].context["aws:PrincipalArn"])
    any_value = [a for a in wrong if a.allowed]
    if any_value:
        return Outcome(Status.FAIL, f"The trust of {role.name} accepts any sts:ExternalId (a wrong one was allowed).",
                       evidence, _drop_and_fix(target, role, any_value, principal, configured_id), resource=role.arn,
                       principal=principal)
    unknown = [a for a in without + wrong + with_right if a.unknown]
    if unknown:
        return Outcome(Status.UNKNOWN, f"Could not establish whether the trust of {role.name} requires sts:ExternalId: "
                       f"it depends on {conditions_text(unknown)}.", evidence, resource=role.arn, principal=principal)
    ok = [a for a in with_right if a.allowed]
    if ok:
        who = ok[0].context["aws:PrincipalArn"]
        return Outcome(Status.PASS, f"{role.name} may be assumed by {who} only with sts:ExternalId {right!r}.",
                       evidence, resource=role.arn, principal=who)
    if configured_id and found and configured_id not in found:
        return Outcome(Status.FAIL, f"The trust of {role.name} requires sts:ExternalId {', '.join(found)}, not the "
                       f"configured {configured_id!r} that {vname} sends.", evidence, fixed, resource=role.arn,
                       principal=principal)
    if right and right in found:
        # The id is the right one: what keeps the vendor out is elsewhere in the trust (its principal, a condition).
        refused = next((a for a in with_right if not a.allowed), None)
        why = f": {refused.result.reason}" if refused and refused.result.reason else ""
        return Outcome(Status.FAIL, f"The trust of {role.name} requires sts:ExternalId {right!r}, but does not let "
                       f"{principal} assume the role with it{why} (see {integ.vendor}.trust-policy).", evidence, fixed,
                       resource=role.arn, principal=principal)
    return Outcome(Status.FAIL, f"No statement of the trust of {role.name} lets {vname} assume it with an external "
                   f"id (see {integ.vendor}.trust-policy).", evidence, fixed, resource=role.arn, principal=principal)


def _drop_and_fix(target: Target, role: RoleState, asked: Sequence[Asked], principal: str,
                  external_id: str | None) -> str:
    """Replace the statements that allow without (or with any) external id by one that requires it."""
    planned, _ = _planned_fix(target, role)
    if planned is not None:
        return planned
    indices = {ref.index for a in asked for ref in a.result.deciding
               if ref.effect.lower() == "allow"}
    kept = fix.remove_statements(role.trust_policy or {}, indices)
    stmt = _assume_statement(target, principal, external_id)
    merged = fix.merge_statement(kept, stmt)
    return fix.explain(f"Replace the statement(s) {sorted(indices)} of the trust of {role.name} with one that "
                       "requires sts:ExternalId (other statements kept):", merged,
                       fix.update_assume_role_policy_cmd(role.name, merged))


def foreign_accounts(role: RoleState, own: str) -> list[str]:
    out = []
    for p in trusted_aws_principals(role.trust_policy):
        acct = "*" if p == "*" else principal_account(p)
        if acct and acct != own:
            out.append(acct)
    return list(dict.fromkeys(out))


@check("trust_external_id", reads=TRUST_READS)
def trust_external_id(target: Target) -> list[Outcome] | Outcome | None:
    """Every role that trusts another account requires sts:ExternalId (one finding per role, on the account's first bucket)."""
    account = target.account
    if not account.buckets or target.bucket.name != account.buckets[0].name:
        return None  # roles belong to the account: report them once
    err = account.error("GetAccountAuthorizationDetails")
    if err is not None and err.code == "NotSupported" or "iam" in account.unsupported:
        return None
    problem = iam_problem(account)
    if problem:
        return Outcome(Status.UNKNOWN, f"Could not verify role trust policies: {problem}.",
                       resource=f"arn:aws:iam::{account.account_id}:root", account_level=True)
    outcomes = []
    for role in account.roles:
        if "/aws-service-role/" in role.arn or role.trust_policy is None:
            continue
        foreign = foreign_accounts(role, account.account_id)
        if not foreign:
            continue
        asked = []
        for acct in foreign:
            real = "999999999999" if acct == "*" else acct
            if real == account.account_id:
                real = "999999999998"
            for p in candidates(role.trust_policy, real):
                asked.append(ask_assume(target, role, p, None, "no sts:ExternalId"))
        evidence = {"role": role.arn, "trusted_accounts": foreign, "trust_policy": dict(role.trust_policy),
                    "checked": [a.to_json() for a in asked if not a.denied] or [a.to_json() for a in asked][:5]}
        loose = [a for a in asked if a.allowed]
        unknown = [a for a in asked if a.unknown]
        if loose:
            who = loose[0].context["aws:PrincipalArn"]
            indices = sorted({ref.index for a in loose for ref in a.result.deciding if ref.effect.lower() == "allow"})
            stmts = statements_of(role.trust_policy)
            fixed = dict(role.trust_policy)
            fixed["Statement"] = [
                _with_external_id(s) if i in indices and isinstance(s, Mapping) else s for i, s in enumerate(stmts)]
            outcomes.append(Outcome(
                Status.FAIL, f"Role {role.name} trusts account(s) {', '.join(foreign)} and {who} may assume it "
                "without an sts:ExternalId.", evidence,
                fix.explain(f"Require an external id in statement(s) {indices} of the trust of {role.name} "
                            "(ask the other party for the value; other statements kept):", fixed,
                            fix.update_assume_role_policy_cmd(role.name, fixed)),
                resource=role.arn, principal=who))
        elif unknown:
            outcomes.append(Outcome(Status.UNKNOWN, f"Could not establish whether role {role.name} requires "
                                    f"sts:ExternalId of {', '.join(foreign)}: it depends on {conditions_text(unknown)}.",
                                    evidence, resource=role.arn))
        else:
            outcomes.append(Outcome(Status.PASS, f"Role {role.name} trusts {', '.join(foreign)} only with conditions "
                                    "(sts:ExternalId or stricter).", evidence, resource=role.arn))
    return [dataclasses.replace(o, account_level=True) for o in outcomes] or None


def _with_external_id(st: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(st)
    cond = {k: dict(v) for k, v in (st.get("Condition") or {}).items()}
    cond.setdefault("StringEquals", {})["sts:ExternalId"] = "SHARED-EXTERNAL-ID"
    out["Condition"] = cond
    return out
