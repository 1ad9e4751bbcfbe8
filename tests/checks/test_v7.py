"""v7-aws and v7-wasabi rules: grants through the bucket policy, MIRAX listing, KMS."""

from __future__ import annotations

import dataclasses

import pytest

from auditor.model import KeyState, ObjectState, Status

from .snap import (
    ACCT,
    DENIED_POLICY,
    V7_ROLE,
    V7_USER,
    account,
    bucket,
    findings,
    integ,
    one,
    policy,
    snapshot,
)

B = "radiology-scans"
OBJ = f"arn:aws:s3:::{B}/*"

# 000_6c2aa614f0946349.txt, verbatim apart from the bucket name.
DOC_READ_WRITE = {"Version": "2012-10-17", "Id": "PolicyForExternalAccess", "Statement": [
    {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::258327614892:role/external_s3"},
     "Action": ["s3:GetObject", "s3:PutObject"], "Resource": OBJ}]}
DOC_READ_ONLY = {"Version": "2012-10-17", "Id": "PolicyForExternalAccess", "Statement": [
    {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::258327614892:role/external_s3"},
     "Action": ["s3:GetObject"], "Resource": OBJ}]}


def grant(principal=V7_ROLE, action="s3:GetObject", resource=OBJ, **extra):
    return {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": action,
            "Resource": resource, **extra}


def v7(pol, mode="read-only", keys=("img/a.png",), **options):
    return snapshot(account(bucket(B, policy=pol, keys=keys)), integrations=(integ("v7-aws", B, mode, **options),))


def test_guide_read_only_policy_passes():
    f = one(v7(DOC_READ_ONLY), "v7-aws.read-grant")
    assert f.status == Status.PASS, f.message
    assert f.principal == V7_ROLE
    assert any(s["sid"] == "DarwinAccess" for c in f.evidence["checked"] for s in c["deciding_statements"])
    assert not findings(v7(DOC_READ_ONLY), "v7-aws.write-grant")  # read-write only


def test_guide_read_write_policy_passes_read_and_write():
    snap = v7(DOC_READ_WRITE, "read-write")
    assert one(snap, "v7-aws.read-grant").status == Status.PASS
    w = one(snap, "v7-aws.write-grant")
    assert w.status == Status.PASS, w.message
    assert any(c["resource"] == f"arn:aws:s3:::{B}/data/auditor-probe" for c in w.evidence["checked"])


@pytest.mark.parametrize("statement", [
    grant(action="s3:Get*"),
    grant(principal="arn:aws:iam::258327614892:root"),
    grant(principal="258327614892"),
    grant(principal="*", Condition={"StringEquals": {"aws:PrincipalAccount": "258327614892"}}),
], ids=["s3-get-star", "account-root", "bare-account-id", "principal-account-condition"])
def test_grants_that_string_matching_misses_pass(statement):
    f = one(v7(policy(statement)), "v7-aws.read-grant")
    assert f.status == Status.PASS, f.message


def test_deny_unless_vpc_endpoint_blocks_v7():
    pol = policy(grant(), {"Sid": "OnlyFromOurVpce", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                           "Resource": [f"arn:aws:s3:::{B}", OBJ],
                           "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}})
    f = one(v7(pol), "v7-aws.read-grant")
    assert f.status == Status.FAIL
    assert "OnlyFromOurVpce" in f.remediation


def test_allow_only_inside_the_organisation_does_not_reach_v7():
    pol = policy(grant(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-exampleorg"}}))
    f = one(v7(pol), "v7-aws.read-grant")
    assert f.status == Status.FAIL
    assert "aws s3api put-bucket-policy --bucket radiology-scans" in f.remediation


def test_resource_without_slash_star_is_the_bucket_not_its_objects():
    f = one(v7(policy(grant(resource=f"arn:aws:s3:::{B}"))), "v7-aws.read-grant")
    assert f.status == Status.FAIL
    # The fix keeps the existing statement and adds a uniquely named one.
    assert '"Resource": "arn:aws:s3:::radiology-scans"' in f.remediation
    assert "DarwinAccess2" in f.remediation


def test_not_principal_deny_catches_v7():
    pol = policy(grant(), {"Sid": "OnlyAdmins", "Effect": "Deny",
                           "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCT}:role/Admin"},
                           "Action": "s3:GetObject", "Resource": OBJ})
    assert one(v7(pol), "v7-aws.read-grant").status == Status.FAIL


def test_deny_insecure_transport_is_harmless_for_v7():
    pol = policy(grant(), {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                           "Resource": [f"arn:aws:s3:::{B}", OBJ],
                           "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    assert one(v7(pol), "v7-aws.read-grant").status == Status.PASS


def test_source_ip_condition_is_unknown_with_the_condition_quoted():
    pol = policy(grant(Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))
    f = one(v7(pol), "v7-aws.read-grant")
    assert f.status == Status.UNKNOWN
    assert "aws:SourceIp" in f.message


def test_refused_bucket_policy_is_unknown():
    snap = snapshot(account(bucket(B, errors=(DENIED_POLICY,))), integrations=(integ("v7-aws", B),))
    assert one(snap, "v7-aws.read-grant").status == Status.UNKNOWN


def test_no_bucket_policy_fails_with_the_whole_policy_to_paste():
    f = one(v7(None), "v7-aws.read-grant")
    assert f.status == Status.FAIL
    assert V7_ROLE in f.remediation and "put-bucket-policy" in f.remediation


def test_scope_checked_with_sampled_keys_and_a_representative_key():
    pol = policy(grant(resource=f"arn:aws:s3:::{B}/slides/*"))
    assert one(v7(pol, keys=("slides/a.svs",), scope="slides/"), "v7-aws.read-grant").status == Status.PASS
    # Whole bucket in scope, but only slides/ granted: the representative key at the root is denied.
    f = one(v7(pol, keys=("slides/a.svs",)), "v7-aws.read-grant")
    assert f.status == Status.FAIL
    assert any("auditor-probe" in m for m in f.evidence["missing"])


def test_write_grant_needs_put_under_the_thumbnail_prefix():
    assert one(v7(DOC_READ_ONLY, "read-write"), "v7-aws.write-grant").status == Status.FAIL
    pol = policy(grant(action=["s3:GetObject"]), grant(action="s3:PutObject", resource=f"arn:aws:s3:::{B}/other/*"))
    f = one(v7(pol, "read-write", prefix="darwin/"), "v7-aws.write-grant")
    assert f.status == Status.FAIL
    assert f"arn:aws:s3:::{B}/darwin/*" in f.remediation


# ----------------------------------------------------------------------------- MIRAX


def test_mrxs_list_not_applicable_without_slides():
    assert findings(v7(DOC_READ_ONLY), "v7-aws.mrxs-list") == []


def test_mrxs_list_fails_without_list_bucket():
    f = one(v7(DOC_READ_ONLY, keys=("slides/case-1.mrxs", "slides/case-1/Data0000.dat")), "v7-aws.mrxs-list")
    assert f.status == Status.FAIL
    assert f.evidence["checked"][0]["s3:prefix"] == "slides/case-1/"


def test_mrxs_list_passes_with_list_bucket_and_checks_the_slide_folder():
    keys = ("slides/case-1.mrxs",)
    pol = policy(grant(), grant(action="s3:ListBucket", resource=f"arn:aws:s3:::{B}"))
    assert one(v7(pol, keys=keys), "v7-aws.mrxs-list").status == Status.PASS
    wrong_folder = policy(grant(), grant(action="s3:ListBucket", resource=f"arn:aws:s3:::{B}",
                                         Condition={"StringLike": {"s3:prefix": "other/*"}}))
    assert one(v7(wrong_folder, keys=keys), "v7-aws.mrxs-list").status == Status.FAIL


def _slide(files, slidedat):
    return ObjectState(key="slides/case-1.mrxs", probes={"mirax": {"folder": "slides/case-1/", "files": files,
                                                                    "truncated": False, "slidedat": slidedat}})


def test_mrxs_companion_needs_the_matching_folder_not_a_file_the_guides_never_name():
    # 000/001: ".mrxs files come with a folder with a matching name which contains additional image data across
    # multiple files" -- nothing about which files.
    b = bucket(B, policy=DOC_READ_ONLY)
    ok = snapshot(account(dataclasses.replace(b, objects=(_slide(3, False),))),
                  integrations=(integ("v7-aws", B),))
    f = one(ok, "v7-aws.mrxs-companion")
    assert f.status == Status.PASS, f.message
    assert "Slidedat" not in f.message
    empty = snapshot(account(dataclasses.replace(b, objects=(_slide(0, False),))),
                     integrations=(integ("v7-aws", B),))
    f = one(empty, "v7-aws.mrxs-companion")
    assert f.status == Status.FAIL and "slides/case-1/" in f.message and "Slidedat" not in f.message


# ----------------------------------------------------------------------------- KMS

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCT}:key/{KEY_ID}"
ROOT_ONLY = policy({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "kms:*", "Resource": "*"})


def kms_snap(encryption, key=None, mode="read-only"):
    b = bucket(B, policy=DOC_READ_WRITE, encryption=encryption)
    return snapshot(account(b, keys=(key,) if key else ()), integrations=(integ("v7-aws", B, mode),))


def sse_kms(key_id=KEY_ARN):
    default = {"SSEAlgorithm": "aws:kms"}
    if key_id:
        default["KMSMasterKeyID"] = key_id
    return ({"ApplyServerSideEncryptionByDefault": default},)


def test_kms_key_type_passes_for_sse_s3_and_policy_rule_does_not_apply():
    snap = kms_snap(({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}},))
    f = one(snap, "v7-aws.kms-key-type")
    assert f.status == Status.PASS and f.message == "default encryption is SSE-S3/none"
    assert findings(snap, "v7-aws.kms-key-policy") == []


def test_kms_without_key_id_is_aws_managed():
    f = one(kms_snap(sse_kms(None)), "v7-aws.kms-key-type")
    assert f.status == Status.FAIL and "aws/s3" in f.message
    # The fix names the vendor from its profile: a key and a new bucket for V7 Darwin, the data copied across.
    assert "--description 'S3 data shared with V7 Darwin'" in f.remediation
    assert "aws s3 sync s3://radiology-scans s3://radiology-scans-v7 --sse aws:kms" in f.remediation


def test_kms_aws_managed_key_fails_customer_key_passes():
    aws_key = KeyState(KEY_ID, KEY_ARN, manager="AWS", aliases=("alias/aws/s3",))
    f = one(kms_snap(sse_kms(), aws_key), "v7-aws.kms-key-type")
    assert f.status == Status.FAIL and f.evidence["key_manager"] == "AWS"
    cust = KeyState(KEY_ID, KEY_ARN, manager="CUSTOMER", policy=ROOT_ONLY)
    assert one(kms_snap(sse_kms(), cust), "v7-aws.kms-key-type").status == Status.PASS


def test_kms_key_not_collected_is_unknown():
    assert one(kms_snap(sse_kms()), "v7-aws.kms-key-type").status == Status.UNKNOWN


def test_key_policy_must_name_v7_root_statement_is_not_enough():
    cust = KeyState(KEY_ID, KEY_ARN, manager="CUSTOMER", policy=ROOT_ONLY, grants=())
    f = one(kms_snap(sse_kms(), cust), "v7-aws.kms-key-policy")
    assert f.status == Status.FAIL
    assert f.resource == KEY_ARN
    assert f"aws kms put-key-policy --key-id {KEY_ID} --policy-name default" in f.remediation
    assert "Enable IAM User Permissions" in f.remediation  # existing statement kept


def test_key_policy_decrypt_only_is_enough_for_read_only_not_read_write():
    pol = policy(ROOT_ONLY["Statement"][0], {"Sid": "AllowV7", "Effect": "Allow", "Principal": {"AWS": V7_ROLE},
                                             "Action": "kms:Decrypt", "Resource": "*"})
    cust = KeyState(KEY_ID, KEY_ARN, manager="CUSTOMER", policy=pol, grants=())
    assert one(kms_snap(sse_kms(), cust), "v7-aws.kms-key-policy").status == Status.PASS
    f = one(kms_snap(sse_kms(), cust, "read-write"), "v7-aws.kms-key-policy")
    assert f.status == Status.FAIL and f.evidence["missing"] == ["kms:GenerateDataKey"]


def test_key_policy_refused_is_unknown():
    from auditor.model import ApiError

    cust = KeyState(KEY_ID, KEY_ARN, manager="CUSTOMER", errors=(ApiError("GetKeyPolicy", "AccessDenied"),))
    assert one(kms_snap(sse_kms(), cust), "v7-aws.kms-key-policy").status == Status.UNKNOWN


# ----------------------------------------------------------------------------- Wasabi


def wasabi(pol, mode="read-only", name=B, keys=("img/a.png",)):
    acct = account(bucket(name, policy=pol, keys=keys), provider="wasabi", unsupported=("kms", "s3control"))
    return snapshot(acct, integrations=(integ("v7-wasabi", name, mode),))


def test_wasabi_guide_policies_pass():
    ro = {**DOC_READ_ONLY, "Statement": [{**DOC_READ_ONLY["Statement"][0], "Principal": {"AWS": V7_USER}}]}
    rw = {**DOC_READ_WRITE, "Statement": [{**DOC_READ_WRITE["Statement"][0], "Principal": {"AWS": V7_USER}}]}
    assert one(wasabi(ro), "v7-wasabi.read-grant").status == Status.PASS
    assert one(wasabi(rw, "read-write"), "v7-wasabi.write-grant").status == Status.PASS
    assert one(wasabi(rw, "read-write"), "v7-wasabi.bucket-name").status == Status.PASS


def test_wasabi_wrong_principal_dotted_name_and_mrxs():
    snap = wasabi(DOC_READ_ONLY, name="path.slides", keys=("biopsy-17.mrxs",))
    assert one(snap, "v7-wasabi.read-grant").status == Status.FAIL  # names the AWS role, not the Wasabi user
    assert one(snap, "v7-wasabi.bucket-name").status == Status.FAIL
    assert one(snap, "v7-wasabi.mrxs-list").status == Status.FAIL
    f = one(snap, "v7-wasabi.read-grant")
    assert "--endpoint-url https://s3.wasabisys.com" in f.remediation


# ----------------------------------------------------------------------------- every object in scope


def _folder_deny(folder, sid="DenyPrivateFolder"):
    return {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{B}/{folder}*"}


def test_a_folder_deny_deep_in_scope_fails_the_grant_without_a_sampled_key_there():
    f = one(v7(policy(grant(), _folder_deny("img/2024/patients/private/")), keys=("img/a.png",)), "v7-aws.read-grant")
    assert f.status == Status.FAIL, f.message
    denied = [c for c in f.evidence["checked"] if c["decision"] == "explicitly_denied"]
    assert denied and denied[0]["resource"] == f"arn:aws:s3:::{B}/img/2024/patients/private/auditor-probe"
    assert "img/2024/patients/private/*" in denied[0]["note"] and "DenyPrivateFolder" in denied[0]["note"]
    assert "DenyPrivateFolder" in f.remediation
    assert "(stands for img/2024/patients/private/*)" in f.message


def test_a_folder_deny_outside_scope_does_not_fail_the_grant():
    snap = v7(policy(grant(), _folder_deny("archive/private/")), keys=("img/a.png",), scope="img/")
    assert one(snap, "v7-aws.read-grant").status == Status.PASS


def test_not_resource_carving_a_folder_out_of_the_grant_fails_it():
    carve = {**grant(), "Resource": None}
    carve.pop("Resource")
    carve["NotResource"] = [f"arn:aws:s3:::{B}/img/restricted/*", f"arn:aws:s3:::{B}"]
    f = one(v7(policy(carve), keys=("img/a.png",)), "v7-aws.read-grant")
    assert f.status == Status.FAIL
    assert any(c["resource"].endswith("img/restricted/auditor-probe") and c["decision"] != "allowed"
               for c in f.evidence["checked"])
