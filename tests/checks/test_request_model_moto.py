"""The vendor's real request, current actions and KMS grants, end to end on the moto server."""

from __future__ import annotations

import json

from auditor.collect import collect
from auditor.config import parse_config
from auditor.engine import evaluate
from auditor.model import Status
from auditor.permissions import scanner_policy
from auditor.rulepack import load_packs
from tests.faultproxy import Fault, FaultProxy

V7_ROLE = "arn:aws:iam::258327614892:role/external_s3"


def _policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _grant(bucket, actions=("s3:GetObject",)):
    return {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": list(actions),
            "Resource": f"arn:aws:s3:::{bucket}/*"}


def _config(endpoint, buckets, mode="read-only", scan=""):
    integrations = "".join(f'\n[[integrations]]\nvendor = "v7-aws"\naccount = "main"\nbucket = "{b}"\nmode = "{mode}"\n'
                           for b in buckets)
    return f'[scan]\n{scan}\n[[accounts]]\nname = "main"\nendpoint_url = "{endpoint}"\n{integrations}'


def _findings(snap):
    return {(f.rule_id, f.bucket): f for f in evaluate(snap, load_packs())}


def _bucket(s3, name, policy):
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="slides/a.svs", Body=b"x")
    s3.put_bucket_policy(Bucket=name, Policy=policy)


def test_request_model_and_current_actions_on_a_scanned_estate(moto, aws):
    s3 = aws("s3")
    _bucket(s3, "v7-plain", _policy(_grant("v7-plain")))
    # Annotation actions came to S3 after 2023: only a current catalogue sees them granted.
    _bucket(s3, "v7-annotations", _policy(_grant("v7-annotations"), _grant("v7-annotations", ("s3:*Annotation",))))
    # GetObject never carries s3:x-amz-acl: this Deny does not touch V7's reads.
    _bucket(s3, "v7-acl-guard", _policy(_grant("v7-acl-guard"), {
        "Sid": "NoPublicAcl", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": "arn:aws:s3:::v7-acl-guard/*", "Condition": {"StringEquals": {"s3:x-amz-acl": "public-read"}}}))
    # V7 calls from its own network, never from the customer's VPC: this Deny applies to it.
    _bucket(s3, "v7-vpc-only", _policy(_grant("v7-vpc-only"), {
        "Sid": "OnlyOurVpc", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": "arn:aws:s3:::v7-vpc-only/*", "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-0abc"}}}))
    # Presigned browser reads refused: V7 renders images through presigned URLs.
    _bucket(s3, "v7-no-presign", _policy(_grant("v7-no-presign"), {
        "Sid": "NoPresignedUrls", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::v7-no-presign/*", "Condition": {"StringEquals": {"s3:authType": "REST-QUERY-STRING"}}}))
    names = ("v7-plain", "v7-annotations", "v7-acl-guard", "v7-vpc-only", "v7-no-presign")
    by = _findings(collect(parse_config(_config(moto.endpoint, names))))

    assert by[("baseline.vendor-excess-privilege", "v7-plain")].status == Status.PASS
    excess = by[("baseline.vendor-excess-privilege", "v7-annotations")]
    assert excess.status == Status.FAIL
    assert {"s3:PutObjectAnnotation", "s3:DeleteObjectAnnotation"} <= {e["action"] for e in excess.evidence["extra"]}

    assert by[("v7-aws.read-grant", "v7-plain")].status == Status.PASS
    assert by[("v7-aws.read-grant", "v7-acl-guard")].status == Status.PASS
    vpc = by[("v7-aws.read-grant", "v7-vpc-only")]
    assert vpc.status == Status.FAIL and "OnlyOurVpc" in vpc.remediation
    presign = by[("v7-aws.read-grant", "v7-no-presign")]
    assert presign.status == Status.FAIL and "NoPresignedUrls" in presign.remediation


def _kms_estate(aws):
    s3, kms = aws("s3"), aws("kms")
    keys = {}
    for name, granted in (("v7-kms-granted", True), ("v7-kms-bare", False)):
        key_id = kms.create_key(Description=name)["KeyMetadata"]["KeyId"]
        keys[name] = key_id
        if granted:
            kms.create_grant(KeyId=key_id, GranteePrincipal=V7_ROLE, Operations=["Decrypt", "GenerateDataKey"],
                             Name="v7-darwin")
        _bucket(s3, name, _policy(_grant(name, ("s3:GetObject", "s3:PutObject"))))
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]})
    return keys


def test_kms_grant_to_the_vendor_passes_the_key_check(moto, aws):
    keys = _kms_estate(aws)
    snap = collect(parse_config(_config(moto.endpoint, ("v7-kms-granted", "v7-kms-bare"), "read-write")))
    key = snap.accounts[0].key(keys["v7-kms-granted"])
    assert key.grants and key.grants[0]["GranteePrincipal"] == V7_ROLE
    by = _findings(snap)
    granted = by[("v7-aws.kms-key-policy", "v7-kms-granted")]
    assert granted.status == Status.PASS, granted.message
    assert "v7-darwin" in granted.message and "cannot read" not in granted.message
    bare = by[("v7-aws.kms-key-policy", "v7-kms-bare")]
    assert bare.status == Status.FAIL and "cannot read objects encrypted with it" in bare.message


def test_failed_list_grants_is_recorded_and_the_key_check_is_unknown(moto, aws):
    _kms_estate(aws)
    refused = Fault(lambda r: r.headers.get("X-Amz-Target", "").endswith(".ListGrants"), status=400,
                    code="AccessDeniedException", message="not authorised to kms:ListGrants")
    proxy = FaultProxy(moto.endpoint, [refused])
    url = proxy.start()
    try:
        snap = collect(parse_config(_config(url, ("v7-kms-granted", "v7-kms-bare"), "read-write", "max_attempts = 1")))
    finally:
        proxy.stop()
    assert refused.hits >= 2
    for k in snap.accounts[0].keys:
        assert k.grants is None and any(e.api == "ListGrants" for e in k.errors)
    by = _findings(snap)
    for name in ("v7-kms-granted", "v7-kms-bare"):
        f = by[("v7-aws.kms-key-policy", name)]
        assert f.status == Status.UNKNOWN and "ListGrants failed with AccessDeniedException" in f.message, f.message
        # Only what depends on the grants: the key type is still answered.
        assert by[("v7-aws.kms-key-type", name)].status == Status.PASS


def test_permissions_include_list_grants():
    assert "kms:ListGrants" in scanner_policy()["Statement"][0]["Action"]


def test_a_folder_deny_deep_in_scope_fails_the_grant_on_a_scanned_estate(moto, aws):
    s3 = aws("s3")
    deny = {"Sid": "DenyPatientsPrivate", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::v7-deep/slides/2024/patients/private/*"}
    _bucket(s3, "v7-deep", _policy(_grant("v7-deep"), deny))  # sampled: slides/a.svs only
    _bucket(s3, "v7-shallow", _policy(_grant("v7-shallow"), {**deny, "Resource": "arn:aws:s3:::v7-shallow-other/*"}))
    by = _findings(collect(parse_config(_config(moto.endpoint, ("v7-deep", "v7-shallow")))))
    f = by[("v7-aws.read-grant", "v7-deep")]
    assert f.status == Status.FAIL, f.message
    assert "slides/2024/patients/private/" in f.message
    denied = [c for c in f.evidence["checked"] if c["decision"] == "explicitly_denied"]
    assert "DenyPatientsPrivate" in denied[0]["note"] and "slides/2024/patients/private/*" in denied[0]["note"]
    assert by[("v7-aws.read-grant", "v7-shallow")].status == Status.PASS


def test_policy_variables_on_a_scanned_estate(moto, aws):
    """Variables substitute only under Version 2012-10-17; one naming a key only the vendor knows is unknown."""
    s3 = aws("s3")
    scope = "258327614892/"  # V7's account id, as aws:PrincipalAccount substitutes it

    def by_account(bucket, variable="${aws:PrincipalAccount}", version=True):
        doc = {"Statement": [{**_grant(bucket), "Resource": f"arn:aws:s3:::{bucket}/{variable}/*"}]}
        if version:
            doc = {"Version": "2012-10-17", **doc}
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=f"{scope}a.svs", Body=b"x")
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(doc))

    by_account("v7-var-2012")
    by_account("v7-var-no-version", version=False)
    by_account("v7-var-tag", variable="${aws:PrincipalTag/team}")
    integrations = "".join(f'\n[[integrations]]\nvendor = "v7-aws"\naccount = "main"\nbucket = "{b}"\nscope = "{scope}"\n'
                           for b in ("v7-var-2012", "v7-var-no-version", "v7-var-tag"))
    config = f'[[accounts]]\nname = "main"\nendpoint_url = "{moto.endpoint}"\n{integrations}'
    by = _findings(collect(parse_config(config)))
    assert by[("v7-aws.read-grant", "v7-var-2012")].status == Status.PASS
    assert by[("v7-aws.read-grant", "v7-var-no-version")].status == Status.FAIL
    tag = by[("v7-aws.read-grant", "v7-var-tag")]
    assert tag.status == Status.UNKNOWN and "aws:PrincipalTag/team (a tag on the vendor's principal)" in tag.message
