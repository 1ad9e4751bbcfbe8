"""Baseline bucket-policy checks: not public, and TLS required."""

from __future__ import annotations

from auditor import remediation as fix
from auditor.checks._access import PROBE, actor_for, ask, bucket_policy, conditions_text, external_actor, ref_json
from auditor.checks.registry import Outcome, Target, check
from auditor.model import Status
from auditor.policy import is_public_policy

PROBE_CALLER = "arn:aws:iam::999999999999:role/auditor-probe"


@check("public_policy", needs=("GetBucketPolicy",), reads=("s3:GetBucketPolicy",))
def public_policy(target: Target) -> Outcome:
    """The bucket policy is not public by AWS's definition (it grants no one-and-everyone access)."""
    bucket = target.bucket
    if bucket.policy is None:
        return Outcome(Status.PASS, "The bucket has no bucket policy.", {"bucket_policy": None})
    public, refs = is_public_policy(dict(bucket.policy), owner_account=bucket.account_id)
    evidence = {"bucket_policy": dict(bucket.policy), "public_statements": [ref_json(r) for r in refs]}
    if not public:
        return Outcome(Status.PASS, "The bucket policy grants no public access.", evidence)
    kept = fix.remove_statements(bucket.policy, {r.index for r in refs})
    names = ", ".join(r.name for r in refs)
    if fix.statements_of(kept):
        remediation = fix.explain(f"Remove the public statement(s) {names}, or restrict their Principal to named "
                                  "accounts (other statements kept):", kept,
                                  fix.put_bucket_policy_cmd(bucket.name, kept, target.account.provider))
    else:
        remediation = (f"The policy holds only public statements ({names}); delete it:\n\n"
                       f"aws s3api delete-bucket-policy --bucket {bucket.name}")
    return Outcome(Status.FAIL, f"The bucket policy grants public access through statement(s) {names}.",
                   evidence, remediation)


TLS_STATEMENT = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": ["BUCKET_ARN", "BUCKET_ARN/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


@check("tls_only", needs=("GetBucketPolicy",), reads=("s3:GetBucketPolicy",))
def tls_only(target: Target) -> Outcome:
    """The bucket policy denies requests made without TLS (``aws:SecureTransport`` false)."""
    bucket = target.bucket
    stmt = {**TLS_STATEMENT, "Resource": [bucket.arn, f"{bucket.arn}/*"]}
    merged = fix.merge_statement(bucket.policy, stmt)
    remediation = fix.explain("Deny plain-HTTP requests (existing statements kept):", merged,
                              fix.put_bucket_policy_cmd(bucket.name, merged, target.account.provider))
    if bucket.policy is None:
        return Outcome(Status.FAIL, "The bucket has no policy, so requests over plain HTTP are not denied.",
                       {"bucket_policy": None}, remediation)
    # Every principal must be denied: any caller (the probe), the vendors on this bucket, and every
    # principal a Deny's NotPrincipal exempts — a Deny that spares the vendor does not make the
    # bucket TLS-only for the vendor's requests.
    callers = [external_actor("probe", PROBE_CALLER)]
    for integ in target.integrations:
        actor = actor_for(target, integ)
        if not isinstance(actor, Outcome):
            callers.append(actor)
    for arn in _exempted(bucket.policy):
        callers.append(external_actor("exempted", arn))
    seen, asked = set(), []
    for caller in callers:
        if caller.arn in seen:
            continue
        seen.add(caller.arn)
        for action in ("s3:GetObject", "s3:PutObject"):
            asked.append(ask(caller, action, f"{bucket.arn}/{PROBE}", resource_account=bucket.account_id,
                             resource_policy=bucket_policy(bucket), extra_context={"aws:SecureTransport": "false"},
                             note=f"{caller.arn if caller.vendor != 'probe' else 'any caller'}, over plain HTTP",
                             snapshot=target.snapshot))
    evidence = {"checked": [a.to_json() for a in asked]}
    explicit = [a for a in asked if a.decision == "explicitly_denied"]
    if len(explicit) == len(asked):
        return Outcome(Status.PASS, "The bucket policy denies requests with aws:SecureTransport false, "
                       "for every principal.", evidence)
    unknown = [a for a in asked if a.unknown]
    if unknown:
        return Outcome(Status.UNKNOWN, "Could not establish whether plain-HTTP requests are denied: it depends on "
                       f"{conditions_text(unknown)}.", evidence)
    spared = [a for a in asked if a.decision != "explicitly_denied"]
    who = sorted({a.note.rsplit(",", 1)[0] for a in spared})
    missing = ", ".join(dict.fromkeys(a.action for a in spared))
    if "any caller" in who:
        return Outcome(Status.FAIL, f"No bucket-policy statement denies {missing} over plain HTTP "
                       "(aws:SecureTransport false).", evidence, remediation)
    return Outcome(Status.FAIL, f"Plain-HTTP requests ({missing}) are not denied for {', '.join(who)}: the "
                   "TLS deny must cover every principal (a Deny whose NotPrincipal exempts a principal does not).",
                   evidence, remediation)


def _exempted(policy) -> list[str]:
    """Principals a Deny statement's NotPrincipal exempts."""
    out: list[str] = []
    for st in fix.statements_of(policy):
        if not isinstance(st, dict) or st.get("Effect") != "Deny" or "NotPrincipal" not in st:
            continue
        np = st["NotPrincipal"]
        values = np.get("AWS", []) if isinstance(np, dict) else []
        for v in [values] if isinstance(values, str) else values:
            if isinstance(v, str) and v != "*":
                out.append(v if v.startswith("arn:") else f"arn:aws:iam::{v}:root")
    return out
