"""baseline rules (except object-kms): public policy, TLS, least privilege, trusts, key age, versioning."""

from __future__ import annotations

from auditor.model import AccessKey, Severity, Status

from .snap import (
    ACCT,
    DENIED_POLICY,
    V7_ROLE,
    account,
    bucket,
    findings,
    integ,
    one,
    policy,
    role,
    snapshot,
    user,
)

B = "radiology-scans"
OBJ = f"arn:aws:s3:::{B}/*"
TLS = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
       "Resource": [f"arn:aws:s3:::{B}", OBJ], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def v7_grant(action="s3:GetObject", resource=OBJ):
    return {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": action,
            "Resource": resource}


def plain(pol, **kw):
    return snapshot(account(bucket(B, policy=pol, **kw)))


def with_v7(pol, mode="read-only", keys=("slides/a.svs", "other/b.txt"), **options):
    return snapshot(account(bucket(B, policy=pol, keys=keys)), integrations=(integ("v7-aws", B, mode, **options),))


# ----------------------------------------------------------------------------- public policy


def test_public_policy():
    f = one(plain(policy({"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                          "Resource": OBJ})), "baseline.public-policy")
    assert f.status == Status.FAIL
    assert f.evidence["public_statements"][0]["sid"] == "PublicRead"
    assert "delete-bucket-policy" in f.remediation
    assert one(plain(policy(v7_grant())), "baseline.public-policy").status == Status.PASS
    assert one(plain(None), "baseline.public-policy").status == Status.PASS
    assert one(snapshot(account(bucket(B, errors=(DENIED_POLICY,)))), "baseline.public-policy").status == Status.UNKNOWN


# ----------------------------------------------------------------------------- TLS


def test_tls_only():
    assert one(plain(policy(v7_grant(), TLS)), "baseline.tls-only").status == Status.PASS
    f = one(plain(policy(v7_grant())), "baseline.tls-only")
    assert f.status == Status.FAIL
    assert "DarwinAccess" in f.remediation and "DenyInsecureTransport" in f.remediation
    assert one(plain(None), "baseline.tls-only").status == Status.FAIL
    assert one(snapshot(account(bucket(B, errors=(DENIED_POLICY,)))), "baseline.tls-only").status == Status.UNKNOWN


# ----------------------------------------------------------------------------- least privilege


def test_guide_read_only_grant_is_least_privilege():
    f = one(with_v7(policy(v7_grant(), TLS)), "baseline.vendor-excess-privilege")
    assert f.status == Status.PASS, f.message
    assert f.principal == V7_ROLE


def test_s3_star_lists_every_extra_action():
    f = one(with_v7(policy(v7_grant(action="s3:*", resource=[f"arn:aws:s3:::{B}", OBJ]))),
            "baseline.vendor-excess-privilege")
    assert f.status == Status.FAIL
    extra = {(e["action"], e["category"]) for e in f.evidence["extra"]}
    assert ("s3:PutObject", "write/delete") in extra
    assert ("s3:DeleteObject", "write/delete") in extra
    assert ("s3:PutBucketPolicy", "policy") in extra
    assert ("s3:GetObject", "write/delete") not in extra
    assert "s3:* granted" in f.message
    assert f.evidence["wildcard_statements"]


def test_three_actions_are_not_reported_as_s3_star():
    # V7's own identity policy is assumed to allow everything: that assumption is not a grant in this account.
    f = one(with_v7(policy(v7_grant(action=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]))),
            "baseline.vendor-excess-privilege")
    assert f.status == Status.FAIL
    assert "s3:*" not in f.message, f.message
    assert "wildcard_statements" not in f.evidence
    assert {e["action"] for e in f.evidence["extra"]} == {"s3:PutObject", "s3:DeleteObject"}


def test_get_star_grants_acl_reads_beyond_read_only():
    f = one(with_v7(policy(v7_grant(action="s3:Get*"))), "baseline.vendor-excess-privilege")
    assert f.status == Status.FAIL
    actions = {e["action"] for e in f.evidence["extra"]}
    assert "s3:GetObjectAcl" in actions
    assert "s3:GetObject" not in actions


def test_newer_write_and_delete_actions_granted_by_wildcard_are_excess():
    # s3:*Annotation matches only actions added to S3 after 2023; a catalogue without them sees no excess.
    f = one(with_v7(policy(v7_grant(), v7_grant(action=["s3:*Annotation", "s3:UpdateObject*"]))),
            "baseline.vendor-excess-privilege")
    assert f.status == Status.FAIL, f.message
    extra = {(e["action"], e["category"]) for e in f.evidence["extra"]}
    assert ("s3:PutObjectAnnotation", "write/delete") in extra
    assert ("s3:DeleteObjectAnnotation", "write/delete") in extra
    assert ("s3:UpdateObjectEncryption", "write/delete") in extra
    # The twin: the guide's grant alone passes.
    assert one(with_v7(policy(v7_grant())), "baseline.vendor-excess-privilege").status == Status.PASS


def test_object_level_actions_are_asked_on_objects():
    # s3:BypassGovernanceRetention acts on objects (Service Authorization Reference), not on the bucket.
    f = one(with_v7(policy(v7_grant(action=["s3:GetObject", "s3:BypassGovernanceRetention"]))),
            "baseline.vendor-excess-privilege")
    assert f.status == Status.FAIL
    assert any(e["action"] == "s3:BypassGovernanceRetention" and e["resource"].startswith(f"arn:aws:s3:::{B}/")
               for e in f.evidence["extra"])


def test_grant_outside_scope():
    f = one(with_v7(policy(v7_grant()), scope="slides/"), "baseline.vendor-excess-privilege")
    assert f.status == Status.FAIL
    outside = [e for e in f.evidence["extra"] if e["category"] == "outside scope"]
    assert {e["resource"] for e in outside} >= {f"arn:aws:s3:::{B}/other/b.txt"}
    assert "put-bucket-policy" in f.remediation


def test_no_vendor_no_excess_finding():
    own = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:role/etl"}, "Action": "s3:*", "Resource": OBJ}
    assert findings(plain(policy(own)), "baseline.vendor-excess-privilege") == []
    # A policy naming V7 infers the integration, so the check runs.
    assert one(plain(policy(v7_grant())), "baseline.vendor-excess-privilege").status == Status.PASS


def _tenyks_on_one_bucket(actions, mode="read-write"):
    """A Tenyks user granted ``actions`` on the whole bucket, which holds images and metadata."""
    u = user("tenyks-rw", policy({"Effect": "Allow", "Action": actions,
                                  "Resource": [f"arn:aws:s3:::{B}/*", f"arn:aws:s3:::{B}"]}))
    meta = {"metadata_dir": "tenyks-meta"} if mode == "read-write" else {}
    return snapshot(account(bucket(B, keys=("cats/images/a.jpg",)), users=(u,)),
                    integrations=(integ("tenyks", B, mode, user="tenyks-rw", dataset="cats", images_dir="images",
                                        **meta),))


def test_read_write_same_bucket_user_with_delete_everywhere():
    s = _tenyks_on_one_bucket(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"])
    # Tenyks's guide, 3.2.2, grants exactly this for one bucket of images and metadata: required by the guide,
    # severity info, with the narrower grant (writes to the metadata folder only) as the remediation.
    f = one(s, "baseline.vendor-excess-privilege")
    assert (f.status, f.severity, f.counted) == (Status.FAIL, Severity.INFO, False)
    assert "3.2.2 Bucket for images AND metadata" in f.required_by and "https://docs.tenyks.ai/docs/aws-s3" in f.required_by
    assert f"s3:DeleteObject on {B}/cats/images/a.jpg" in f.evidence["required_by_guide"]
    assert "put-user-policy --user-name tenyks-rw" in f.remediation


def test_more_than_the_guide_grants_is_still_excess():
    # s3:* on the whole bucket is wider than 3.2.2's read/write/delete: that part stays a violation.
    f = one(_tenyks_on_one_bucket("s3:*"), "baseline.vendor-excess-privilege")
    assert (f.status, f.severity, f.required_by) == (Status.FAIL, Severity.HIGH, None)
    extra = {e["action"] for e in f.evidence["extra"]}
    assert "s3:PutObjectAcl" in extra and "s3:DeleteObject" not in extra
    # A read-only integration gets no such allowance: 3.2.2 is for read-write.
    f = one(_tenyks_on_one_bucket("s3:*", mode="read-only"), "baseline.vendor-excess-privilege")
    assert f.required_by is None and "s3:DeleteObject" in {e["action"] for e in f.evidence["extra"]}


# ----------------------------------------------------------------------------- versioning


def test_versioning_with_delete():
    u = user("tenyks-rw", policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                                  "Resource": f"arn:aws:s3:::{B}/*"}))

    def s(versioning):
        return snapshot(account(bucket(B, versioning=versioning), users=(u,)),
                        integrations=(integ("tenyks", B, "read-write", user="tenyks-rw", dataset="cats",
                                            images_dir="images", metadata_dir="meta"),))

    f = one(s(None), "baseline.versioning-with-delete")
    assert f.status == Status.FAIL and "put-bucket-versioning" in f.remediation
    assert one(s("Enabled"), "baseline.versioning-with-delete").status == Status.PASS
    suspended = one(s("Suspended"), "baseline.versioning-with-delete")
    assert suspended.status == Status.FAIL
    assert "versioning is Suspended" in suspended.message  # the API's word, in its case
    # A read-only vendor cannot delete: nothing to check.
    assert findings(with_v7(policy(v7_grant())), "baseline.versioning-with-delete") == []


# ----------------------------------------------------------------------------- trusts


def trust(*statements):
    return policy(*statements)


def trust_snap(*roles):
    return snapshot(account(bucket(B), bucket("second-bucket"), roles=roles))


def test_trust_external_id_once_per_role():
    loose = role("partner", trust({"Effect": "Allow", "Action": "sts:AssumeRole",
                                   "Principal": {"AWS": "arn:aws:iam::999988887777:root"}}))
    strict = role("vendor", trust({"Effect": "Allow", "Action": "sts:AssumeRole",
                                   "Principal": {"AWS": "999988887777"},
                                   "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}))
    own = role("internal", trust({"Effect": "Allow", "Action": "sts:AssumeRole",
                                  "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}}))
    service = role("lambda", trust({"Effect": "Allow", "Action": "sts:AssumeRole",
                                    "Principal": {"Service": "lambda.amazonaws.com"}}))
    found = {f.resource: f for f in findings(trust_snap(loose, strict, own, service), "baseline.trust-external-id")}
    assert set(found) == {loose.arn, strict.arn}
    assert found[loose.arn].status == Status.FAIL
    assert "update-assume-role-policy --role-name partner" in found[loose.arn].remediation
    assert found[strict.arn].status == Status.PASS
    # Roles belong to the account, not to the bucket the rule happened to run on.
    assert {(f.bucket, f.region) for f in found.values()} == {(None, None)}


def test_an_account_configured_twice_reports_its_roles_once():
    import dataclasses

    loose = role("partner", trust({"Effect": "Allow", "Action": "sts:AssumeRole",
                                   "Principal": {"AWS": "arn:aws:iam::999988887777:root"}}))
    first = account(bucket(B), roles=(loose,))
    second = dataclasses.replace(account(bucket("other-bucket"), roles=(loose,)), name="prod-again")
    found = findings(snapshot(first, second), "baseline.trust-external-id")
    assert [(f.resource, f.status) for f in found] == [(loose.arn, Status.FAIL)]


# ----------------------------------------------------------------------------- key age


def test_access_key_age_against_the_scan_time():
    def s(*keys):
        u = user("redbrick-annotator", keys=keys)
        return snapshot(account(bucket(B), users=(u,)),
                        integrations=(integ("redbrick", B, user="redbrick-annotator"),))

    old = AccessKey("AKIAOLD", "Active", "2025-09-01T00:00:00Z")  # 122 days before FINISHED
    new = AccessKey("AKIANEW", "Active", "2025-12-01T00:00:00Z")
    old_inactive = AccessKey("AKIAOFF", "Inactive", "2020-01-01T00:00:00Z")
    f = one(s(old, new), "baseline.access-key-age")
    assert f.status == Status.FAIL and "AKIAOLD" in f.message
    assert "update-access-key --user-name redbrick-annotator --access-key-id AKIAOLD --status Inactive" in f.remediation
    assert one(s(new, old_inactive), "baseline.access-key-age").status == Status.PASS
    assert one(s(AccessKey("AKIAX", "Active", None)), "baseline.access-key-age").status == Status.UNKNOWN


def test_each_policy_is_compiled_once_however_many_questions_are_asked(monkeypatch):
    import auditor.policy.evaluator as ev

    s = with_v7(policy(v7_grant(), TLS))
    calls = []
    real = ev.compile_policy
    monkeypatch.setattr(ev, "compile_policy", lambda *a, **k: calls.append(a[1:]) or real(*a, **k))
    f = one(s, "baseline.vendor-excess-privilege")
    assert f.evidence["requests_checked"] > 100
    # one bucket policy, asked as a resource policy: compiled once, not once per question
    assert calls.count((f"bucket policy of {B}", "resource")) == 1, calls
