"""A hand-built scan result for reporter tests: several vendors, statuses and severities, and hostile values."""

from __future__ import annotations

from auditor.model import Finding, ScanResult, Severity, SkippedAccount, Status

HOSTILE_ORIGIN = "<script>window.__pwned=1</script>"
HOSTILE_BUCKET = "<img src=x onerror=window.__pwned=1>"
FORMULA_USER = '=HYPERLINK("http://attacker.example","click")'


def finding(rule_id, vendor, status, severity, bucket, message, **extra):
    return Finding(rule_id=rule_id, vendor=vendor, status=status, severity=severity,
                   account_id=extra.pop("account_id", "123456789012"), region=extra.pop("region", "us-east-1"),
                   bucket=bucket, resource=extra.pop("resource", f"arn:aws:s3:::{bucket}"),
                   inferred=extra.pop("inferred", False), title=extra.pop("title", rule_id), message=message,
                   evidence=extra.pop("evidence", {}), remediation=extra.pop("remediation", None),
                   reference=extra.pop("reference", "vendor guide"), **extra)


def sample_result() -> ScanResult:
    findings = (
        finding("v7-aws.cors", "v7-aws", Status.FAIL, Severity.HIGH, "radiology-scans",
                "No CORS rule allows GET from https://darwin.v7labs.com",
                title="CORS lets the V7 web app read objects",
                evidence={"cors_rules": [{"AllowedOrigins": [HOSTILE_ORIGIN], "AllowedMethods": ["GET"]}]},
                remediation="aws s3api put-bucket-cors --bucket radiology-scans --cors-configuration '{\"CORSRules\":[]}'",
                reference="000_6c2aa614f0946349.txt: a CORS header needs to be configured"),
        finding("v7-aws.read-grant", "v7-aws", Status.PASS, Severity.CRITICAL, "radiology-scans",
                "V7 may read every object in scope", title="V7 can read"),
        finding("datature.external-id", "datature", Status.FAIL, Severity.HIGH, "nexus-assets",
                "The trust policy does not require sts:ExternalId", title="Trust requires an external id",
                resource="arn:aws:iam::123456789012:role/datature-nexus",
                principal="arn:aws:iam::277710232653:root",
                remediation="aws iam update-assume-role-policy --role-name datature-nexus --policy-document '{}'"),
        finding("tenyks.access-key", "tenyks", Status.UNKNOWN, Severity.HIGH, "cats-data",
                "Could not verify: ListAccessKeys failed with AccessDenied.", title="The user has an active key"),
        finding("redbrick.read-grant", "redbrick", Status.FAIL, Severity.CRITICAL, HOSTILE_BUCKET,
                f"IAM user {FORMULA_USER} cannot s3:GetObject {HOSTILE_BUCKET}/studies/x.dcm",
                title="The user may read objects", principal=FORMULA_USER),
        finding("baseline.cors-wildcard-origin", "baseline", Status.FAIL, Severity.MEDIUM, "radiology-scans",
                "+1 CORS rule allows origin '*'", title="No CORS rule allows every origin",
                suppression={"reason": "public assets (RISK-1)", "until": "2999-01-01", "rule": "baseline.*",
                             "resource": "*"}),
        finding("baseline.tls-only", "baseline", Status.FAIL, Severity.LOW, "cats-data",
                "-The bucket policy does not deny plain HTTP", title="TLS only",
                remediation="@SUM(1) is not a formula here"),
        finding("baseline.trust-external-id", "baseline", Status.FAIL, Severity.HIGH, None,
                "Role partner-sync trusts account 444455556666 without sts:ExternalId",
                title="A role that trusts another account requires an external id", region=None,
                account_id="210987654321", resource="arn:aws:iam::210987654321:role/partner-sync",
                principal="arn:aws:iam::444455556666:root",
                evidence={"trust_policy": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                          "Principal": {"AWS": "arn:aws:iam::444455556666:root"}}]}},
                remediation="Add a Condition {\"StringEquals\": {\"sts:ExternalId\": \"<id>\"}} to the trust statement",
                reference="AWS IAM User Guide: the confused deputy problem"),
        finding("v7-wasabi.bucket-name", "v7-wasabi", Status.PASS, Severity.HIGH, "wasabi-slides",
                "The bucket name has no dots", title="Bucket name has no dots", inferred=True,
                account_id="210987654321", region="eu-central-1",
                principal="arn:aws:iam::100000274636:user/darwin"),
    )
    return ScanResult(started_at="2026-01-01T00:00:00Z", finished_at="2026-01-01T00:01:00Z",
                      accounts=("123456789012", "210987654321"), buckets=5, findings=findings,
                      skipped=(SkippedAccount(name="partner", account_id="333344445555",
                                              reason="cannot assume AuditReadOnly: AccessDenied"),))
