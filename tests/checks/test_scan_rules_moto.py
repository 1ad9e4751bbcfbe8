"""The access rules end to end: buckets, users and keys set up on the moto server, then scanned."""

from __future__ import annotations

import json

from auditor.config import parse_config
from auditor.model import Status
from auditor.scan import run_scan

V7_ROLE = "arn:aws:iam::258327614892:role/external_s3"


def _policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _scan(endpoint: str, integrations: str):
    config = parse_config(f"""
[[accounts]]
name = "main"
endpoint_url = "{endpoint}"
{integrations}
""")
    _, result = run_scan(config)
    return {(f.rule_id, f.bucket, f.principal or ""): f for f in result.findings}


def _only(found, rule_id, bucket):
    hits = [f for (r, b, _), f in found.items() if r == rule_id and b == bucket]
    assert len(hits) == 1, (rule_id, bucket, hits)
    return hits[0]


def test_v7_and_tenyks_rules_on_a_scanned_estate(moto, aws):
    s3, iam = aws("s3"), aws("iam")
    # V7 read-only, done right (the guide's policy) and a bucket whose grant stops at the organisation.
    for name in ("v7-good", "v7-org-only"):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="slides/case-1.mrxs", Body=b"x")
    s3.put_bucket_policy(Bucket="v7-good", Policy=_policy(
        {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE},
         "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::v7-good/*"},
        {"Sid": "DarwinList", "Effect": "Allow", "Principal": {"AWS": V7_ROLE},
         "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::v7-good"}))
    s3.put_bucket_policy(Bucket="v7-org-only", Policy=_policy(
        {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::v7-org-only/*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-x"}}}))
    # Tenyks: the guide's read-only policy attached to the user through a group.
    s3.create_bucket(Bucket="tenyks-data")
    for key in ("cats/images/a.jpg", "cats/annotations.json", "cats/predictions.json"):
        s3.put_object(Bucket="tenyks-data", Key=key, Body=b"{}")
    iam.create_user(UserName="tenyks-reader")
    iam.create_access_key(UserName="tenyks-reader")
    iam.create_group(GroupName="tenyks")
    iam.add_user_to_group(GroupName="tenyks", UserName="tenyks-reader")
    iam.put_group_policy(GroupName="tenyks", PolicyName="tenyksReadOnlyAccess", PolicyDocument=_policy(
        {"Sid": "tenyksReadOnlyAccess", "Action": ["s3:GetObject", "s3:ListBucket"], "Effect": "Allow",
         "Resource": ["arn:aws:s3:::tenyks-data/cats/images/*", "arn:aws:s3:::tenyks-data"]}))

    found = _scan(moto.endpoint, """
[[integrations]]
vendor = "v7-aws"
account = "main"
bucket = "v7-good"

[[integrations]]
vendor = "tenyks"
account = "main"
bucket = "tenyks-data"
user = "tenyks-reader"
dataset = "cats"
images_dir = "images"
""")
    assert _only(found, "v7-aws.read-grant", "v7-good").status == Status.PASS
    assert _only(found, "v7-aws.mrxs-list", "v7-good").status == Status.PASS
    # Not configured: inferred from the policy naming V7's role, and failing.
    org = _only(found, "v7-aws.read-grant", "v7-org-only")
    assert org.status == Status.FAIL and org.inferred
    assert _only(found, "v7-aws.mrxs-list", "v7-org-only").status == Status.FAIL
    # The guide's 3.1 policy through a group: the images are granted; the COCO files are the advisory rule's.
    assert _only(found, "tenyks.read-grant", "tenyks-data").status == Status.PASS
    tenyks = _only(found, "tenyks.coco-read", "tenyks-data")
    assert tenyks.status == Status.FAIL
    assert any("cats/annotations.json" in m for m in tenyks.evidence["missing"])
    assert _only(found, "tenyks.access-key", "tenyks-data").status == Status.PASS
    assert _only(found, "baseline.tls-only", "v7-good").status == Status.FAIL
    assert _only(found, "baseline.public-policy", "v7-good").status == Status.PASS


V7_WASABI_USER = "arn:aws:iam::100000274636:user/darwin"
DATATURE_ROLE_TRUST = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::277710232653:root"},
                       "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "ext-1"}}}


def test_names_metadata_cors_versioning_and_tls_on_a_scanned_estate(moto, aws):
    s3, iam = aws("s3"), aws("iam")
    # Names: dots break V7's and Datature's virtual-host URLs.
    s3.create_bucket(Bucket="wasabi.slides")
    s3.put_bucket_policy(Bucket="wasabi.slides", Policy=_policy(
        {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_WASABI_USER}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::wasabi.slides/*"}))
    s3.create_bucket(Bucket="nexus.assets")
    iam.create_role(RoleName="datature-nexus", AssumeRolePolicyDocument=_policy(DATATURE_ROLE_TRUST))
    iam.put_role_policy(RoleName="datature-nexus", PolicyName="read", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectAttributes", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::nexus.assets", "arn:aws:s3:::nexus.assets/*"]}))
    # Tenyks read-write in one bucket, versioned, and a separate metadata bucket without CORS.
    for name in ("tenyks-rw", "tenyks-data2", "tenyks-meta2"):
        s3.create_bucket(Bucket=name)
    for key in ("cats/images/a.jpg", "cats/annotations.json", "cats/predictions.json"):
        s3.put_object(Bucket="tenyks-rw", Key=key, Body=b"{}")
        s3.put_object(Bucket="tenyks-data2", Key=key, Body=b"{}")
    s3.put_bucket_versioning(Bucket="tenyks-rw", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_cors(Bucket="tenyks-rw", CORSConfiguration={"CORSRules": [
        {"AllowedHeaders": [], "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": []}]})  # §3.3
    for user, data, meta in (("tenyks-one", "tenyks-rw", "tenyks-rw"), ("tenyks-two", "tenyks-data2", "tenyks-meta2")):
        iam.create_user(UserName=user)
        iam.create_access_key(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="tenyks", PolicyDocument=_policy(
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::{data}/cats/*", f"arn:aws:s3:::{data}"]},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::{meta}/tenyks-meta/*", f"arn:aws:s3:::{meta}"]}))
    # TLS only: the AWS-documented Deny on aws:SecureTransport false.
    s3.create_bucket(Bucket="tls-only")
    s3.put_bucket_policy(Bucket="tls-only", Policy=_policy(
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))

    found = _scan(moto.endpoint, f"""
[[accounts]]
name = "wasabi"
provider = "wasabi"
endpoint_url = "{moto.endpoint}"
buckets = ["wasabi.*"]

[[integrations]]
vendor = "v7-wasabi"
account = "wasabi"
bucket = "wasabi.slides"

[[integrations]]
vendor = "datature"
account = "main"
bucket = "nexus.assets"
role_arn = "arn:aws:iam::123456789012:role/datature-nexus"
external_id = "ext-1"

[[integrations]]
vendor = "tenyks"
account = "main"
bucket = "tenyks-rw"
mode = "read-write"
user = "tenyks-one"
dataset = "cats"
images_dir = "images"
metadata_dir = "tenyks-meta"

[[integrations]]
vendor = "tenyks"
account = "main"
bucket = "tenyks-data2"
mode = "read-write"
user = "tenyks-two"
dataset = "cats"
images_dir = "images"
metadata_bucket = "tenyks-meta2"
metadata_dir = "tenyks-meta"
""")
    assert _only(found, "v7-wasabi.bucket-name", "wasabi.slides").status == Status.FAIL
    assert _only(found, "v7-wasabi.read-grant", "wasabi.slides").status == Status.PASS
    assert _only(found, "datature.bucket-name", "nexus.assets").status == Status.FAIL
    assert _only(found, "datature.read-grant", "nexus.assets").status == Status.PASS
    assert _only(found, "datature.external-id", "nexus.assets").status == Status.PASS
    assert _only(found, "tenyks.metadata-grant", "tenyks-rw").status == Status.PASS
    assert _only(found, "tenyks.metadata-cors", "tenyks-rw").status == Status.PASS
    assert _only(found, "baseline.versioning-with-delete", "tenyks-rw").status == Status.PASS
    assert _only(found, "tenyks.metadata-grant", "tenyks-meta2").status == Status.PASS
    assert _only(found, "tenyks.metadata-cors", "tenyks-meta2").status == Status.FAIL
    assert _only(found, "baseline.versioning-with-delete", "tenyks-meta2").status == Status.FAIL
    # The separate metadata bucket is checked for least privilege too: only the metadata folder is written.
    assert _only(found, "baseline.vendor-excess-privilege", "tenyks-meta2").status == Status.PASS
    assert _only(found, "tenyks.metadata-cors", "tenyks-meta2").resource == "arn:aws:s3:::tenyks-meta2"
    assert _only(found, "baseline.tls-only", "tls-only").status == Status.PASS


def test_iam_refused_makes_same_account_grants_unknown_on_a_scanned_estate(moto, aws):
    from tests.faultproxy import Fault, FaultProxy

    s3, iam = aws("s3"), aws("iam")
    s3.create_bucket(Bucket="nexus-assets")
    s3.create_bucket(Bucket="dicom-studies")
    s3.create_bucket(Bucket="cats-data")
    iam.create_role(RoleName="datature-nexus", AssumeRolePolicyDocument=_policy(DATATURE_ROLE_TRUST))
    for user in ("redbrick-annotator", "tenyks-reader"):
        iam.create_user(UserName=user)
        iam.create_access_key(UserName=user)
    proxy = FaultProxy(moto.endpoint, [Fault(lambda r: r.method == "POST", status=403, code="AccessDenied",
                                             message="not authorized to perform iam:GetAccountAuthorizationDetails",
                                             body_contains=b"Action=GetAccountAuthorizationDetails")])
    url = proxy.start()
    try:
        found = _scan(url, """
[[integrations]]
vendor = "datature"
account = "main"
bucket = "nexus-assets"
role_arn = "arn:aws:iam::123456789012:role/datature-nexus"

[[integrations]]
vendor = "redbrick"
account = "main"
bucket = "dicom-studies"
mode = "read-write"
user = "redbrick-annotator"

[[integrations]]
vendor = "tenyks"
account = "main"
bucket = "cats-data"
user = "tenyks-reader"
dataset = "cats"
images_dir = "images"
""")
    finally:
        proxy.stop()
    for rule, bucket in (("datature.trust-policy", "nexus-assets"), ("datature.external-id", "nexus-assets"),
                         ("datature.list-grant", "nexus-assets"), ("datature.read-grant", "nexus-assets"),
                         ("redbrick.read-grant", "dicom-studies"), ("redbrick.write-grant", "dicom-studies"),
                         ("tenyks.read-grant", "cats-data"),
                         ("baseline.vendor-excess-privilege", "dicom-studies")):
        f = _only(found, rule, bucket)
        assert f.status == Status.UNKNOWN, (rule, f.status, f.message)
        assert "GetAccountAuthorizationDetails" in f.message, (rule, f.message)
    # What does not rest on IAM is still decided.
    assert _only(found, "datature.bucket-name", "nexus-assets").status == Status.PASS
    assert _only(found, "redbrick.cors", "dicom-studies").status == Status.FAIL


def test_a_wasabi_account_gets_v7_wasabi_and_no_rule_for_apis_wasabi_lacks(moto, aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="wasabi-slides")
    s3.put_object(Bucket="wasabi-slides", Key="a.jpg", Body=b"x")
    # V7's AWS role in a Wasabi bucket: V7 on Wasabi (whose user then lacks the grant), never v7-aws.
    s3.put_bucket_policy(Bucket="wasabi-slides", Policy=_policy(
        {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::wasabi-slides/*"}))
    config = parse_config(f'[[accounts]]\nname = "w"\nprovider = "wasabi"\nendpoint_url = "{moto.endpoint}"\n')
    _, result = run_scan(config)
    ids = {f.rule_id for f in result.findings}
    assert "v7-wasabi.read-grant" in ids and not any(i.startswith("v7-aws.") for i in ids), sorted(ids)
    assert "baseline.block-public-access" not in ids and "baseline.object-kms" not in ids
    assert not [f for f in result.findings if f.status == Status.UNKNOWN], \
        [(f.rule_id, f.message) for f in result.findings if f.status == Status.UNKNOWN]
    assert not result.failed_calls, result.failed_calls


def test_an_inferred_v7_integration_is_collected_like_a_configured_one(moto, aws):
    from auditor.scan import exit_status

    s3 = aws("s3")
    s3.create_bucket(Bucket="path-slides")
    for key in ("cases/biopsy-1.mrxs", "cases/biopsy-1/Data0000.dat", "cases/biopsy-1/Index.dat", "cases/a.jpg"):
        s3.put_object(Bucket="path-slides", Key=key, Body=b"x")
    s3.put_bucket_policy(Bucket="path-slides", Policy=_policy(
        {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::path-slides/*"},
        {"Sid": "DarwinListMirax", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:ListBucket",
         "Resource": "arn:aws:s3:::path-slides"}))
    s3.put_bucket_cors(Bucket="path-slides", CORSConfiguration={"CORSRules": [
        {"AllowedHeaders": ["*"], "AllowedMethods": ["GET"], "AllowedOrigins": ["https://darwin.v7labs.com"]}]})
    s3.put_public_access_block(Bucket="path-slides", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    found = _scan(moto.endpoint, "")  # no [[integrations]]: V7 is inferred from the bucket policy
    companion = _only(found, "v7-aws.mrxs-companion", "path-slides")
    assert companion.inferred and companion.status == Status.PASS, companion.message
    # The sampled objects were read as for a configured integration (HeadObject: their encryption).
    kms = _only(found, "baseline.object-kms", "path-slides")
    assert kms.status == Status.PASS and kms.evidence["objects_checked"] >= 4, kms.message
    unknown = [(f.rule_id, f.message) for f in found.values() if f.status == Status.UNKNOWN]
    assert not unknown, unknown
    assert exit_status(list(found.values())) != 3
