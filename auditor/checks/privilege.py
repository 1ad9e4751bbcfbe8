"""Least privilege for vendor principals, and versioning where a vendor may delete.

Every candidate S3 action (``expand_actions("s3:*")``) is put to the evaluator on the
bucket ARN and on object keys inside and outside the integration's scope; what comes back
allowed beyond the vendor's mode is listed, action by action, with the statement that grants it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from auditor import narrow
from auditor import remediation as fix
from auditor.checks._access import (
    PROBE,
    VENDOR_SIDE,
    Actor,
    Asked,
    actor_for,
    ask_s3,
    conditions_text,
    denied_unasked,
    sampled_keys,
    unmatched_actions,
)
from auditor.checks._guide import guide_requirements
from auditor.checks.access import actor_evidence, explain_edits
from auditor.checks.registry import Outcome, Target, check
from auditor.model import Integration, Status
from auditor.policy import expand_actions
from auditor.policy.actions import resource_types
from auditor.profile import GuideRequirement

PRIV_READS = ("s3:GetBucketPolicy", "iam:GetAccountAuthorizationDetails")
OBJECT_ONLY = {"AbortMultipartUpload", "ListMultipartUploadParts", "ReplicateDelete", "ReplicateTags",
               "InitiateReplication"}
# Actions whose resource is not a bucket (access points, jobs, Storage Lens, the account).
NOT_BUCKET = ("AccessPoint", "Job", "StorageLens", "AccessGrant", "Account", "ListAllMyBuckets", "Endpoint",
              "MultiRegion", "ListRegionalBuckets", "CallerAccessGrants", "Outpost")
TOLERATED_BUCKET = {"s3:GetBucketLocation"}  # SDKs call it to find the bucket's region
OUTSIDE = "auditor-outside-scope/"


def is_object_action(action: str) -> bool:
    types = resource_types(action)  # the Service Authorization Reference's resource types
    if types:
        return "object" in types
    name = action.split(":", 1)[-1]
    return ("Object" in name and "Bucket" not in name) or name in OBJECT_ONLY


def is_bucket_action(action: str) -> bool:
    types = resource_types(action)
    if types:
        return "bucket" in types and "object" not in types
    name = action.split(":", 1)[-1]
    return not is_object_action(action) and not any(w in name for w in NOT_BUCKET)


@dataclass(frozen=True, slots=True)
class Needs:
    """What a vendor's mode needs: object actions per prefix, and bucket actions."""

    zones: tuple[tuple[str, frozenset[str]], ...]  # (prefix, object actions)
    bucket: frozenset[str]
    label: str  # e.g. "read-only under slides/"
    list_prefix: str = ""  # s3:ListBucket is needed only with s3:prefix under this prefix ("" = anywhere)


def needs_of(integ: Integration, bucket_name: str) -> Needs | None:
    """What the integration's mode needs on ``bucket_name``, from the vendor's profile (None: no profile)."""
    profile = integ.profile
    mode_needs = profile.needs.get(integ.mode) if profile else None
    if mode_needs is None:
        return None
    zones: list[tuple[str, frozenset[str]]] = []
    for zname, actions in mode_needs.objects:
        z = integ.zone(zname)
        if z.bucket == bucket_name:
            zones.append((z.prefix, actions))
    # A zone inside another that already allows at least as much adds nothing (V7's thumbnails inside the scope).
    kept = [(p, a) for i, (p, a) in enumerate(zones)
            if not any(j != i and p.startswith(q) and a <= b and (q, b) != (p, a) for j, (q, b) in enumerate(zones))]
    kept = list(dict.fromkeys(kept))
    where = ", ".join(p or "the whole bucket" for p, _ in kept) or "nothing of its objects"
    list_prefix = ""
    if mode_needs.list_zone:
        z = integ.zone(mode_needs.list_zone)
        list_prefix = z.prefix if z.bucket == bucket_name else ""
    return Needs(tuple(kept), mode_needs.bucket, f"{integ.mode} on {where}", list_prefix)


def _probe_keys(target: Target, needs: Needs) -> list[tuple[str, frozenset[str], str]]:
    """(key, actions allowed there, note): a sampled key and a representative one per zone, and one outside."""
    out: list[tuple[str, frozenset[str], str]] = []

    def allowed_at(key: str) -> frozenset[str]:
        acts: set[str] = set()
        for prefix, actions in needs.zones:
            if key.startswith(prefix):
                acts |= actions
        return frozenset(acts)

    for prefix, _ in needs.zones:
        for k in sampled_keys(target.bucket, prefix, 1):
            out.append((k, allowed_at(k), "sampled object in scope"))
        out.append((prefix + PROBE, allowed_at(prefix + PROBE), "representative key in scope"))
    prefixes = [p for p, _ in needs.zones]
    if all(prefixes):
        outside = next((o.key for o in target.bucket.objects
                        if not any(o.key.startswith(p) for p in prefixes) and not o.key.endswith("/")), None)
        if outside:
            out.append((outside, allowed_at(outside), "sampled object outside scope"))
        out.append((OUTSIDE + PROBE, frozenset(), "representative key outside scope"))
    return list({k: (k, a, n) for k, a, n in out}.values())


def _listing_text(a: Asked) -> str:
    prefix = a.context.get("s3:prefix")
    return f" with s3:prefix {prefix!r}" if prefix is not None else " without an s3:prefix limit"


def _category(action: str, read_only: bool, outside: bool) -> str:
    name = action.split(":", 1)[-1]
    if "Acl" in name:
        return "ACL"
    if "Policy" in name:
        return "policy"
    if read_only and name.startswith(("Put", "Delete", "Replicate", "Restore", "Abort", "Bypass", "Create", "Update")):
        return "write/delete"
    if outside:
        return "outside scope"
    return "not needed"


def _granting(a: Asked) -> list[Any]:
    """The Allow statements of this account's policies that grant ``a``: not the vendor's own identity policy,
    which the evaluator assumes to allow everything for a principal of another account."""
    return [ref for ref in a.result.deciding if ref.effect.lower() == "allow" and ref.policy != VENDOR_SIDE.name]


def _wildcard_grants(asked: Iterable[Asked]) -> list[dict[str, Any]]:
    out, seen = [], set()
    for a in asked:
        for ref in _granting(a):
            acts = ref.statement.get("Action", [])
            acts = [acts] if isinstance(acts, str) else list(acts)
            if any(x in ("*", "s3:*") for x in acts) and (ref.policy, ref.index) not in seen:
                seen.add((ref.policy, ref.index))
                out.append({"policy": ref.policy, "sid": ref.sid, "index": ref.index, "statement": dict(ref.statement)})
    return out


def minimal_statements(needs: Needs, bucket_arn: str, actor: Actor) -> list[dict[str, Any]]:
    out = []
    for i, (prefix, actions) in enumerate(needs.zones):
        st: dict[str, Any] = {"Sid": f"VendorObjects{i + 1}", "Effect": "Allow", "Action": sorted(actions),
                              "Resource": f"{bucket_arn}/{prefix}*"}
        out.append(st)
    others = sorted(needs.bucket - {"s3:ListBucket"}) if needs.list_prefix else sorted(needs.bucket)
    if others:
        out.append({"Sid": "VendorList", "Effect": "Allow", "Action": others, "Resource": bucket_arn})
    if needs.list_prefix and "s3:ListBucket" in needs.bucket:
        out.append({"Sid": "VendorListPrefix", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn,
                    "Condition": {"StringLike": {"s3:prefix": f"{needs.list_prefix}*"}}})
    if actor.cross_account:
        out = [{**s, "Principal": {"AWS": actor.arn}} for s in out]
    return out


def _remediation(target: Target, integ: Integration, actor: Actor, needs: Needs, extra: Sequence[Asked]) -> str:
    refs = {}
    for a in extra:
        for ref in _granting(a):
            refs[(ref.policy, ref.index)] = ref
    parts = ["These statements grant more than the integration needs:\n" + "\n".join(
        f"- {r.label()}: {fix.compact(r.statement)}" for r in refs.values())]
    # The same edits `auditor plan` proposes (auditor.narrow), when the vendor's pack has plan statements.
    found = narrow.grant_plan(target.account, integ, narrow=True, finished_at=target.snapshot.finished_at)
    edits = explain_edits(target, integ, found) if isinstance(found, narrow.GrantPlan) else []
    if edits:
        parts += edits
        return "\n\n".join(parts)
    minimal = minimal_statements(needs, target.bucket.arn, actor)
    bucket_refs = [r for r in refs.values() if str(r.policy_type).lower().startswith("resource")
                   or r.policy.startswith("bucket policy")]
    if bucket_refs and target.bucket.policy is not None:
        kept = fix.remove_statements(target.bucket.policy, {r.index for r in bucket_refs})
        merged = kept
        if actor.cross_account:
            for st in minimal:
                merged = fix.merge_statement(merged, st)
        parts.append(fix.explain("Bucket policy with those statements replaced by the least-privilege grant "
                                 "(other statements kept):", merged,
                                 fix.put_bucket_policy_cmd(target.bucket.name, merged, target.account.provider)))
    if not actor.cross_account:
        doc = {"Version": "2012-10-17", "Statement": minimal}
        name = f"{actor.vendor}-least-privilege"
        cmd = (fix.put_user_policy_cmd(actor.name, name, doc) if actor.kind == "user"
               else fix.put_role_policy_cmd(actor.name, name, doc))
        parts.append(fix.explain(f"Give the {actor.kind} only this policy, then detach or narrow the statements above:",
                                 doc, cmd))
    return "\n\n".join(parts)


def _within(asked: Asked, req: GuideRequirement, bucket_arn: str) -> bool:
    """Whether an allowed request is one the guide's own grant makes (its actions on the whole bucket)."""
    if asked.resource == bucket_arn:
        return asked.action in req.bucket
    return asked.resource.startswith(bucket_arn + "/") and asked.action in req.objects


@check("vendor_excess_privilege", reads=PRIV_READS)
def vendor_excess_privilege(target: Target) -> list[Outcome] | None:
    """Each vendor principal on the bucket gets nothing beyond its mode: no extra action, nothing outside scope."""
    if not target.integrations:
        return None
    err = target.bucket.error("GetBucketPolicy")
    candidates = sorted(expand_actions("s3:*"))
    object_actions = [a for a in candidates if is_object_action(a)]
    bucket_actions = [a for a in candidates if is_bucket_action(a)]
    outcomes: list[Outcome] = []
    seen: set[str] = set()
    by_guides = guide_requirements(target, "baseline.vendor-excess-privilege")
    for integ in target.integrations:
        actor = actor_for(target, integ)
        if isinstance(actor, Outcome):
            outcomes.append(actor)
            continue
        if actor.arn in seen:
            continue
        seen.add(actor.arn)
        if err is not None:
            outcomes.append(Outcome(Status.UNKNOWN, f"Could not verify: {err.describe()}.",
                                    {"api_error": {"api": err.api, "code": err.code}}, principal=actor.arn))
            continue
        needs = needs_of(integ, target.bucket.name)
        if needs is None:
            outcomes.append(Outcome(Status.UNKNOWN, f"Could not verify: the profile of '{integ.vendor}' says nothing of "
                                    f"what {integ.mode} needs.", {"vendor": integ.vendor}, principal=actor.arn))
            continue
        read_only = integ.mode != "read-write"
        asked: list[tuple[Asked, bool, bool]] = []  # (answer, extra?, outside?)
        # Actions no statement names are denied whatever the key or context: not put to the evaluator
        # (on most buckets that is nearly all of them).
        unnamed = unmatched_actions(actor, target.bucket, candidates)
        for action in bucket_actions:
            if action in unnamed:
                if action == "s3:ListBucket" and needs.list_prefix:
                    asked += [(denied_unasked(action, target.bucket.arn), True, True)] * 2
                else:
                    asked.append((denied_unasked(action, target.bucket.arn), action not in needs.bucket | TOLERATED_BUCKET,
                                  False))
                continue
            a = ask_s3(target, actor, target.bucket, action)
            if action == "s3:ListBucket" and needs.list_prefix:
                # Needed only under the folder: listing without s3:prefix, or outside the folder, is excess.
                asked.append((a, True, True))
                asked.append((ask_s3(target, actor, target.bucket, action, prefix=OUTSIDE,
                                     note=f"listing outside {needs.list_prefix}"), True, True))
                continue
            asked.append((a, action not in needs.bucket | TOLERATED_BUCKET, False))
        for key, allowed_here, note in _probe_keys(target, needs):
            outside = not allowed_here
            for action in object_actions:
                if action in unnamed:
                    asked.append((denied_unasked(action, f"{target.bucket.arn}/{key}", note), action not in allowed_here,
                                  outside))
                    continue
                a = ask_s3(target, actor, target.bucket, action, key, note=note)
                asked.append((a, action not in allowed_here, outside))
        extra = [(a, o) for a, is_extra, o in asked if is_extra and a.allowed]
        required = [r for r in by_guides if r.integration is integ]
        by_guide = [(a, o) for a, o in extra if any(_within(a, r.requirement, target.bucket.arn) for r in required)]
        extra = [(a, o) for a, o in extra if (a, o) not in by_guide]
        undecided = [(a, o) for a, is_extra, o in asked if is_extra and a.unknown]
        granted = [a for a, _, _ in asked if a.allowed]
        wild = _wildcard_grants(granted)
        listing: list[dict[str, Any]] = [{"action": a.action, "resource": a.resource, "category": _category(a.action, read_only, o),
                    **({"request": _listing_text(a)} if a.action == "s3:ListBucket" else {}),
                    "deciding": [f"{r.policy} {r.name}" for r in _granting(a)]}
                   for a, o in extra]
        evidence: dict[str, Any] = {**actor_evidence(actor), "vendor": integ.vendor, "mode": integ.mode,
                                    "needs": needs.label,
                                    "needed": {"objects": {p or "(whole bucket)": sorted(acts) for p, acts in needs.zones},
                                               "bucket": sorted(needs.bucket | TOLERATED_BUCKET)},
                                    "candidate_actions": len(candidates), "requests_checked": len(asked),
                                    "extra": listing}
        if wild:
            evidence["wildcard_statements"] = wild
        if by_guide:
            cited = "; ".join(dict.fromkeys(r.cited for r in required))
            narrower = " ".join(dict.fromkeys(r.narrower for r in required if r.narrower))
            evidence["required_by"] = cited
            evidence["required_by_guide"] = sorted({f"{a.action} on {a.resource.split(':::', 1)[-1]}" for a, _ in by_guide})
            if narrower:
                evidence["vendor_guide"] = narrower
        if by_guide and not extra and not undecided:
            outcomes.append(Outcome(
                Status.FAIL, f"{actor.describe()} ({integ.vendor}, {needs.label}) gets "
                f"{', '.join(sorted({a.action for a, _ in by_guide}))} on the whole bucket, beyond what it uses, as "
                f"required by {cited}.{' ' + narrower if narrower else ''}", evidence,
                _remediation(target, integ, actor, needs, [a for a, _ in by_guide]) if narrower else None,
                principal=actor.arn, required_by=cited))
        elif extra:
            cats: dict[str, list[str]] = {}
            for item in listing:
                cats.setdefault(item["category"], []).append(
                    f"{item['action']} on {item['resource'].split(':::', 1)[-1]}{item.get('request', '')}")
            summary = "; ".join(f"{c}: {', '.join(v[:6])}{' …' if len(v) > 6 else ''}" for c, v in cats.items())
            star = " (s3:* granted)" if wild else ""
            outcomes.append(Outcome(
                Status.FAIL, f"{actor.describe()} ({integ.vendor}, {needs.label}) gets {len(extra)} permission(s) "
                f"beyond its needs{star}: {summary}.", evidence,
                _remediation(target, integ, actor, needs, [a for a, _ in extra]), principal=actor.arn))
        elif undecided:
            evidence["undecided"] = [a.to_json() for a, _ in undecided[:20]]
            outcomes.append(Outcome(
                Status.UNKNOWN, f"Could not establish whether {actor.describe()} gets "
                f"{', '.join(sorted({a.action for a, _ in undecided})[:6])} beyond its needs: it depends on "
                f"{conditions_text([a for a, _ in undecided])}.", evidence, principal=actor.arn))
        else:
            outcomes.append(Outcome(Status.PASS, f"{actor.describe()} ({integ.vendor}) gets nothing beyond "
                                    f"{needs.label} ({len(asked)} requests checked).", evidence, principal=actor.arn))
    return outcomes or None


@check("versioning_with_delete", reads=("s3:GetBucketVersioning",) + PRIV_READS)
def versioning_with_delete(target: Target) -> Outcome | None:
    """A bucket where a vendor principal may s3:DeleteObject has versioning Enabled."""
    if not target.integrations:
        return None
    verr = target.bucket.error("GetBucketVersioning")
    perr = target.bucket.error("GetBucketPolicy")
    deleters, undecided, problems = [], [], []
    checked: list[dict[str, Any]] = []
    for integ in target.integrations:
        actor = actor_for(target, integ)
        if isinstance(actor, Outcome):
            if not actor.missing:  # a missing principal deletes nothing: the integration's own rule reports it
                problems.append(actor.message)
            continue
        if perr is not None:
            problems.append(perr.describe())
            continue
        needs = needs_of(integ, target.bucket.name)
        if needs is None:
            problems.append(f"the profile of '{integ.vendor}' says nothing of what {integ.mode} needs")
            continue
        keys = []
        for prefix, _ in needs.zones:
            keys += sampled_keys(target.bucket, prefix, 1) + [prefix + PROBE]
        for key in dict.fromkeys(keys):
            a = ask_s3(target, actor, target.bucket, "s3:DeleteObject", key)
            checked.append({**a.to_json(), "principal": actor.arn})
            if a.allowed:
                deleters.append(actor.arn)
            elif a.unknown:
                undecided.append(a)
    deleters = list(dict.fromkeys(deleters))
    evidence = {"versioning": target.bucket.versioning or "never enabled", "vendors_that_may_delete": deleters,
                "checked": checked}
    if verr is not None:
        if deleters or undecided or problems:
            return Outcome(Status.UNKNOWN, f"Could not verify: {verr.describe()}.", evidence)
        return None
    if target.bucket.versioning == "Enabled":
        if deleters:
            return Outcome(Status.PASS, f"Versioning is on; {', '.join(deleters)} may delete objects, which stay "
                           "recoverable.", evidence)
        return None
    remediation = fix.put_bucket_versioning_cmd(target.bucket.name, target.account.provider)
    if deleters:
        state = f"{target.bucket.versioning} (not Enabled)" if target.bucket.versioning else "off (never enabled)"
        return Outcome(Status.FAIL, f"{', '.join(deleters)} may delete objects, but versioning is "
                       f"{state}: deleted objects cannot be recovered.",
                       evidence, remediation)
    if undecided or problems:
        why = conditions_text(undecided) or "; ".join(problems)
        return Outcome(Status.UNKNOWN, f"Versioning is off and whether a vendor may delete objects could not be "
                       f"established: {why}.", evidence, remediation)
    return None

