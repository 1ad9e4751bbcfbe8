"""Integrations inferred from bucket policies and trusts."""

from __future__ import annotations

from auditor.infer import infer_integrations
from auditor.model import Status

from .snap import (
    _PACKS,  # noqa: F401  (packs load lazily in run())
    ACCT,
    DATATURE_EXTERNAL_ID,
    DATATURE_PRINCIPAL,
    V7_ROLE,
    V7_USER,
    account,
    bucket,
    findings,
    integ,
    policy,
    role,
    run,
    snapshot,
)

B = "radiology-scans"


def packs():
    from auditor.rulepack import load_packs

    return load_packs()


def grant(principal, action="s3:GetObject", resource=f"arn:aws:s3:::{B}/*"):
    return {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": resource}


def test_v7_role_by_arn_read_only_with_scope():
    s = snapshot(account(bucket(B, policy=policy(grant(V7_ROLE, resource=f"arn:aws:s3:::{B}/slides/*")))))
    (i,) = infer_integrations(s, packs())
    assert (i.vendor, i.bucket, i.mode, i.inferred) == ("v7-aws", B, "read-only", True)
    assert i.option("scope") == "slides/"
    # The inferred integration's rules run and are marked inferred.
    f = [f for f in findings(s, "v7-aws.read-grant")]
    assert f and f[0].inferred and f[0].status == Status.PASS


def test_v7_through_evaluation_account_root_and_read_write():
    s = snapshot(account(bucket(B, policy=policy(grant("arn:aws:iam::258327614892:root",
                                                       ["s3:GetObject", "s3:PutObject"]))))
                 )
    (i,) = infer_integrations(s, packs())
    assert (i.vendor, i.mode) == ("v7-aws", "read-write")


def test_a_deny_naming_v7_is_not_an_integration():
    deny = {"Effect": "Deny", "Principal": {"AWS": V7_ROLE}, "Action": "s3:*", "Resource": f"arn:aws:s3:::{B}/*"}
    assert infer_integrations(snapshot(account(bucket(B, policy=policy(deny)))), packs()) == ()


def test_wasabi_user():
    s = snapshot(account(bucket(B, policy=policy(grant(V7_USER))), provider="wasabi"))
    (i,) = infer_integrations(s, packs())
    assert i.vendor == "v7-wasabi"


def test_configured_integration_is_not_duplicated():
    s = snapshot(account(bucket(B, policy=policy(grant(V7_ROLE)))), integrations=(integ("v7-aws", B),))
    assert infer_integrations(s, packs()) == ()
    assert len(findings(s, "v7-aws.read-grant")) == 1


def test_datature_role_trusting_the_datature_account():
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_PRINCIPAL},
                    "Condition": {"StringEquals": {"sts:ExternalId": DATATURE_EXTERNAL_ID}}})
    read = policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectAttributes"],
                   "Resource": "arn:aws:s3:::nexus-assets/images/*"})
    r = role("datature-nexus", trust, read)
    s = snapshot(account(bucket("nexus-assets", keys=("images/a.jpg",)), bucket("unrelated"), roles=(r,)))
    (i,) = infer_integrations(s, packs())
    assert (i.vendor, i.bucket, i.mode) == ("datature", "nexus-assets", "read-only")
    assert i.options == {"role_arn": f"arn:aws:iam::{ACCT}:role/datature-nexus", "vendor_principal": DATATURE_PRINCIPAL,
                         "external_id": DATATURE_EXTERNAL_ID, "prefix": "images/"}
    assert [f.status for f in findings(s, "datature.external-id")] == [Status.PASS]


def test_a_public_bucket_is_not_datature_s_because_its_role_could_read_it():
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_PRINCIPAL}})
    r = role("datature-nexus", trust, policy({"Effect": "Allow", "Action": "s3:GetObject",
                                              "Resource": "arn:aws:s3:::nexus-assets/*"}))
    public = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::open/*"})
    s = snapshot(account(bucket("nexus-assets"), bucket("open", policy=public), roles=(r,)))
    assert [i.bucket for i in infer_integrations(s, packs())] == ["nexus-assets"]


def test_a_bucket_policy_naming_a_datature_principal_gets_datature_s_rules():
    grant = policy({"Effect": "Allow", "Principal": {"AWS": DATATURE_PRINCIPAL}, "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::nexus-direct/frames/*"})
    # No role trusts Datature: the role-based rules say what is missing instead of passing.
    s = snapshot(account(bucket("nexus-direct", policy=grant)))
    (i,) = infer_integrations(s, packs())
    assert (i.vendor, i.bucket, i.mode, i.inferred) == ("datature", "nexus-direct", "read-only", True)
    assert i.options == {"vendor_principal": DATATURE_PRINCIPAL, "prefix": "frames/"}
    for rule in ("datature.trust-policy", "datature.read-grant"):
        (f,) = findings(s, rule)
        assert f.status == Status.UNKNOWN and "set role_arn" in f.message, (rule, f.message)
    # With exactly one role trusting Datature's account, that role is the one checked.
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_PRINCIPAL}})
    s = snapshot(account(bucket("nexus-direct", policy=grant), roles=(role("datature-nexus", trust),)))
    (i,) = infer_integrations(s, packs())
    assert i.option("role_arn") == f"arn:aws:iam::{ACCT}:role/datature-nexus"
    assert [f.status for f in findings(s, "datature.trust-policy")] == [Status.PASS]
    assert [f.status for f in findings(s, "datature.external-id")] == [Status.FAIL]


# ----------------------------------------------------------------------------- unreadable policies

# S3 refuses this on PutBucketPolicy, but a snapshot, an S3-compatible store or an operator newer
# than the evaluator can still carry one.
ODD = {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:GetObject",
       "Resource": f"arn:aws:s3:::{B}/*", "Condition": {"StringEqualsSomeday": {"aws:SourceIp": "192.0.2.1"}}}


def test_a_policy_the_evaluator_cannot_read_makes_its_rules_unknown_not_a_crash():
    s = snapshot(account(bucket(B, policy=policy(ODD), keys=("a.jpg",))))
    got = {f.rule_id: f for f in run(s)}
    for rule in ("baseline.public-policy", "baseline.tls-only", "v7-aws.read-grant",
                 "baseline.vendor-excess-privilege"):
        assert got[rule].status == Status.UNKNOWN, rule
        assert "StringEqualsSomeday" in got[rule].message and "policy_error" in got[rule].evidence
    # It names V7's role, so the bucket still gets V7's rules (inferred), which say why they cannot decide.
    assert got["v7-aws.read-grant"].inferred
    # Rules that need no policy evaluation still decide.
    assert got["baseline.cors-wildcard-origin"].status == Status.PASS


def test_a_check_that_breaks_gives_unknown_for_its_rule_only(monkeypatch):
    import dataclasses

    from auditor.checks.registry import registry

    checks = registry()

    def broken(target, **_):
        raise KeyError("surprise")

    monkeypatch.setitem(checks, "tls_only", dataclasses.replace(checks["tls_only"], fn=broken))
    got = {f.rule_id: f for f in run(snapshot(account(bucket(B, policy=policy(ODD)))))}
    assert got["baseline.tls-only"].status == Status.UNKNOWN
    assert "tls_only check failed (KeyError" in got["baseline.tls-only"].message
    assert got["baseline.cors-wildcard-origin"].status == Status.PASS


def test_a_v7_principal_in_a_wasabi_account_infers_v7_wasabi_never_v7_aws():
    for principal in (V7_ROLE, V7_USER, "arn:aws:iam::258327614892:root"):
        s = snapshot(account(bucket(B, policy=policy(grant(principal))), provider="wasabi"))
        assert [i.vendor for i in infer_integrations(s, packs())] == ["v7-wasabi"], principal
        assert not [f for f in run(s) if f.vendor == "v7-aws"], principal
    # The AWS role named in a Wasabi bucket policy: V7 on Wasabi reads as its Wasabi user, which is not granted.
    s = snapshot(account(bucket(B, policy=policy(grant(V7_ROLE))), provider="wasabi"))
    (f,) = findings(s, "v7-wasabi.read-grant")
    assert f.status == Status.FAIL and V7_USER in f.message
    # And on AWS, V7's role.
    s = snapshot(account(bucket(B, policy=policy(grant(V7_ROLE)))))
    assert [i.vendor for i in infer_integrations(s, packs())] == ["v7-aws"]


def test_rules_for_apis_wasabi_does_not_have_give_no_finding():
    import dataclasses

    from auditor.model import ObjectState

    from .snap import ApiError

    not_there = (ApiError("GetPublicAccessBlock", "NotSupported", "provider wasabi has no Block Public Access"),)
    b = dataclasses.replace(bucket(B, policy=policy(grant(V7_USER)), errors=not_there),
                            objects=(ObjectState(key="a.jpg", probes={"head": True}),))
    s = snapshot(account(b, provider="wasabi",
                         errors=(ApiError("GetAccountPublicAccessBlock", "NotSupported", "no S3 Control API"),
                                 ApiError("DescribeKey", "NotSupported", "no KMS API")),
                         unsupported=("kms", "s3control")))
    got = {f.rule_id: f for f in run(s)}
    assert "v7-wasabi.read-grant" in got
    for rule in ("baseline.block-public-access", "baseline.object-kms"):
        assert rule not in got, (rule, got.get(rule))
    assert not [f for f in got.values() if f.status == Status.UNKNOWN], [f.message for f in got.values()]
