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
    tenyks = _only(found, "tenyks.read-grant", "tenyks-data")
    assert tenyks.status == Status.FAIL
    assert any("cats/annotations.json" in m for m in tenyks.evidence["missing"])
    assert _only(found, "tenyks.access-key", "tenyks-data").status == Status.PASS
    assert _only(found, "baseline.tls-only", "v7-good").status == Status.FAIL
    assert _only(found, "baseline.public-policy", "v7-good").status == Status.PASS
