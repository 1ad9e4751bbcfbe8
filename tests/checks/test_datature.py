"""datature rules: the customer role Datature assumes, its trust, its grants."""

from __future__ import annotations

from auditor.model import Status

from .snap import (
    ACCT,
    DATATURE_EXTERNAL_ID,
    DATATURE_PRINCIPAL,
    DENIED_IAM,
    account,
    bucket,
    integ,
    one,
    policy,
    role,
    snapshot,
)

B = "nexus-assets"
ROLE_ARN = f"arn:aws:iam::{ACCT}:role/datature-nexus"
MANAGED = f"arn:aws:iam::{ACCT}:policy/datature-nexus-read"

# 002_9351336936b25d3d.txt, with {bucket name} and {prefix} filled in.
DOC_IDENTITY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{B}",
     "Condition": {"StringLike": {"s3:prefix": "images/*"}}},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectAttributes"], "Resource": f"arn:aws:s3:::{B}/images/*"}]}
DOC_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_PRINCIPAL},
     "Condition": {"StringEquals": {"sts:ExternalId": DATATURE_EXTERNAL_ID}}}]}


def snap(trust=DOC_TRUST, identity=DOC_IDENTITY, bucket_policy=None, name=B, boundary=None, errors=(), managed=None,
         **options):
    r = role("datature-nexus", trust, attached=(MANAGED,), boundary=boundary)
    managed = {MANAGED: identity, **(managed or {})}
    acct = account(bucket(name, policy=bucket_policy, keys=("images/cat.jpg", "private/x.jpg")), roles=(r,),
                   managed_policies=managed, errors=errors)
    opts = {"role_arn": ROLE_ARN, "prefix": "images/", **options}
    return snapshot(acct, integrations=(integ("datature", name, **opts),))


def test_guide_policies_pass_every_access_rule():
    s = snap(vendor_principal=DATATURE_PRINCIPAL, external_id=DATATURE_EXTERNAL_ID)
    for rule in ("datature.trust-policy", "datature.external-id", "datature.list-grant", "datature.read-grant",
                 "datature.bucket-name"):
        f = one(s, rule)
        assert f.status == Status.PASS, (rule, f.message)
    assert one(s, "datature.read-grant").evidence["identity_policies"] == [f"managed policy {MANAGED}"]


def test_trust_without_external_id_fails_external_id_only():
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_PRINCIPAL}})
    s = snap(trust)
    assert one(s, "datature.trust-policy").status == Status.PASS
    f = one(s, "datature.external-id")
    assert f.status == Status.FAIL
    assert f.resource == ROLE_ARN
    assert "aws iam update-assume-role-policy --role-name datature-nexus" in f.remediation
    assert "sts:ExternalId" in f.remediation


def test_external_id_must_equal_the_configured_one():
    f = one(snap(external_id="something-else"), "datature.external-id")
    assert f.status == Status.FAIL
    assert one(snap(external_id=DATATURE_EXTERNAL_ID), "datature.external-id").status == Status.PASS


def test_trust_of_the_datature_account_root_counts_without_a_configured_principal():
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "277710232653"},
                    "Condition": {"StringEquals": {"sts:ExternalId": DATATURE_EXTERNAL_ID}}})
    assert one(snap(trust), "datature.trust-policy").status == Status.PASS


def test_trust_of_another_account_fails():
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole",
                    "Principal": {"AWS": "arn:aws:iam::999988887777:root"}})
    f = one(snap(trust), "datature.trust-policy")
    assert f.status == Status.FAIL
    # No Datature principal configured or named: the fix asks for the one Datature shows, as plan does; it never
    # trusts Datature's whole account.
    assert "--vendor-principal" in f.remediation and "arn:aws:iam::277710232653:root" not in f.remediation


def test_iam_refused_is_unknown():
    s = snap(errors=(DENIED_IAM,))
    for rule in ("datature.trust-policy", "datature.list-grant", "datature.read-grant"):
        assert one(s, rule).status == Status.UNKNOWN, rule


def test_list_grant_needs_the_prefix_condition_to_match():
    ident = policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{B}",
                    "Condition": {"StringLike": {"s3:prefix": "other/*"}}}, DOC_IDENTITY["Statement"][1])
    f = one(snap(identity=ident), "datature.list-grant")
    assert f.status == Status.FAIL
    assert "aws iam put-role-policy --role-name datature-nexus" in f.remediation


def test_bucket_policy_deny_blocks_read():
    deny = policy({"Sid": "NoExternal", "Effect": "Deny", "Principal": {"AWS": ROLE_ARN}, "Action": "s3:GetObject",
                   "Resource": f"arn:aws:s3:::{B}/*"})
    f = one(snap(bucket_policy=deny), "datature.read-grant")
    assert f.status == Status.FAIL
    assert "NoExternal" in f.remediation


def test_read_needs_get_object_attributes_too():
    ident = policy(DOC_IDENTITY["Statement"][0],
                   {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{B}/images/*"})
    f = one(snap(identity=ident), "datature.read-grant")
    assert f.status == Status.FAIL
    assert any("s3:GetObjectAttributes" in m for m in f.evidence["missing"])


def test_permission_boundary_limits_the_role():
    boundary = f"arn:aws:iam::{ACCT}:policy/boundary"
    only_list = policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})
    s = snap(boundary=boundary, managed={boundary: only_list})
    assert one(s, "datature.list-grant").status == Status.PASS
    assert one(s, "datature.read-grant").status == Status.FAIL


def test_bucket_name_charset():
    assert one(snap(name="nexus.assets"), "datature.bucket-name").status == Status.FAIL


def test_external_id_message_is_true_when_the_id_matches_but_the_principal_does_not():
    other = "arn:aws:iam::277710232653:role/ext-someone-else"
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": other},
                    "Condition": {"StringEquals": {"sts:ExternalId": DATATURE_EXTERNAL_ID}}})
    f = one(snap(trust, vendor_principal=DATATURE_PRINCIPAL, external_id=DATATURE_EXTERNAL_ID), "datature.external-id")
    assert f.status == Status.FAIL
    assert "not the configured" not in f.message, f.message
    assert DATATURE_PRINCIPAL in f.message
    # A different id is still reported as such.
    f = one(snap(trust, vendor_principal=other, external_id="another-id"), "datature.external-id")
    assert "not the configured 'another-id'" in f.message, f.message


def test_bucket_name_message_quotes_the_guide():
    f = one(snap(name="nexus.assets"), "datature.bucket-name")
    assert "no use of special characters" in f.message, f.message
    assert "will not work" not in f.message  # the guide says "should follow"


def test_listing_without_an_s3_prefix_limit_is_excess():
    # The guide's policy limits listing to the folder prefix: it is least privilege.
    f = one(snap(), "baseline.vendor-excess-privilege")
    assert f.status == Status.PASS, f.message
    unlimited = policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{B}"},
                       DOC_IDENTITY["Statement"][1])
    f = one(snap(identity=unlimited), "baseline.vendor-excess-privilege")
    assert f.status == Status.FAIL, f.message
    listing = [e for e in f.evidence["extra"] if e["action"] == "s3:ListBucket"]
    assert listing and listing[0]["category"] == "outside scope"
    assert "s3:prefix" in f.message
    assert '"s3:prefix": "images/*"' in f.remediation


def test_a_folder_prefix_that_holds_no_images_is_reported():
    import dataclasses

    s = snap()
    acct = s.accounts[0]
    listing = {"keys": 2, "truncated": False, "images": 0, "examples": ["images/readme.txt", "images/x.csv"]}
    b = dataclasses.replace(acct.buckets[0], blobs={"listing:images/": listing})
    s = dataclasses.replace(s, accounts=(dataclasses.replace(acct, buckets=(b,)),))
    f = one(s, "datature.prefix-images")
    assert f.status == Status.FAIL, f.message
    assert "images/" in f.message
    with_images = dataclasses.replace(b, blobs={"listing:images/": {**listing, "images": 2}})
    s = dataclasses.replace(s, accounts=(dataclasses.replace(acct, buckets=(with_images,)),))
    assert one(s, "datature.prefix-images").status == Status.PASS
