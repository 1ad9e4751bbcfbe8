"""Access-key checks for the IAM users vendors sign in as (Tenyks, RedBrick)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from auditor import remediation as fix
from auditor.checks._access import iam_problem
from auditor.checks.registry import Outcome, Param, Target, check
from auditor.model import AccountState, Status, UserState

KEY_READS = ("iam:GetAccountAuthorizationDetails", "iam:ListAccessKeys")


def _user(account: AccountState, name: str) -> UserState | Outcome:
    problem = iam_problem(account)
    arn = f"arn:aws:iam::{account.account_id}:user/{name}"
    if problem:
        return Outcome(Status.UNKNOWN, f"Could not verify: {problem}.", {"user": name}, resource=arn, principal=arn)
    user = account.user(name)
    if user is None:
        return Outcome(Status.FAIL, f"IAM user {name!r} does not exist in account {account.account_id}.",
                       {"user": name}, f"aws iam create-user --user-name {name}\n{fix.create_access_key_cmd(name)}",
                       resource=arn, principal=arn, missing=arn)
    if user.access_keys is None:
        err = next((e for e in user.errors if e.api == "ListAccessKeys"), None)
        return Outcome(Status.UNKNOWN, f"Could not verify: {err.describe() if err else 'access keys were not collected'}.",
                       {"user": user.arn}, resource=user.arn, principal=user.arn)
    return user


def _keys(user: UserState) -> list[dict[str, Any]]:
    return [{"access_key_id": k.access_key_id, "status": k.status, "created": k.created} for k in user.access_keys or ()]


@check("access_key_active", reads=KEY_READS)
def access_key_active(target: Target) -> Outcome | None:
    """The integration's IAM user has at least one Active access key."""
    integ = target.integration
    if integ is None or not integ.user_name:
        return None
    user = _user(target.account, integ.user_name)
    if isinstance(user, Outcome):
        return user
    evidence = {"user": user.arn, "access_keys": _keys(user)}
    active = [k for k in user.access_keys or () if k.status == "Active"]
    if active:
        return Outcome(Status.PASS, f"User {user.name} has {len(active)} active access key(s).", evidence,
                       resource=user.arn, principal=user.arn)
    inactive = [k for k in user.access_keys or () if k.status != "Active"]
    if inactive:
        remediation = (f"Re-activate the key the vendor holds:\n{fix.update_access_key_cmd(user.name, inactive[0].access_key_id)}"
                       f"\n\nor create a new one and give it to the vendor:\n{fix.create_access_key_cmd(user.name)}")
        msg = f"User {user.name} has {len(inactive)} access key(s), none active; the vendor cannot sign requests."
    else:
        remediation = f"Create a key and give it to the vendor:\n{fix.create_access_key_cmd(user.name)}"
        msg = f"User {user.name} has no access key; the vendor cannot sign requests."
    return Outcome(Status.FAIL, msg, evidence, remediation, resource=user.arn, principal=user.arn)


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@check("access_key_age", reads=KEY_READS, params={"max_days": Param(int, 90)})
def access_key_age(target: Target, *, max_days: int) -> list[Outcome] | None:
    """Each integration user's active keys are younger than ``max_days`` at the end of the scan."""
    now = _parse(target.snapshot.finished_at)
    outcomes: list[Outcome] = []
    seen: set[str] = set()
    for integ in target.integrations:
        name = integ.user_name
        if not name or name in seen:
            continue
        seen.add(name)
        user = _user(target.account, name)
        if isinstance(user, Outcome):
            if user.status == Status.UNKNOWN:
                outcomes.append(user)
            continue  # a missing user is the vendor rule's finding
        active = [k for k in user.access_keys or () if k.status == "Active"]
        ages = []
        undated = []
        for k in active:
            created = _parse(k.created)
            if created is None or now is None:
                undated.append(k.access_key_id)
            else:
                ages.append((k, (now - created).days))
        old = [(k, d) for k, d in ages if d > max_days]
        evidence = {"user": user.arn, "vendor": integ.vendor, "scan_finished_at": target.snapshot.finished_at,
                    "max_days": max_days,
                    "active_keys": [{"access_key_id": k.access_key_id, "created": k.created, "age_days": d}
                                    for k, d in ages] + [{"access_key_id": k, "created": None} for k in undated]}
        if old:
            k, d = old[0]
            remediation = (f"Rotate: create a new key, give it to {integ.vendor}, then deactivate the old one:\n"
                           f"{fix.create_access_key_cmd(user.name)}\n"
                           + "\n".join(fix.update_access_key_cmd(user.name, k.access_key_id, "Inactive") for k, _ in old))
            outcomes.append(Outcome(Status.FAIL, f"User {user.name}'s active key {k.access_key_id} is {d} days old "
                                    f"(limit {max_days}).", evidence, remediation, resource=user.arn, principal=user.arn))
        elif undated:
            outcomes.append(Outcome(Status.UNKNOWN, f"Could not verify the age of {user.name}'s active key(s) "
                                    f"{', '.join(undated)}: no creation date was collected.", evidence,
                                    resource=user.arn, principal=user.arn))
        else:
            text = (f"User {user.name} has {len(active)} active key(s), all younger than {max_days} days." if active
                    else f"User {user.name} has no active access key (nothing to rotate).")
            outcomes.append(Outcome(Status.PASS, text, evidence, resource=user.arn, principal=user.arn))
    return outcomes or None
