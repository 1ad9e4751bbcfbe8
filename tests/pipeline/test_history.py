"""Scheduled scans: history, diff by fingerprint, suppressions, organizations, skipped accounts."""

from __future__ import annotations

import json

from auditor.cli import main
from auditor.collect import collect
from auditor.config import parse_config
from tests.faultproxy import Fault, FaultProxy


def config_file(tmp_path, endpoint, extra=""):
    path = tmp_path / "auditor.toml"
    path.write_text(f"""
[[accounts]]
name = "main"
endpoint_url = "{endpoint}"

[[integrations]]
vendor = "v7-aws"
account = "main"
bucket = "slides-bucket"

[[integrations]]
vendor = "v7-aws"
account = "main"
bucket = "other-bucket"
{extra}""")
    return path


def scan(config, tmp_path, *more):
    return main(["scan", "--config", str(config), "--format", "json", "--output-dir", str(tmp_path / "out"),
                 "--quiet", *more])


def test_diff_after_changing_one_bucket_shows_exactly_that_change(moto, aws, tmp_path, capsys):
    s3 = aws("s3")
    s3.create_bucket(Bucket="slides-bucket")
    s3.create_bucket(Bucket="other-bucket")
    config = config_file(tmp_path, moto.endpoint)
    scan(config, tmp_path)
    scan(config, tmp_path)  # unchanged: nothing new, nothing resolved
    capsys.readouterr()
    assert main(["diff", "--format", "json"]) == 0
    unchanged = json.loads(capsys.readouterr().out)
    assert (unchanged["old_scan"], unchanged["new_scan"]) == (1, 2)
    assert unchanged["new"] == [] and unchanged["resolved"] == []
    assert {f["rule_id"] for f in unchanged["still_failing"]} >= {"v7-aws.cors"}

    s3.put_bucket_cors(Bucket="slides-bucket", CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://darwin.v7labs.com"]}]})
    scan(config, tmp_path)
    capsys.readouterr()
    assert main(["diff", "--format", "json"]) == 0
    changed = json.loads(capsys.readouterr().out)
    assert changed["new"] == []
    assert [(f["rule_id"], f["bucket"], f["status_now"]) for f in changed["resolved"]] == [
        ("v7-aws.cors", "slides-bucket", "pass")]
    # The same comparison by explicit ids, and the terminal view.
    assert main(["diff", "2", "3"]) == 0
    out = capsys.readouterr().out
    assert "Resolved: 1" in out and "New: none" in out
    assert main(["history", "--format", "json"]) == 0
    assert [s["id"] for s in json.loads(capsys.readouterr().out)] == [1, 2, 3]

    # The HTML report of the next scan shows what changed since the previous one.
    s3.delete_bucket_cors(Bucket="slides-bucket")
    scan(config, tmp_path, "--format", "html")
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Changes since the previous scan" in html and "1 new, 0 resolved" in html


def test_diff_needs_two_scans(tmp_path, capsys):
    assert main(["diff"]) == 2
    assert "need two scans" in capsys.readouterr().err


def test_suppressed_findings_stay_marked_and_do_not_count(moto, aws, tmp_path):
    s3 = aws("s3")
    for name in ("slides-bucket", "other-bucket"):
        s3.create_bucket(Bucket=name)
        # The V7 guide's read-only policy, so that only CORS is left to fail.
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::258327614892:role/external_s3"},
             "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{name}/*"}]}))
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [
            {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://darwin.v7labs.com"]}]})
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.delete_bucket_cors(Bucket="other-bucket")
    unsuppressed = config_file(tmp_path, moto.endpoint)
    assert scan(unsuppressed, tmp_path, "--no-history") == 1  # v7-aws.cors fails (high) on other-bucket

    config = config_file(tmp_path, moto.endpoint, """
[[suppress]]
rule = "v7-aws.cors"
resource = "other-*"
reason = "CORS handled by CloudFront (RISK-42)"
until = 2999-01-01
""")
    assert scan(config, tmp_path, "--no-history", "--fail-on", "high") in (0, 3)
    doc = json.loads((tmp_path / "out" / "findings.json").read_text())
    (cors,) = [f for f in doc["findings"] if f["rule_id"] == "v7-aws.cors" and f["bucket"] == "other-bucket"]
    assert cors["status"] == "fail" and cors["suppressed"] is True
    assert cors["suppression"]["reason"] == "CORS handled by CloudFront (RISK-42)"


def test_expired_suppression_no_longer_applies_and_is_reported(moto, aws, tmp_path):
    aws("s3").create_bucket(Bucket="slides-bucket")
    aws("s3").create_bucket(Bucket="other-bucket")
    config = config_file(tmp_path, moto.endpoint, """
[[suppress]]
rule = "v7-aws.cors"
resource = "arn:aws:s3:::slides-bucket"
reason = "temporary"
until = 2020-01-31
""")
    assert scan(config, tmp_path, "--no-history") == 1
    doc = json.loads((tmp_path / "out" / "findings.json").read_text())
    cors = [f for f in doc["findings"] if f["rule_id"] == "v7-aws.cors" and f["bucket"] == "slides-bucket"]
    assert cors[0]["suppressed"] is False
    (expired,) = [f for f in doc["findings"] if f["rule_id"] == "baseline.suppression-expired"]
    assert expired["status"] == "fail" and "expired on 2020-01-31" in expired["message"]


def test_organization_accounts_scanned_through_role_suspended_and_unassumable_skipped(moto, aws, tmp_path):
    org = aws("organizations")
    org.create_organization(FeatureSet="ALL")
    ids = {name: org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
           for name in ("dev", "prod", "legacy", "locked")}
    org.close_account(AccountId=ids["legacy"])
    # Deny AssumeRole into the "locked" account only.
    proxy = FaultProxy(moto.endpoint, [Fault(lambda r: r.method == "POST", status=403, code="AccessDenied",
                                             body_contains=f"{ids['locked']}%3Arole".encode())])
    url = proxy.start()
    try:
        config = parse_config(f"""
[organization]
role_name = "AuditReadOnly"
external_id = "audit-ext-id"
endpoint_url = "{url}"
""")
        snap = collect(config)
    finally:
        proxy.stop()
    scanned = {a.account_id for a in snap.accounts}
    assert {ids["dev"], ids["prod"]} <= scanned
    assert ids["legacy"] not in scanned and ids["locked"] not in scanned
    reasons = {s.name: s.reason for s in snap.skipped}
    assert "suspended" in reasons[ids["legacy"]]
    assert "AccessDenied" in reasons[ids["locked"]]


def test_three_accounts_one_not_assumable(moto, aws, tmp_path, capsys):
    proxy = FaultProxy(moto.endpoint, [Fault(lambda r: r.method == "POST", status=403, code="AccessDenied",
                                             body_contains=b"333333333333")])
    url = proxy.start()
    accounts = "".join(f"""
[[accounts]]
name = "acct-{n}"
role_arn = "arn:aws:iam::{n * 12}:role/AuditReadOnly"
external_id = "audit-ext-id"
endpoint_url = "{url}"
""" for n in ("1", "2", "3"))
    config = tmp_path / "auditor.toml"
    config.write_text(accounts)
    try:
        code = main(["scan", "--config", str(config), "--format", "table,json", "--output-dir", str(tmp_path / "o"), "--quiet"])
    finally:
        proxy.stop()
    doc = json.loads((tmp_path / "o" / "findings.json").read_text())
    assert sorted(doc["scan"]["accounts"]) == ["111111111111", "222222222222"]
    assert [s["name"] for s in doc["scan"]["skipped_accounts"]] == ["acct-3"]
    assert code == 3  # nothing failed, but an account could not be scanned
    assert "skipped account acct-3" in capsys.readouterr().out
