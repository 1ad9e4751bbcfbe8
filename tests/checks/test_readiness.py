"""Two answers kept apart: readiness (the vendor's requirements) and exposure (baseline, least privilege).

What the vendor's guide itself requires is reported as required by it, never as a violation; one fact
reported by a vendor rule and a baseline rule is one problem; nothing about another bucket or role of the
account changes an integration's verdict; every finding cites the guide by its public title and address.
"""

from __future__ import annotations

import dataclasses
import re

from auditor.model import ScanResult, Severity, Status
from auditor.onboard import blocking, limit_to, verdict, warnings
from auditor.rulepack import load_packs
from auditor.scan import exit_status

from .snap import (
    ACCT,
    DATATURE_EXTERNAL_ID,
    DATATURE_PRINCIPAL,
    V7_ROLE,
    account,
    bucket,
    integ,
    one,
    policy,
    role,
    run,
    snapshot,
)

REDBRICK_CORS = {"AllowedHeaders": ["*"], "AllowedMethods": ["PUT", "POST", "DELETE", "GET"], "AllowedOrigins": ["*"],
                 "ExposeHeaders": ["x-amz-server-side-encryption", "x-amz-request-id", "x-amz-id-2"],
                 "MaxAgeSeconds": 3000}


def _result(snap, integration) -> ScanResult:
    found = run(snap)
    return limit_to(ScanResult("s", "f", (ACCT,), sum(len(a.buckets) for a in snap.accounts), found), integration)


def test_vendor_rules_are_readiness_and_baseline_rules_exposure():
    for pack in load_packs():
        for rule in pack.rules:
            expected = "exposure" if pack.vendor.id == "baseline" or rule.id == "redbrick.block-public-access" \
                else "readiness"
            assert rule.kind == expected, rule.id
    # "We recommend blocking all public access": advisory, so it is exposure at medium, not a requirement.
    rules = {r.id: r for p in load_packs() for r in p.rules}
    assert rules["redbrick.block-public-access"].severity == Severity.MEDIUM
    # "must", "will not work", "you need to": at or above the default --fail-on, so a failure blocks check.
    for rid in ("datature.exif-orientation", "datature.mp4-format", "v7-aws.bucket-name", "redbrick.cors",
                "redbrick.write-grant", "v7-aws.kms-key-policy"):
        assert rules[rid].severity.rank >= Severity.HIGH.rank, rid


def test_every_vendor_reference_cites_the_public_guide_not_a_file():
    for pack in load_packs():
        for rule in pack.rules:
            assert not re.search(r"\d{3}_[0-9a-f]{16}\.txt", rule.reference), (rule.id, rule.reference)
            if pack.vendor.id != "baseline":
                assert pack.vendor.guide.url in rule.reference and pack.vendor.guide.title in rule.reference, rule.id
                assert rule.guide == {"title": pack.vendor.guide.title, "url": pack.vendor.guide.url,
                                      "section": rule.section or pack.vendor.guide.section}
                if rule.check == "integration_resources":
                    continue  # the auditor's own rule that the integration's bucket, role or user exist
                assert rule.section, f"{rule.id}: which section of the guide?"
                assert f'section "{rule.section}"' in rule.reference, rule.id


def test_a_wildcard_origin_the_guide_requires_is_reported_as_required():
    b = bucket("dicom-studies", cors=(REDBRICK_CORS,))
    s = snapshot(account(b), integrations=(integ("redbrick", "dicom-studies", user="rb"),))
    f = one(s, "baseline.cors-wildcard-origin")
    assert f.status == Status.FAIL and f.severity == Severity.INFO and not f.counted
    assert f.required_by and 'RedBrick AI, "Configuring AWS s3", section "S3 Bucket Settings"' in f.required_by
    assert "required by" in f.message
    assert exit_status([f]) == 0


def test_a_wildcard_origin_no_guide_requires_still_fails():
    # V7's guide names https://darwin.v7labs.com: '*' on a V7 bucket is not what the guide asks for.
    b = bucket(policy=policy({"Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:GetObject",
                              "Resource": "arn:aws:s3:::radiology-scans/*"}),
               cors=({"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]},))
    f = one(snapshot(account(b), integrations=(integ("v7-aws"),)), "baseline.cors-wildcard-origin")
    assert (f.status, f.severity, f.required_by) == (Status.FAIL, Severity.MEDIUM, None)
    # The fix lists the origin V7's guide names instead of '*' (from the profile, not from code).
    assert '"AllowedOrigins": [\n        "https://darwin.v7labs.com"' in f.remediation
    # Nor does RedBrick's guide cover a '*' rule wider than its own (PUT/POST/DELETE/GET): HEAD is not in it.
    wider = {**REDBRICK_CORS, "AllowedMethods": ["PUT", "POST", "DELETE", "GET", "HEAD"]}
    s = snapshot(account(bucket("dicom-studies", cors=(wider,))),
                 integrations=(integ("redbrick", "dicom-studies", user="rb"),))
    f = one(s, "baseline.cors-wildcard-origin")
    assert f.required_by is None and f.severity == Severity.HIGH


def test_tenyks_metadata_cors_is_required_only_on_the_metadata_bucket_in_read_write():
    tenyks_cors = {"AllowedHeaders": [], "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": []}
    opts = {"user": "t", "dataset": "cats", "images_dir": "images"}
    data, meta = bucket("tenyks-data", cors=(tenyks_cors,)), bucket("tenyks-meta", cors=(tenyks_cors,))
    s = snapshot(account(data, meta), integrations=(integ("tenyks", "tenyks-data", "read-write", metadata_bucket="tenyks-meta",
                                                          metadata_dir="m", **opts),))
    by_bucket = {f.bucket: f for f in run(s) if f.rule_id == "baseline.cors-wildcard-origin"}
    assert "3.3 Metadata Bucket CORS Settings" in (by_bucket["tenyks-meta"].required_by or "")
    assert by_bucket["tenyks-data"].required_by is None  # the guide asks for CORS on the metadata bucket only


def test_one_fact_reported_by_two_rules_is_one_blocking_problem():
    trust = policy({"Effect": "Allow", "Principal": {"AWS": DATATURE_PRINCIPAL}, "Action": "sts:AssumeRole"})
    s = snapshot(account(bucket("nexus-assets"), roles=(role("datature-nexus", trust),)),
                 integrations=(integ("datature", "nexus-assets", role_arn=f"arn:aws:iam::{ACCT}:role/datature-nexus",
                                     vendor_principal=DATATURE_PRINCIPAL, external_id=DATATURE_EXTERNAL_ID,
                                     prefix=""),))
    i = s.integrations[0]
    result = _result(s, i)
    vendor = next(f for f in result.findings if f.rule_id == "datature.external-id")
    base = next(f for f in result.findings if f.rule_id == "baseline.trust-external-id")
    assert vendor.status == base.status == Status.FAIL
    assert vendor.same_fact_as == (base.fingerprint,) and base.same_fact_as == (vendor.fingerprint,)
    assert vendor.to_json()["same_fact_as"] == [base.fingerprint]
    ids = {f.rule_id for f in blocking(result.findings, "high")}
    assert "datature.external-id" in ids
    # Exposure findings below critical never block check; the vendor's own rule does, and counts once.
    assert "baseline.trust-external-id" not in ids
    assert base in warnings(result.findings, "high")
    assert verdict(result, "high").startswith(f"NOT READY: {len(ids)} blocking finding")
    # The summary counts the fact once too: the two findings are one high fail.
    from auditor.report.table import summary_line

    pair = dataclasses.replace(result, findings=(vendor, base))
    assert pair.counts()["fail"]["high"] == 1
    assert "fail: 1 high" in summary_line(pair)


def test_other_roles_and_buckets_of_the_account_do_not_change_the_verdict():
    grant = policy({"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::radiology-scans/*"})
    ok = bucket(policy=grant, cors=({"AllowedMethods": ["GET"], "AllowedOrigins": ["https://darwin.v7labs.com"]},))
    public = bucket("public-site", policy=policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                  "Resource": "arn:aws:s3:::public-site/*"}))
    partner = role("partner", policy({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"},
                                      "Action": "sts:AssumeRole"}))
    alone = snapshot(account(ok), integrations=(integ("v7-aws"),))
    crowded = snapshot(account(ok, public, roles=(partner,)), integrations=(integ("v7-aws"),))
    assert verdict(_result(alone, alone.integrations[0]), "high") == "READY"
    result = _result(crowded, crowded.integrations[0])
    assert verdict(result, "high") == "READY"
    assert not any(f.bucket == "public-site" or f.principal == partner.arn for f in result.findings)
    # The same public policy on the checked bucket is a critical exposure: it blocks.
    exposed = bucket(policy=policy(grant["Statement"][0], {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                            "Resource": "arn:aws:s3:::radiology-scans/*"}),
                     cors=ok.cors)
    s = snapshot(account(exposed), integrations=(integ("v7-aws"),))
    result = _result(s, s.integrations[0])
    assert [f.rule_id for f in blocking(result.findings, "high")] == ["baseline.public-policy"]


def test_another_role_that_trusts_the_same_vendor_is_not_part_of_the_checked_roles_verdict():
    """Every role trusting Datature names Datature's principal; only the checked role's findings are its."""
    guarded = policy({"Effect": "Allow", "Principal": {"AWS": DATATURE_PRINCIPAL}, "Action": "sts:AssumeRole",
                      "Condition": {"StringEquals": {"sts:ExternalId": DATATURE_EXTERNAL_ID}}})
    open_trust = policy({"Effect": "Allow", "Principal": {"AWS": DATATURE_PRINCIPAL}, "Action": "sts:AssumeRole"})
    checked = integ("datature", "nexus-assets", role_arn=f"arn:aws:iam::{ACCT}:role/datature-nexus",
                    vendor_principal=DATATURE_PRINCIPAL, external_id=DATATURE_EXTERNAL_ID, prefix="")
    s = snapshot(account(bucket("nexus-assets"),
                         roles=(role("datature-nexus", guarded), role("datature-old", open_trust))),
                 integrations=(checked,))
    found = run(s)
    other = [f for f in found if f.resource.endswith(":role/datature-old") and f.status == Status.FAIL]
    assert other, "the other role's missing external id is reported by the scan"
    result = _result(s, s.integrations[0])
    assert not [f for f in result.findings if "datature-old" in f.resource or "datature-old" in f.message]
    alone = snapshot(account(bucket("nexus-assets"), roles=(role("datature-nexus", guarded),)), integrations=(checked,))
    without = _result(alone, alone.integrations[0])
    assert verdict(result, "high") == verdict(without, "high")
    assert warnings(result.findings, "high") == warnings(without.findings, "high")
    # The checked role's own missing external id is still its finding.
    s = snapshot(account(bucket("nexus-assets"), roles=(role("datature-nexus", open_trust),)), integrations=(checked,))
    result = _result(s, s.integrations[0])
    assert any(f.rule_id == "baseline.trust-external-id" and f.resource.endswith(":role/datature-nexus")
               for f in result.findings)
