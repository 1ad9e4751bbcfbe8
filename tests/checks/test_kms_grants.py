"""KMS: decrypt and encrypt are decided with the key policy, the key's grants and IAM together, for
the KMS call S3 really makes for the vendor (kms:ViaService, kms:CallerAccount, encryption context)."""

from __future__ import annotations

import dataclasses

from auditor.model import ApiError, KeyState, ObjectState, Status

from .snap import ACCT, V7_ROLE, account, bucket, integ, one, policy, run, snapshot

B = "radiology-scans"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCT}:key/{KEY_ID}"
V7_ACCOUNT = "258327614892"
ROOT = {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
        "Action": "kms:*", "Resource": "*"}
READ = {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": f"arn:aws:s3:::{B}/*"}


def grant(ops=("Decrypt",), grantee=V7_ROLE, **constraints):
    g = {"GrantId": "g-1", "Name": "v7-read", "GranteePrincipal": grantee, "Operations": list(ops)}
    if constraints:
        g["Constraints"] = constraints
    return g


def snap(key, mode="read-only", bucket_key=False, keys=("img/a.png",), **options):
    enc = ({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN},
            "BucketKeyEnabled": bucket_key},)
    b = bucket(B, policy=policy(READ), encryption=enc, keys=keys)
    return snapshot(account(b, keys=(key,)), integrations=(integ("v7-aws", B, mode, **options),))


def key(pol=None, grants=(), errors=()):
    return KeyState(KEY_ID, KEY_ARN, manager="CUSTOMER", policy=pol or policy(ROOT), grants=grants, errors=errors)


# --- grants ---------------------------------------------------------------------------------------------

def test_a_grant_to_the_vendor_passes_the_key_check():
    f = one(snap(key(grants=(grant(),))), "v7-aws.kms-key-policy")
    assert f.status == Status.PASS, f.message
    assert "grant g-1" in f.message
    assert "cannot read" not in f.message


def test_without_the_grant_the_key_check_fails():
    f = one(snap(key(grants=())), "v7-aws.kms-key-policy")
    assert f.status == Status.FAIL
    assert "cannot read objects encrypted with it" in f.message


def test_a_grant_to_someone_else_or_for_other_operations_does_not_count():
    other = grant(grantee=f"arn:aws:iam::{ACCT}:role/etl")
    assert one(snap(key(grants=(other,))), "v7-aws.kms-key-policy").status == Status.FAIL
    f = one(snap(key(grants=(grant(("Decrypt",)),)), "read-write"), "v7-aws.kms-key-policy")
    assert f.status == Status.FAIL and f.evidence["missing"] == ["kms:GenerateDataKey"]
    # Decrypt is granted: reads work, writes do not, and the message says so.
    assert "cannot read" not in f.message and "cannot write new ones" in f.message
    f = one(snap(key(grants=()), "read-write"), "v7-aws.kms-key-policy")
    assert "cannot read objects encrypted with it, nor write new ones" in f.message
    both = grant(("Decrypt", "GenerateDataKey"))
    assert one(snap(key(grants=(both,)), "read-write"), "v7-aws.kms-key-policy").status == Status.PASS


def test_grant_constraints_are_matched_against_the_encryption_context_s3_sends():
    # Bucket Key: S3 sends the bucket's ARN as aws:s3:arn.
    bucket_ctx = grant(EncryptionContextSubset={"aws:s3:arn": f"arn:aws:s3:::{B}"})
    assert one(snap(key(grants=(bucket_ctx,)), bucket_key=True), "v7-aws.kms-key-policy").status == Status.PASS
    # Without a Bucket Key the context is the object's ARN: the same grant does not apply.
    assert one(snap(key(grants=(bucket_ctx,)), bucket_key=False), "v7-aws.kms-key-policy").status == Status.FAIL
    # A grant for one object covers that object only, not every object the vendor reads.
    exact = grant(EncryptionContextEquals={"aws:s3:arn": f"arn:aws:s3:::{B}/img/a.png"})
    f = one(snap(key(grants=(exact,))), "v7-aws.kms-key-policy")
    assert f.status == Status.FAIL
    by_note = {c["note"].split(" ")[1]: c["decision"] for c in f.evidence["checked"]}
    assert by_note == {"img/a.png": "allowed", "auditor-probe": "implicitly_denied"}


def test_an_explicit_deny_in_the_key_policy_beats_a_grant():
    deny = {"Sid": "NoV7", "Effect": "Deny", "Principal": {"AWS": V7_ROLE}, "Action": "kms:*", "Resource": "*"}
    f = one(snap(key(policy(ROOT, deny), grants=(grant(),))), "v7-aws.kms-key-policy")
    assert f.status == Status.FAIL and "NoV7" in f.remediation


def test_failed_list_grants_makes_only_dependent_answers_unknown():
    failed = (ApiError("ListGrants", "AccessDenied", "not authorised"),)
    f = one(snap(key(grants=None, errors=failed)), "v7-aws.kms-key-policy")
    assert f.status == Status.UNKNOWN
    assert "ListGrants" in f.message and "AccessDenied" in f.message
    # The key policy allows by itself: grants cannot change that.
    allow = {"Sid": "AllowV7", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "kms:Decrypt", "Resource": "*"}
    assert one(snap(key(policy(ROOT, allow), grants=None, errors=failed)), "v7-aws.kms-key-policy").status == Status.PASS
    # An explicit Deny: grants cannot change that either.
    deny = {"Sid": "NoV7", "Effect": "Deny", "Principal": {"AWS": V7_ROLE}, "Action": "kms:*", "Resource": "*"}
    assert one(snap(key(policy(ROOT, deny), grants=None, errors=failed)), "v7-aws.kms-key-policy").status == Status.FAIL


# --- the KMS request S3 makes for the vendor ------------------------------------------------------------

def _allow_v7(condition):
    return {"Sid": "AllowV7ViaS3", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "kms:Decrypt",
            "Resource": "*", "Condition": condition}


def test_key_policy_conditions_on_the_s3_call_are_decided():
    for condition in ({"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
                      {"StringEquals": {"kms:CallerAccount": V7_ACCOUNT}},
                      {"StringLike": {"kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{B}/*"}},
                      {"Bool": {"aws:ViaAWSService": "true"}},
                      {"Null": {"aws:SourceVpce": "true"}}):
        f = one(snap(key(policy(ROOT, _allow_v7(condition)))), "v7-aws.kms-key-policy")
        assert f.status == Status.PASS, (condition, f.message)


def test_key_policy_conditions_that_do_not_hold_for_the_s3_call_fail():
    for condition in ({"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
                      {"StringEquals": {"kms:CallerAccount": ACCT}},
                      {"StringLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::other-bucket/*"}}):
        f = one(snap(key(policy(ROOT, _allow_v7(condition)))), "v7-aws.kms-key-policy")
        assert f.status == Status.FAIL, (condition, f.message)


def test_object_kms_counts_a_grant():
    enc_obj = ObjectState(key="img/a.png", sse="aws:kms", kms_key_id=KEY_ARN, probes={"head": {"status": 200}})
    b = bucket(B, policy=policy(READ))
    b = type(b)(**{**{f: getattr(b, f) for f in b.__dataclass_fields__}, "objects": (enc_obj,)})
    with_grant = snapshot(account(b, keys=(key(grants=(grant(),)),)), integrations=(integ("v7-aws", B),))
    assert one(with_grant, "baseline.object-kms").status == Status.PASS
    without = snapshot(account(b, keys=(key(grants=()),)), integrations=(integ("v7-aws", B),))
    assert one(without, "baseline.object-kms").status == Status.FAIL


def test_the_kms_calls_asked_are_those_for_objects_the_vendor_reads():
    scoped = _allow_v7({"StringLike": {"kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{B}/img/*"}})
    k = key(policy(ROOT, scoped))
    assert one(snap(k, keys=("img/a.png", "other/b.png"), scope="img/"), "v7-aws.kms-key-policy").status == Status.PASS
    # With the whole bucket in scope, objects outside img/ are read too, and the key does not let V7 decrypt them.
    assert one(snap(k, keys=("img/a.png", "other/b.png")), "v7-aws.kms-key-policy").status == Status.FAIL


def test_an_object_v7_cannot_decrypt_is_a_requirement_of_its_guide_and_blocks_check():
    """V7's guide: "you must grant V7 permission to decrypt the relevant items … objects … retain the old
    permissions". An object under a key V7 cannot use is readiness, one fact with the baseline's finding."""
    from auditor.model import ScanResult
    from auditor.onboard import blocking, limit_to, problems, verdict

    enc_obj = ObjectState(key="img/a.png", sse="aws:kms", kms_key_id=KEY_ARN, probes={"head": {"status": 200}})
    b = dataclasses.replace(bucket(B, policy=policy(READ)), objects=(enc_obj,))
    s = snapshot(account(b, keys=(key(grants=()),)), integrations=(integ("v7-aws", B),))
    found = run(s)
    vendor = next(f for f in found if f.rule_id == "v7-aws.object-kms")
    base = next(f for f in found if f.rule_id == "baseline.object-kms")
    assert vendor.status == base.status == Status.FAIL
    assert vendor.kind == "readiness" and base.kind == "exposure"
    assert vendor.same_fact_as == (base.fingerprint,)
    assert "KMS Encryption" in vendor.reference and "retain the old permissions" in vendor.reference
    result = limit_to(ScanResult("s", "f", (ACCT,), 1, found), s.integrations[0])
    assert "v7-aws.object-kms" in {f.rule_id for f in blocking(result.findings, "high")}
    assert verdict(result, "high").startswith("NOT READY")
    assert problems([vendor, base]) == 1
    ok = snapshot(account(b, keys=(key(grants=(grant(),)),)), integrations=(integ("v7-aws", B),))
    assert one(ok, "v7-aws.object-kms").status == Status.PASS
