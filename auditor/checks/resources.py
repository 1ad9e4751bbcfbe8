"""Does what the integration names exist: its bucket(s), and the role or IAM user the vendor uses?

One finding per integration. When something is missing, the rules that need it give no row of their
own (their outcomes carry ``missing``; the engine drops them and lists them here as not evaluated), so
a typo in a bucket or user name is one line with the fix, not one row per rule.
"""

from __future__ import annotations

from typing import Any

from auditor.checks._access import actor_for, arn_account
from auditor.checks.registry import Outcome, Target, check
from auditor.model import Status

RESOURCE_CHECK = "integration_resources"


@check(RESOURCE_CHECK, reads=("s3:ListAllMyBuckets", "iam:GetAccountAuthorizationDetails"))
def integration_resources(target: Target) -> Outcome | None:
    """The integration's buckets, and its role or user, exist in the account."""
    integ = target.integration
    if integ is None:
        return None
    account = target.account
    where = f"account {account.name} ({account.account_id})"
    evidence: dict[str, Any] = {"buckets": list(integ.buckets()), "missing": []}
    gone: list[str] = []  # what does not exist (fail)
    unseen: list[str] = []  # what could not be found (unknown)
    fixes: list[str] = []
    listing = account.error("ListBuckets")
    for name in integ.buckets():
        if account.bucket(name) is not None:
            continue
        evidence["missing"].append(f"arn:aws:s3:::{name}")
        if listing is not None:
            unseen.append(f"bucket {name!r} was not found: {listing.describe()}")
        else:
            unseen.append(f"bucket {name!r} was not found in {where}: ListBuckets does not list it, or the "
                          "account's bucket filter leaves it out")
            fixes.append(f"Create bucket {name} (aws s3 mb s3://{name}) or correct the integration's bucket "
                         "and account in the config.")
    principal = None
    actor = actor_for(target, integ)
    if isinstance(actor, Outcome) and actor.missing:
        principal = actor.missing
        evidence["missing"].append(actor.missing)
        kind = "IAM user" if ":user/" in actor.missing else "role"
        name = actor.missing.rsplit("/", 1)[-1]
        shown = repr(name) if kind == "IAM user" else actor.missing
        text = f"{kind} {shown} does not exist in {where}"
        owner = arn_account(actor.missing)
        if owner and owner != account.account_id:
            text += f" (the ARN names account {owner})"
        gone.append(text)
        key = integ.profile.key_of_type("user-name" if kind == "IAM user" else "role-arn") if integ.profile else None
        what = f"`{key.name}`" if key else "the principal"
        if kind == "IAM user":
            fixes.append(f"aws iam create-user --user-name {name}\naws iam create-access-key --user-name {name}\n"
                         f"then grant it what the vendor needs (auditor plan writes the policy), or correct {what} "
                         "in the integration.")
        else:
            fixes.append(f"Create role {name} with the trust and policy `auditor plan` writes for this integration, "
                         f"or correct {what} in the integration.")
    elif isinstance(actor, Outcome) and actor.status == Status.UNKNOWN and integ.profile \
            and integ.profile.access != "fixed-principal":
        return Outcome(Status.UNKNOWN, f"{'; '.join(unseen) + '; ' if unseen else ''}"
                       f"whether the integration's principal exists could not be verified: "
                       f"{actor.message.removeprefix('Could not verify: ')}", evidence)
    problems = gone + unseen
    if problems:
        text = "; ".join(problems)
        return Outcome(Status.FAIL if gone else Status.UNKNOWN, text[:1].upper() + text[1:] + ".", evidence,
                       "\n\n".join(fixes) or None, principal=principal)
    who = "" if isinstance(actor, Outcome) or actor.cross_account else f" and {actor.describe()}"
    names = ", ".join(integ.buckets())
    return Outcome(Status.PASS, f"Bucket{'s' if len(integ.buckets()) > 1 else ''} {names}{who} exist in {where}.",
                   evidence, principal=None if isinstance(actor, Outcome) or actor.cross_account else actor.arn)
