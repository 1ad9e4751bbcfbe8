"""Grant checks: may the vendor's principal read, write or list what the integration needs?

Every answer comes from the IAM evaluator over all the policies that apply (bucket policy;
for same-account users and roles also their attached, inline and group policies and
permission boundary), asked on sampled keys and on a representative key for each
configured prefix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from auditor import narrow
from auditor import remediation as fix
from auditor.checks._access import (
    Actor,
    Asked,
    actor_for,
    ask_s3,
    conditions_text,
    keys_under,
    sampled_keys,
    summarise,
)
from auditor.checks._keyspace import region_keys
from auditor.checks.registry import REQUIRED, Outcome, Param, Target, check
from auditor.model import BucketState, Integration, Status
from auditor.policy.requestctx import REST_HEADER, REST_QUERY_STRING

GRANT_READS = ("s3:GetBucketPolicy", "iam:GetAccountAuthorizationDetails", "s3:ListBucket")
ALLOWED_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Zone:
    """Where a grant must hold: a bucket, the keys to ask about, the prefix a listing uses."""

    bucket: BucketState
    keys: tuple[tuple[str, str], ...]  # (key, note)
    list_prefix: str
    object_resources: tuple[str, ...]  # ARN patterns a fix should grant
    what: str  # for messages


def zone_for(target: Target, integ: Integration, zone: str) -> Zone | Outcome:
    """The profile's zone ``zone`` for this integration: its bucket, the keys to ask about, its prefix."""
    try:
        z = integ.zone(zone)
    except KeyError as e:
        return Outcome(Status.UNKNOWN, f"Could not verify: {e.args[0]}.", {"zone": zone})
    bucket = target.bucket
    if z.bucket != bucket.name:
        other = target.account.bucket(z.bucket)
        if other is None:
            return Outcome(Status.UNKNOWN, f"Could not verify: bucket {z.bucket!r} ({zone}) was not collected.",
                           {"bucket": z.bucket, "zone": zone}, resource=f"arn:aws:s3:::{z.bucket}",
                           missing=f"arn:aws:s3:::{z.bucket}")
        err = other.error("GetBucketPolicy")
        if err is not None:
            return Outcome(Status.UNKNOWN, f"Could not verify: {err.describe()}.",
                           {"api_error": {"api": err.api, "code": err.code, "message": err.message}},
                           resource=other.arn)
        bucket = other
    keys = keys_under(bucket, z.prefix)
    present = {o.key for o in bucket.objects}
    for key in z.files.values():
        keys.append((key, "sampled object" if key in present else "required file (not among the sampled objects)"))
    resources = (f"{bucket.arn}/{z.prefix}*",) + tuple(f"{bucket.arn}/{k}" for k in z.files.values())
    return Zone(bucket, tuple(keys), z.prefix, resources, z.what)


def _shown(asked: Sequence[Asked]) -> list[dict[str, Any]]:
    """Every denied/unknown answer, and the first few allowed ones."""
    bad = [a.to_json() for a in asked if not a.allowed]
    good = [a.to_json() for a in asked if a.allowed][:ALLOWED_SHOWN]
    return bad + good


def actor_evidence(actor: Actor) -> dict[str, Any]:
    ev: dict[str, Any] = {"principal": actor.arn, "principal_kind": actor.kind}
    if actor.cross_account:
        ev["note"] = "cross-account: the vendor's own identity policies are taken to allow; the bucket policy must grant"
    else:
        ev["identity_policies"] = [p.name for p in actor.identity]
        if actor.boundary:
            ev["permission_boundary"] = actor.boundary.name
    return ev


def deny_statements(asked: Sequence[Asked]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for a in asked:
        for ref in a.result.deciding:
            if str(ref.effect).lower() == "deny" and (ref.policy, ref.index) not in seen:
                seen.add((ref.policy, ref.index))
                out.append({"policy": ref.policy, "sid": ref.sid, "index": ref.index, "statement": dict(ref.statement)})
    return out


def planned_grant(target: Target, integ: Integration, asked: Sequence[Asked]) -> str | None:
    """The grant `auditor plan` proposes for the integration (the same computation: what is missing granted
    exactly, nothing an attached or group policy already gives repeated), when the vendor's pack has plan
    statements and no explicit Deny is in the way; None otherwise (the generic merged grant is shown)."""
    if deny_statements([a for a in asked if a.denied]):
        return None
    found = narrow.grant_plan(target.account, integ, narrow=False, finished_at=target.snapshot.finished_at)
    if not isinstance(found, narrow.GrantPlan) or found.blocked:
        return None
    edits = explain_edits(target, integ, found)
    return "\n\n".join(edits) if edits else None


def explain_edits(target: Target, integ: Integration, found: narrow.GrantPlan) -> list[str]:
    """Each edit of a grant plan as plan shows it (title, document, command); none when the vendor's pack has
    no plan statements or nothing is to change."""
    if not found.templates:
        return []
    name = integ.profile.short_name if integ.profile else integ.vendor
    return [fix.explain(narrow.edit_title(e, found, name, integ.mode) + ":", e.after,
                        narrow.edit_command(e, found, target.account.provider)) for e in found.edits]


def grant_remediation(target: Target, actor: Actor, bucket: BucketState, statements: Sequence[Mapping[str, Any]],
                      asked: Sequence[Asked], *, policy_name: str) -> str:
    """The missing statements merged into the right policy, the CLI command, and any Deny to narrow."""
    parts: list[str] = []
    denies = deny_statements([a for a in asked if a.denied])
    if denies:
        lines = [f"- {d['policy']} statement {d['sid'] or '#' + str(d['index'])}: {fix.compact(d['statement'])}"
                 for d in denies]
        parts.append("These statements explicitly deny the request; narrow them so they do not apply to "
                     f"{actor.arn} (e.g. add a condition on aws:PrincipalArn):\n" + "\n".join(lines))
    implicit = [a for a in asked if a.decision == "implicitly_denied"]  # nothing allows (a Deny may also apply)
    # ``statements`` is never empty (there is something to grant), so ``merged`` is a policy below.
    if implicit or not denies:
        if actor.cross_account:
            merged = bucket.policy
            for st in statements:
                head = {k: st[k] for k in ("Sid", "Effect") if k in st}
                merged = fix.merge_statement(merged, {**head, "Principal": {"AWS": actor.arn}, **st})
            parts.append(fix.explain(
                f"Add the grant to the bucket policy of {bucket.name} (existing statements kept):", merged,
                fix.put_bucket_policy_cmd(bucket.name, cast("Mapping[str, Any]", merged), target.account.provider)))
        else:
            kind = "user" if actor.kind == "user" else "role"
            inline = [p for p in actor.identity if p.kind == f"inline-{kind}"]
            base = inline[0] if len(inline) == 1 else None
            name = base.policy_name if base else policy_name
            merged = base.document if base else None
            for st in statements:
                merged = fix.merge_statement(merged, st)
            cmd = (fix.put_user_policy_cmd(actor.name, name, cast("Mapping[str, Any]", merged)) if kind == "user"
                   else fix.put_role_policy_cmd(actor.name, name, cast("Mapping[str, Any]", merged)))
            parts.append(fix.explain(f"Grant it in the {kind}'s inline policy {name} (existing statements kept):",
                                     merged, cmd))
            blocked = {b for a in implicit for b in a.result.blocked_by}
            if actor.boundary and any(b == "pb" or "bound" in b.lower() for b in blocked):
                bmerged = actor.boundary.document
                for st in statements:
                    bmerged = fix.merge_statement(bmerged, st)
                parts.append(fix.explain(f"The permission boundary {actor.boundary.owner} must allow it too:",
                                         bmerged, fix.create_policy_version_cmd(actor.boundary.owner, bmerged)))
    return "\n\n".join(parts)


def plan_sid(integ: Integration, actions: Sequence[str]) -> str | None:
    """The Sid of the statement ``plan`` writes for these actions (the profile's [plan] statements), so that a
    finding's remediation and the plan propose the same statement."""
    profile = integ.profile
    for t in profile.plan.statements if profile else ():
        sid = t.statement.get("Sid")
        named = t.statement.get("Action", [])
        named = [named] if isinstance(named, str) else list(named)
        if sid and integ.mode in t.modes and actions and set(actions) <= set(named):
            return str(sid)
    return None


def _fix_statements(actions: Sequence[str], zone: Zone, asked: Sequence[Asked], sid: str) -> list[dict[str, Any]]:
    out = []
    missing_obj = sorted({a.action for a in asked if not a.allowed and a.action != "s3:ListBucket"
                          and a.resource != zone.bucket.arn})
    missing_bucket = sorted({a.action for a in asked if not a.allowed and a.action != "s3:ListBucket"
                             and a.resource == zone.bucket.arn})
    if missing_obj:
        res = list(zone.object_resources)
        out.append({"Sid": sid, "Effect": "Allow", "Action": missing_obj, "Resource": res[0] if len(res) == 1 else res})
    if any(a.action == "s3:ListBucket" and not a.allowed for a in asked):
        st: dict[str, Any] = {"Sid": sid + "List", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": zone.bucket.arn}
        if zone.list_prefix:
            st["Condition"] = {"StringLike": {"s3:prefix": f"{zone.list_prefix}*"}}
        out.append(st)
    if missing_bucket:
        out.append({"Sid": sid + "Bucket", "Effect": "Allow", "Action": missing_bucket, "Resource": zone.bucket.arn})
    return out


def _message(actor: Actor, asked: Sequence[Asked], status: Status, zone: Zone, actions: Sequence[str]) -> str:
    what = ", ".join(dict.fromkeys(a.action for a in asked))
    if status == Status.PASS:
        return f"{actor.describe()} may {what} on {zone.what} ({len(asked)} request(s) checked)."
    bad = [a for a in asked if (a.denied if status == Status.FAIL else a.unknown)]
    first = bad[0]
    where = first.resource.split(":::", 1)[-1]
    if first.note.startswith("representative key for "):  # a region of the key space: name its pattern
        where += f" ({first.note.split(' (', 1)[0].replace('representative key for', 'stands for')})"
    if status == Status.FAIL:
        return (f"{actor.describe()} cannot {first.action} {where}: {first.result.reason or first.decision}"
                f" ({len(bad)} of {len(asked)} request(s) denied).")
    return (f"Could not establish whether {actor.describe()} may {first.action} {where}: it depends on "
            f"{conditions_text(bad) or 'request context the scanner cannot know'}.")


def auth_types(integ: Integration, zone: str, action: str, presigned: bool = False) -> list[tuple[str, str]]:
    """How the vendor's requests for ``action`` on ``zone`` are signed, from its profile's ``[requests]``:
    in the header (its back end), and as a presigned URL where a browser request carries it."""
    out = [(REST_HEADER, "")]
    profile = integ.profile
    browser = presigned or bool(profile and any(
        r.auth == "presigned" and integ.mode in r.modes and (not r.zones or zone in r.zones)
        and (not r.actions or action in r.actions) for r in profile.requests))
    if browser:
        out.append((REST_QUERY_STRING, "; presigned URL in a browser"))
    return out


@check("object_grant", needs=("GetBucketPolicy",), reads=GRANT_READS, params={
    "actions": Param(list, [], "object actions that must be allowed", kind="actions"),
    "zone": Param(str, REQUIRED, "a zone of the vendor's profile", kind="zone"),
    "list_bucket": Param(bool, False, "also require s3:ListBucket with s3:prefix = the zone's prefix"),
    "bucket_actions": Param(list, [], "bucket actions that must be allowed on the zone's bucket", kind="actions"),
    "sid": Param(str, "VendorAccess", "Sid of the statement the remediation adds"),
    "presigned": Param(bool, False, "browsers also make these requests through presigned URLs the vendor signs "
                                    "(s3:authType REST-QUERY-STRING as well as REST-HEADER): both must be allowed"),
    "cover": Param(str, "all", "which objects of the zone: 'all', 'prefix' (the objects under its prefix) or "
                               "'files' (only its named files)", choices=("all", "prefix", "files")),
})
def object_grant(target: Target, *, actions: list, zone: str, list_bucket: bool, sid: str,
                 bucket_actions: list | None = None, presigned: bool = False, cover: str = "all") -> Outcome | None:
    """The vendor's principal may do ``actions`` on every object of ``zone`` (and list it)."""
    integ = target.integration
    if integ is None:
        return None
    actor = actor_for(target, integ)
    if isinstance(actor, Outcome):
        return actor
    z = zone_for(target, integ, zone)
    if isinstance(z, Outcome):
        return Outcome(z.status, z.message, z.evidence, resource=z.resource, principal=actor.arn, missing=z.missing)
    if cover != "all":
        files = set(integ.zone(zone).files.values())
        keep = (lambda k: k in files) if cover == "files" else (lambda k: k not in files)
        arns = {f"{z.bucket.arn}/{k}" for k in files}
        z = dataclasses.replace(
            z, keys=tuple((k, n) for k, n in z.keys if keep(k)),
            object_resources=tuple(r for r in z.object_resources if (r in arns) == (cover == "files")),
            what=f"{', '.join(sorted(files))}" if cover == "files" else (f"objects under {z.list_prefix}"
                                                                         if z.list_prefix else "every object"))
    keys = list(z.keys) + ([] if cover == "files" else
                           region_keys(actor, z.bucket, z.list_prefix, (k for k, _ in z.keys)))
    asked = [ask_s3(target, actor, z.bucket, action, key, note=note + how, auth_type=auth_type)
             for key, note in keys for action in actions
             for auth_type, how in auth_types(integ, zone, action, presigned)]
    if list_bucket:
        asked.append(ask_s3(target, actor, z.bucket, "s3:ListBucket", prefix=z.list_prefix,
                            note=f"listing with s3:prefix={z.list_prefix!r}"))
    for action in bucket_actions or ():
        asked.append(ask_s3(target, actor, z.bucket, action, note="on the bucket"))
    status, denied, unknown = summarise(asked)
    evidence = {**actor_evidence(actor), "bucket": z.bucket.name, "checked": _shown(asked),
                "requests_checked": len(asked)}
    if denied:
        evidence["missing"] = sorted({f"{a.action} on {a.resource}" for a in denied})
    remediation = None
    if status == Status.FAIL:
        remediation = planned_grant(target, integ, denied)
        if remediation is None:
            stmts = _fix_statements(actions, z, denied, plan_sid(integ, [*actions, *(bucket_actions or ())]) or sid)
            remediation = grant_remediation(target, actor, z.bucket, stmts, denied,
                                            policy_name=f"{integ.vendor}-access")
    return Outcome(status, _message(actor, asked, status, z, actions), evidence, remediation,
                   resource=z.bucket.arn, principal=actor.arn)


@check("mrxs_list", needs=("GetBucketPolicy",), reads=GRANT_READS, params={
    "zone": Param(str, REQUIRED, "the zone whose .mrxs slides are listed", kind="zone"),
    "sid": Param(str, "VendorListMirax", "Sid of the statement the remediation adds"),
})
def mrxs_list(target: Target, *, zone: str, sid: str) -> Outcome | None:
    """For each sampled ``.mrxs`` slide in the zone the vendor may list the slide's folder (``x/`` for ``x.mrxs``)."""
    integ = target.integration
    if integ is None:
        return None
    scope = integ.zone(zone).prefix
    slides = [k for k in sampled_keys(target.bucket, scope, limit=10_000) if k.lower().endswith(".mrxs")]
    if not slides:
        return None  # not applicable: no MIRAX slide in scope
    actor = actor_for(target, integ)
    if isinstance(actor, Outcome):
        return actor
    shown = slides[:20]
    asked = [ask_s3(target, actor, target.bucket, "s3:ListBucket", prefix=k[: -len(".mrxs")] + "/",
                    note=f"folder of slide {k}") for k in shown]
    status, denied, unknown = summarise(asked)
    evidence = {**actor_evidence(actor), "slides": slides[:50], "slides_found": len(slides),
                "checked": [{**a.to_json(), "s3:prefix": a.context.get("s3:prefix")} for a in asked]}
    remediation = None
    if status == Status.PASS:
        msg = f"{actor.describe()} may s3:ListBucket the folder of each of {len(shown)} .mrxs slide(s)."
    elif status == Status.FAIL:
        first = denied[0]
        msg = (f"{actor.describe()} cannot s3:ListBucket with prefix {first.context.get('s3:prefix')!r} "
               f"({first.note}): {first.result.reason or first.decision}; MIRAX slides cannot be registered.")
        st = {"Sid": sid, "Effect": "Allow", "Action": "s3:ListBucket", "Resource": target.bucket.arn}
        remediation = grant_remediation(target, actor, target.bucket, [st], denied, policy_name=f"{integ.vendor}-list")
    else:
        msg = (f"Could not establish whether {actor.describe()} may list the slide folders: it depends on "
               f"{conditions_text(unknown) or 'request context the scanner cannot know'}.")
    return Outcome(status, msg, evidence, remediation, principal=actor.arn)
