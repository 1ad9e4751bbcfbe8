"""Default-encryption KMS checks: the key must be customer-managed, and its key policy must let the vendor use it."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from auditor import remediation as fix
from auditor.checks._access import (
    PROBE,
    Actor,
    Asked,
    NamedPolicy,
    actor_for,
    arn_account,
    ask,
    caller_of,
    conditions_text,
    summarise,
)
from auditor.checks.access import actor_evidence, deny_statements, zone_for
from auditor.checks.registry import Outcome, Param, Target, check
from auditor.model import BucketState, KeyState, Status
from auditor.policy import Decision, Result, compile_cached, requestctx
from auditor.policy.grants import grants_policy, with_grants

KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def default_kms(bucket: BucketState) -> tuple[str, str | None] | None:
    """(algorithm, KMSMasterKeyID or None) when default encryption is SSE-KMS/DSSE-KMS, else None."""
    for rule in bucket.encryption or ():
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        alg = default.get("SSEAlgorithm")
        if alg in KMS_ALGORITHMS:
            return alg, default.get("KMSMasterKeyID") or None
    return None


def _encryption_text(bucket: BucketState) -> str:
    algs = [(r.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm") for r in bucket.encryption or ()]
    return ", ".join(a for a in algs if a) or "none"


def _key_evidence(key_id: str | None, key: KeyState | None, alg: str) -> dict[str, Any]:
    ev: dict[str, Any] = {"sse_algorithm": alg, "kms_master_key_id": key_id or "(none: the AWS-managed aws/s3 key)"}
    if key is not None:
        ev.update({"key_id": key.key_id, "key_arn": key.arn, "key_manager": key.manager, "aliases": list(key.aliases)})
    return ev


def _find_key(target: Target, key_id: str) -> tuple[KeyState | None, str | None]:
    """The key, or why it could not be found."""
    key = target.account.key(key_id)
    if key is not None:
        return key, None
    owner = arn_account(key_id)
    if owner and owner != target.account.account_id:
        return None, f"key {key_id} is in account {owner}, which was not collected"
    if "kms" in target.account.unsupported:
        return None, f"the provider ({target.account.provider}) has no KMS API"
    for api in ("ListKeys", "ListAliases", "DescribeKey"):
        err = target.account.error(api)
        if err is not None:
            return None, err.describe()
    return None, f"key {key_id} was not found among the account's collected keys"


def _aws_managed_remediation(target: Target) -> str:
    # A vendor that cannot use AWS-managed keys (V7's guide: "please move your data to a new bucket and use a
    # customer-managed key"): a new bucket under a customer-managed key, and the data copied across.
    bucket = target.bucket.name
    vendor = target.integration.profile.short_name if target.integration and target.integration.profile else "the vendor"
    suffix = (target.integration.vendor if target.integration else "vendor").split("-")[0]
    conf = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                              "KMSMasterKeyID": "KEY_ARN"}, "BucketKeyEnabled": True}]}
    return ("Objects already encrypted with aws/s3 keep that key. Create a customer-managed key, a new bucket "
            "encrypted with it, and copy the data across:\n"
            f"aws kms create-key --description {shlex.quote(f'S3 data shared with {vendor}')}\n"
            f"aws s3 mb s3://{bucket}-{suffix}\n"
            f"aws s3api put-bucket-encryption --bucket {bucket}-{suffix} --server-side-encryption-configuration "
            f"{fix.compact(conf)!r}\n"
            f"aws s3 sync s3://{bucket} s3://{bucket}-{suffix} --sse aws:kms --sse-kms-key-id KEY_ARN")


@check("kms_key_type", needs=("GetBucketEncryption",),
       reads=("s3:GetEncryptionConfiguration", "kms:DescribeKey", "kms:ListAliases"))
def kms_key_type(target: Target) -> Outcome:
    """If default encryption is SSE-KMS/DSSE-KMS, its key is customer-managed (not aws/s3)."""
    bucket = target.bucket
    found = default_kms(bucket)
    if found is None:
        return Outcome(Status.PASS, "default encryption is SSE-S3/none",
                       {"default_encryption": _encryption_text(bucket)})
    alg, key_id = found
    if key_id is None or "alias/aws/" in key_id:
        return Outcome(Status.FAIL, f"Default encryption is {alg} with the AWS-managed key aws/s3, which the "
                       "vendor cannot be granted use of.", _key_evidence(key_id, None, alg),
                       _aws_managed_remediation(target))
    key, problem = _find_key(target, key_id)
    if key is None:
        return Outcome(Status.UNKNOWN, f"Could not verify: {problem}.", _key_evidence(key_id, None, alg))
    if key.aws_managed:
        return Outcome(Status.FAIL, f"Default encryption uses the AWS-managed key {key.arn} "
                       f"({', '.join(key.aliases) or 'manager AWS'}); its key policy cannot be changed.",
                       _key_evidence(key_id, key, alg), _aws_managed_remediation(target), resource=bucket.arn)
    if key.manager is None:
        err = next((e for e in key.errors if e.api == "DescribeKey"), None)
        return Outcome(Status.UNKNOWN, f"Could not verify who manages key {key.arn}: "
                       f"{err.describe() if err else 'DescribeKey returned no KeyManager'}.",
                       _key_evidence(key_id, key, alg))
    return Outcome(Status.PASS, f"Default encryption uses customer-managed key {key.arn}.",
                   _key_evidence(key_id, key, alg))


# ----------------------------------------------------------------------------- key use through S3


def bucket_key_enabled(bucket: BucketState) -> bool:
    """S3 Bucket Keys: S3 asks KMS with the bucket's ARN as encryption context, not the object's."""
    return any(r.get("BucketKeyEnabled") is True for r in bucket.encryption or ())


def key_access_policy(key: KeyState) -> NamedPolicy:
    """The key policy together with the key's grants (KMS weighs both, with IAM)."""
    name = f"key policy of {key.key_id}"
    kp = compile_cached(key.policy, name, "resource")
    assert kp is not None  # asked only about keys whose policy was read
    gp = grants_policy(key.grants, f"grants of key {key.key_id}") if key.grants else None
    combined = with_grants(kp, gp)
    return NamedPolicy(name, combined.document, "key", key.key_id, compiled=combined)


def grants_problem(key: KeyState) -> str | None:
    """Why the key's grants are not known, if they are not."""
    if key.grants is not None:
        return None
    err = next((e for e in key.errors if e.api == "ListGrants"), None)
    return err.describe() if err else "the key's grants (ListGrants) were not collected"


def ask_key(target: Target, actor: Actor, key: KeyState, action: str, context_arn: str, note: str = "") -> Asked:
    """The KMS call S3 makes for the vendor (``action`` on ``key``, encryption context ``context_arn``),
    decided over the key policy, the key's grants and the vendor's IAM policies.

    Grants only allow: with grants unknown, a request the rest does not allow is unknown, naming
    the failed call; one it allows or explicitly denies is decided."""
    account = arn_account(key.arn) or target.account.account_id
    rc = requestctx.kms_via_s3(caller_of(actor), action, key_account=account, region=target.bucket.region,
                               encryption_context_arn=context_arn,
                               time=target.snapshot.finished_at if target.snapshot else None)
    asked = ask(actor, action, key.arn, resource_account=account, resource_policy=key_access_policy(key),
                resource_policy_required=True, context=rc, note=note, snapshot=target.snapshot)
    problem = grants_problem(key)
    if problem and asked.decision not in ("allowed", "explicitly_denied"):
        result = Result(Decision.UNKNOWN, asked.result.deciding, (),
                        f"the key policy and IAM do not allow it ({asked.result.reason}); a grant could, but the "
                        f"key's grants are unknown: {problem}", asked.result.undecided_conditions,
                        asked.result.undecided_keys)
        asked = replace(asked, result=result)
    return asked


def context_arns(bucket: BucketState, keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(encryption context aws:s3:arn, note) for the KMS calls S3 makes when the vendor reads ``keys``
    ((key, note) of the zone: a few sampled objects and the representative key)."""
    if bucket_key_enabled(bucket):
        return [(bucket.arn, "S3 Bucket Key: the encryption context is the bucket's ARN")]
    sampled = [(k, n) for k, n in keys if not k.endswith(PROBE)][:3]
    probe = [(k, n) for k, n in keys if k.endswith(PROBE)][:1]
    return [(f"{bucket.arn}/{k}", f"object {k} ({n})") for k, n in sampled + probe]


def _who(asked: list[Asked]) -> str:
    """Which statements or grants allowed, for the pass message."""
    refs = {r.label(): None for a in asked for r in getattr(a.result, "deciding", ())
            if str(r.effect).lower() == "allow" and r.policy_type == "resource"}
    return f" ({', '.join(refs)})" if refs else ""


@check("kms_key_policy", needs=("GetBucketEncryption",),
       reads=("s3:GetEncryptionConfiguration", "kms:GetKeyPolicy", "kms:ListGrants"), params={
           "zone": Param(str, "scope", "where the vendor reads: the objects whose KMS calls are asked", kind="zone"),
       })
def kms_key_policy(target: Target, *, zone: str = "scope") -> Outcome | None:
    """The default-encryption customer key lets the vendor kms:Decrypt (read-write: also GenerateDataKey),
    by its key policy or a grant, with the vendor's IAM policies."""
    integ = target.integration
    found = default_kms(target.bucket)
    if integ is None or found is None:
        return None  # not SSE-KMS: nothing to grant
    alg, key_id = found
    if key_id is None or "alias/aws/" in key_id:
        return None  # AWS-managed: kms-key-type fails; its policy cannot be changed
    key, problem = _find_key(target, key_id)
    if key is not None and key.aws_managed:
        return None
    actor = actor_for(target, integ)
    if isinstance(actor, Outcome):
        return actor
    if key is None:
        return Outcome(Status.UNKNOWN, f"Could not verify: {problem}.", _key_evidence(key_id, None, alg),
                       principal=actor.arn)
    if key.policy is None:
        err = next((e for e in key.errors if e.api in ("GetKeyPolicy", "DescribeKey")), None)
        return Outcome(Status.UNKNOWN, f"Could not verify: {err.describe() if err else 'the key policy was not collected'}.",
                       _key_evidence(key_id, key, alg), resource=key.arn, principal=actor.arn)
    actions = ["kms:Decrypt"] + (["kms:GenerateDataKey"] if target.mode == "read-write" else [])
    z = zone_for(target, integ, zone)
    if isinstance(z, Outcome):
        return Outcome(z.status, z.message, z.evidence, resource=z.resource, principal=actor.arn, missing=z.missing)
    # The vendor's GetObject/PutObject makes S3 call KMS for it.
    asked = [ask_key(target, actor, key, a, arn, note) for arn, note in context_arns(target.bucket, z.keys)
             for a in actions]
    status, denied, unknown = summarise(asked)
    evidence = {**actor_evidence(actor), **_key_evidence(key_id, key, alg), "checked": [a.to_json() for a in asked],
                "grants": len(key.grants) if key.grants is not None else None}
    if status == Status.PASS:
        return Outcome(status, f"{key.arn} lets {actor.arn} {' and '.join(actions)} through S3{_who(asked)}.",
                       evidence, resource=key.arn, principal=actor.arn)
    if status == Status.UNKNOWN:
        why = unknown[0].result.reason if grants_problem(key) else f"it depends on {conditions_text(unknown)}"
        return Outcome(status, f"Could not establish whether {key.arn} lets {actor.arn} "
                       f"{' and '.join(dict.fromkeys(a.action for a in unknown))}: {why}.",
                       evidence, resource=key.arn, principal=actor.arn)
    missing = list(dict.fromkeys(a.action for a in denied))
    evidence["missing"] = missing
    # The Sid plan writes (the profile's [plan] key_policy), so the check and plan propose one statement.
    template = integ.profile.plan.key_policy if integ.profile else None
    sid = str((template or {}).get("Sid") or "AllowVendorUseOfTheKey")
    stmt = {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": actor.arn}, "Action": missing, "Resource": "*"}
    merged = fix.merge_statement(key.policy, stmt)
    text = f"Add the grant to the key policy of {key.arn} (existing statements kept):"
    denies = deny_statements(denied)
    if denies:
        text = ("These statements explicitly deny it; narrow them for " + actor.arn + ": "
                + "; ".join(f"{d['policy']} {d['sid'] or '#' + str(d['index'])}" for d in denies) + "\n\n" + text)
    if "kms:Decrypt" in missing:
        effect = "The vendor cannot read objects encrypted with it" + (
            ", nor write new ones." if "kms:GenerateDataKey" in missing else ".")
    else:  # reads work; S3 asks KMS for a data key for every object put under the key
        effect = ("The vendor can read objects encrypted with it but cannot write new ones: S3 asks KMS for a data "
                  "key (kms:GenerateDataKey) for every object the vendor puts under this key.")
    return Outcome(status, f"Neither the key policy nor a grant of {key.arn} lets {actor.arn} {', '.join(missing)}: "
                   f"{denied[0].result.reason or denied[0].decision}. {effect}",
                   evidence, fix.explain(text, merged, fix.put_key_policy_cmd(key.key_id, merged)),
                   resource=key.arn, principal=actor.arn)
