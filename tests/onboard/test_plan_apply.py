"""The plan is proven, not hoped: broken buckets go from NOT READY to READY by running exactly plan.sh."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess

import pytest

from auditor.cli import main

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI applies the plan (pip install awscli)")

OTHER_STATEMENT = {"Sid": "AnalyticsRead", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::444455556666:role/analytics"},
                   "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{bucket}/reports/*"}
OTHER_CORS = {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://intranet.example.com"], "AllowedHeaders": []}
BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "JPEG")
    return buf.getvalue()


def _policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _bucket(aws, name, objects=(), block=True):
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    for key in objects:
        s3.put_object(Bucket=name, Key=key, Body=_jpeg() if key.endswith(".jpg") else b"data")
    other = json.loads(json.dumps(OTHER_STATEMENT).replace("{bucket}", name))
    s3.put_bucket_policy(Bucket=name, Policy=_policy(other))
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [OTHER_CORS]})
    if block:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=BLOCK_ALL)
    return other


def broken_v7(aws, vendor, mode):
    name = f"{vendor}-{mode}-slides"
    other = _bucket(aws, name, ["slides/case-1.mrxs", "slides/case-1/Slidedat.ini", "slides/case-1/Data0000.dat"],
                    block=vendor == "v7-aws")
    flags = ["--scope", "slides/"] + (["--prefix", "darwin/"] if mode == "read-write" else [])
    if vendor == "v7-aws":
        kms = aws("kms")
        key = kms.create_key(Description="bucket key")["KeyMetadata"]["KeyId"]
        aws("s3").put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]})
    return name, flags, other


def broken_datature(aws, vendor, mode):
    name = f"datature-{mode}-assets"
    other = _bucket(aws, name, ["images/a.jpg", "images/b.jpg"])
    aws("iam").create_role(RoleName=f"datature-{mode}", AssumeRolePolicyDocument=_policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole",
         "Principal": {"AWS": "arn:aws:iam::277710232653:role/ext-5086f40b"}}))  # no sts:ExternalId
    return name, ["--prefix", "images/", "--role-arn", f"arn:aws:iam::123456789012:role/datature-{mode}",
                  "--vendor-principal", "arn:aws:iam::277710232653:role/ext-5086f40b",
                  "--external-id", "76072142-60c6-426e-a2ae-6ed0c3b1886b"], other


def broken_tenyks(aws, vendor, mode):
    name = f"tenyks-{mode}-data"
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 4}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0}],
            "categories": [{"id": 1, "name": "cat"}]}
    other = _bucket(aws, name, ["cats/images/a.jpg"])
    aws("s3").put_object(Bucket=name, Key="cats/annotations.json", Body=json.dumps(coco).encode())
    aws("s3").put_object(Bucket=name, Key="cats/predictions.json", Body=json.dumps(
        [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]).encode())
    iam = aws("iam")
    iam.create_user(UserName=f"tenyks-{mode}")
    iam.create_access_key(UserName=f"tenyks-{mode}")
    # The guide's own sample policy: it covers {images_dir}/* at the bucket root only.
    iam.put_user_policy(UserName=f"tenyks-{mode}", PolicyName="tenyksReadOnlyAccess", PolicyDocument=_policy(
        {"Sid": "tenyksReadOnlyAccess", "Action": ["s3:GetObject", "s3:ListBucket"], "Effect": "Allow",
         "Resource": [f"arn:aws:s3:::{name}/images/*", f"arn:aws:s3:::{name}"]}))
    flags = ["--user", f"tenyks-{mode}", "--dataset", "cats", "--images-dir", "images"]
    if mode == "read-write":
        flags += ["--metadata-dir", "tenyks-meta"]
    return name, flags, other


def broken_tenyks_separate_metadata(aws, vendor, mode):
    name, flags, other = broken_tenyks(aws, vendor, mode)
    aws("s3").create_bucket(Bucket="tenyks-meta-store")  # no CORS, nothing granted yet (guide 3.2.1, 3.3)
    return name, flags + ["--metadata-bucket", "tenyks-meta-store"], other


def broken_redbrick(aws, vendor, mode):
    name = f"redbrick-{mode}-dicom"
    other = _bucket(aws, name, ["studies/p1/ct-1.dcm"], block=False)
    iam = aws("iam")
    iam.create_user(UserName=f"redbrick-{mode}")
    key = iam.create_access_key(UserName=f"redbrick-{mode}")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName=f"redbrick-{mode}", AccessKeyId=key, Status="Inactive")
    return name, ["--user", f"redbrick-{mode}", "--prefix", "studies/"], other


CASES = [(v, m, fn) for v, fn in (("v7-aws", broken_v7), ("v7-wasabi", broken_v7), ("datature", broken_datature),
                                  ("tenyks", broken_tenyks), ("redbrick", broken_redbrick))
         for m in ("read-only", "read-write")
         if (v, m) != ("datature", "read-write")]  # Datature's guide: "the access is read-only"
CASES += [("tenyks", "read-write", broken_tenyks_separate_metadata)]
IDS = [f"{v}-{m}" for v, m, _ in CASES[:-1]] + ["tenyks-read-write-metadata-bucket"]


@pytest.mark.parametrize("vendor, mode, make", CASES, ids=IDS)
def test_plan_makes_a_broken_bucket_ready(moto, aws, tmp_path, capsys, vendor, mode, make):
    bucket, flags, other = make(aws, vendor, mode)
    common = [vendor, f"s3://{bucket}", "--mode", mode, "--endpoint-url", moto.endpoint, "--quiet", *flags]
    assert main(["check", *common]) == 1
    assert "NOT READY" in capsys.readouterr().out

    out = tmp_path / "plan"
    assert main(["plan", *common, "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Nothing has been applied" in printed
    plan = json.loads((out / "plan.json").read_text())
    assert plan["changes"], plan
    assert (out / "plan.tf").read_text().count("resource ") >= 1

    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    run = subprocess.run(["sh", str(out / "plan.sh")], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr

    code = main(["check", *common, "--format", "json", "--output-dir", str(tmp_path / "after")])
    printed = capsys.readouterr().out
    assert "READY" in printed and "NOT READY" not in printed, printed
    assert code in (0, 3)
    after = json.loads((tmp_path / "after" / "findings.json").read_text())["findings"]
    assert not [f for f in after if f["rule_id"] == "baseline.vendor-excess-privilege" and f["status"] == "fail"]
    if "--metadata-bucket" in flags:  # the second bucket was checked and put right too
        meta = {f["rule_id"]: f["status"] for f in after if f["bucket"] == "tenyks-meta-store"}
        assert meta["tenyks.metadata-grant"] == meta["tenyks.metadata-cors"] == "pass", meta
        assert meta["baseline.vendor-excess-privilege"] == "pass", meta

    # Nothing that was there before is lost.
    s3 = aws("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert other in policy["Statement"]
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert any(r["AllowedOrigins"] == OTHER_CORS["AllowedOrigins"] for r in rules)


def test_check_never_says_ready_for_what_it_could_not_see(moto, capsys):
    # A bucket that does not exist: every check is unknown, even with --fail-on never.
    for extra in ([], ["--fail-on", "never"]):
        code = main(["check", "v7-aws", "s3://not-created-here", "--endpoint-url", moto.endpoint, "--quiet", *extra])
        last = capsys.readouterr().out.strip().splitlines()[-1]
        assert code == 3
        assert last.startswith("NOT READY: the bucket could not be scanned"), last


def test_verdict_counts_blocking_unknowns_and_skipped_accounts():
    from auditor.model import Finding, ScanResult, Severity, SkippedAccount, Status
    from auditor.onboard import verdict

    def finding(status, severity):
        return Finding("v7-aws.cors", "v7-aws", status, severity, "1", "us-east-1", "b", "arn:aws:s3:::b", False,
                       "t", "m")

    def result(*fs, skipped=()):
        return ScanResult("s", "f", ("1",), 1, tuple(fs), skipped=skipped)

    assert verdict(result(finding(Status.PASS, Severity.CRITICAL)), "high") == "READY"
    assert verdict(result(finding(Status.UNKNOWN, Severity.LOW)), "high") == "READY"
    assert verdict(result(finding(Status.UNKNOWN, Severity.HIGH)), "high") == \
        "NOT READY: 1 blocking check could not be verified"
    assert verdict(result(finding(Status.FAIL, Severity.CRITICAL), finding(Status.FAIL, Severity.HIGH),
                          finding(Status.UNKNOWN, Severity.CRITICAL)), "high") == \
        "NOT READY: 2 blocking findings, 1 more could not be verified"
    assert verdict(result(finding(Status.FAIL, Severity.HIGH)), "never") == "READY"
    assert verdict(result(skipped=(SkippedAccount("target", "AccessDenied"),)), "never") == \
        "NOT READY: the account could not be scanned (AccessDenied)"
