"""A bucket set up word for word as the vendor's guide says is READY, for every vendor and mode.

Each setup below copies the guide's JSON (policy, trust, CORS) with only its placeholders filled in, and
follows its steps (managed policies attached to a user where the guide says "Create policy" and "attach";
block public access where it recommends it). Then, to each account, we add what a real account also
holds: an unrelated role trusting another account without an external id, a public bucket nobody
integrates, a user with wide rights. None of it may change the verdict of the checked bucket.
"""

from __future__ import annotations

import io
import json
import os
import re

import pytest

from auditor.cli import main

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": True}


def _doc(*statements, **top):
    return json.dumps({"Version": "2012-10-17", **top, "Statement": list(statements)})


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "JPEG")
    return buf.getvalue()


def _put(aws, bucket, *keys):
    for key in keys:
        body = _jpeg() if key.endswith((".jpg", ".png")) else b"data"
        aws("s3").put_object(Bucket=bucket, Key=key, Body=body)


def _user_with_policies(aws, user, *policies):
    """The guide's steps: create each policy (JSON tab), create the user, attach them, create an access key."""
    iam = aws("iam")
    iam.create_user(UserName=user)
    for name, document in policies:
        arn = iam.create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.create_access_key(UserName=user)


def unrelated(aws):
    """What else lives in a real account: none of it concerns the integration being checked."""
    iam = aws("iam")
    iam.create_role(RoleName="partner-reporting", AssumeRolePolicyDocument=_doc(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}))
    iam.create_user(UserName="ops-admin")
    iam.put_user_policy(UserName="ops-admin", PolicyName="all", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    s3 = aws("s3")
    s3.create_bucket(Bucket="public-website")
    s3.put_bucket_policy(Bucket="public-website", Policy=_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::public-website/*"}))
    s3.put_bucket_cors(Bucket="public-website", CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["*"]}]})


# --------------------------------------------------------------------------- V7 Darwin, AWS S3 and Wasabi

V7_PRINCIPAL = {"v7-aws": "arn:aws:iam::258327614892:role/external_s3",
                "v7-wasabi": "arn:aws:iam::100000274636:user/darwin"}
# "1: S3 Bucket Policy", read-write and read-only (the same words in both guides).
V7_ACTIONS = {"read-write": ["s3:GetObject", "s3:PutObject"], "read-only": ["s3:GetObject"]}


def v7(aws, vendor, mode, folder=""):
    bucket = "radiology-scans"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    _put(aws, bucket, "ct/case-1.jpg", "ct/case-2.jpg", "other/notes.txt")
    s3.put_bucket_policy(Bucket=bucket, Policy=_doc(
        {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_PRINCIPAL[vendor]},
         "Action": V7_ACTIONS[mode], "Resource": f"arn:aws:s3:::{bucket}/{folder}*"}, Id="PolicyForExternalAccess"))
    if vendor == "v7-aws":  # "2: CORS Access" (the Wasabi guide has no CORS step)
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedHeaders": ["*"], "AllowedMethods": ["GET"], "AllowedOrigins": ["https://darwin.v7labs.com"],
             "ExposeHeaders": []}]})
    if folder:  # "Partial Bucket Access": V7 reads the sub-folder and, read-write, writes its thumbnails there
        return bucket, ["--scope", folder] + (["--prefix", folder] if mode == "read-write" else [])
    return bucket, []  # "S3 Prefix: … If left blank, they will be written to the base of your bucket under /data"


def v7_subfolder(aws, vendor, mode):
    """"You can grant V7 access to specific sub-folders in your bucket … your-s3-bucket-name/my_subfolder/*"."""
    return v7(aws, vendor, mode, folder="ct/")


# --------------------------------------------------------------------------- Datature Nexus

DATATURE_ROLE = "arn:aws:iam::277710232653:role/ext-5086f40b-058b-4e09-a9bb-894c2efd6487"
DATATURE_EXTERNAL_ID = "76072142-60c6-426e-a2ae-6ed0c3b1886b"


def datature(aws, vendor, mode, prefix="images/"):
    bucket = "nexus-assets"
    aws("s3").create_bucket(Bucket=bucket)
    _put(aws, bucket, f"{prefix}a.jpg", f"{prefix}b.jpg")
    iam = aws("iam")
    # "2. AWS Policy": the IAM policy, then a role with the custom trust policy, then CORS.
    policy = iam.create_policy(PolicyName="datature-nexus-read", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": f"{prefix}*"}}},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectAttributes"],
         "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"}))["Policy"]["Arn"]
    iam.create_role(RoleName="datature-nexus", AssumeRolePolicyDocument=_doc(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_ROLE},
         "Condition": {"StringEquals": {"sts:ExternalId": DATATURE_EXTERNAL_ID}}}))
    iam.attach_role_policy(RoleName="datature-nexus", PolicyArn=policy)
    aws("s3").put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedHeaders": [], "AllowedMethods": ["GET"], "AllowedOrigins": ["https://nexus.datature.io"],
         "ExposeHeaders": []}]})
    return bucket, ["--prefix", prefix, "--role-arn", "arn:aws:iam::123456789012:role/datature-nexus",
                    "--vendor-principal", DATATURE_ROLE, "--external-id", DATATURE_EXTERNAL_ID][0 if prefix else 2:]


def datature_root(aws, vendor, mode):
    """"The Folder Prefix is an optional entry … If left empty, Nexus will just use the data in the root folder"."""
    return datature(aws, vendor, mode, prefix="")


# --------------------------------------------------------------------------- Tenyks

COCO = {"images": [{"id": 1, "file_name": "image_1.png", "width": 4, "height": 4}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "cat"}]}
PREDICTIONS = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]
# "3.3 Metadata Bucket CORS Settings"
TENYKS_CORS = {"AllowedHeaders": [], "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": []}


def _tenyks_data(aws, bucket):
    """"1. Expected folder structure": {bucket}/{dataset}/{images}/image_n.png, predictions.json, annotations.json."""
    aws("s3").create_bucket(Bucket=bucket)
    _put(aws, bucket, "cats/images/image_1.png")
    aws("s3").put_object(Bucket=bucket, Key="cats/annotations.json", Body=json.dumps(COCO).encode())
    aws("s3").put_object(Bucket=bucket, Key="cats/predictions.json", Body=json.dumps(PREDICTIONS).encode())


def _tenyks_read_only_policy(bucket):
    # "3.1 read-only bucket", {images_directory_name} filled in with the dataset's images folder.
    return ("tenyks-images", _doc(
        {"Sid": "tenyksReadOnlyAccess", "Action": ["s3:GetObject", "s3:ListBucket"], "Effect": "Allow",
         "Resource": [f"arn:aws:s3:::{bucket}/cats/images/*", f"arn:aws:s3:::{bucket}"]}))


def tenyks_3_1(aws, vendor, mode):
    bucket = "tenyks-data"
    _tenyks_data(aws, bucket)
    _user_with_policies(aws, "tenyks", _tenyks_read_only_policy(bucket))
    return bucket, ["--user", "tenyks", "--dataset", "cats", "--images-dir", "images"]


def tenyks_3_2_1(aws, vendor, mode):
    bucket, meta = "tenyks-data", "tenyks-metadata"
    _tenyks_data(aws, bucket)
    aws("s3").create_bucket(Bucket=meta)
    write = ("tenyks-metadata", _doc(  # "3.2.1 Bucket for metadata"
        {"Sid": "tenyksWriteAccess", "Action": ["s3:GetObject", "s3:DeleteObject", "s3:PutObject", "s3:ListBucket"],
         "Effect": "Allow", "Resource": [f"arn:aws:s3:::{meta}/meta/*", f"arn:aws:s3:::{meta}"]}))
    _user_with_policies(aws, "tenyks", _tenyks_read_only_policy(bucket), write)
    aws("s3").put_bucket_cors(Bucket=meta, CORSConfiguration={"CORSRules": [TENYKS_CORS]})
    return bucket, ["--user", "tenyks", "--dataset", "cats", "--images-dir", "images",
                    "--metadata-bucket", meta, "--metadata-dir", "meta"]


def tenyks_3_2_2(aws, vendor, mode):
    bucket = "tenyks-data"
    _tenyks_data(aws, bucket)
    _user_with_policies(aws, "tenyks", ("tenyks-full", _doc(  # "3.2.2 Bucket for images AND metadata"
        {"Sid": "tenyksFullBucketAccess", "Action": ["s3:GetObject", "s3:DeleteObject", "s3:PutObject", "s3:ListBucket"],
         "Effect": "Allow", "Resource": [f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}"]})))
    aws("s3").put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [TENYKS_CORS]})
    return bucket, ["--user", "tenyks", "--dataset", "cats", "--images-dir", "images", "--metadata-dir", "cats/meta"]


# --------------------------------------------------------------------------- RedBrick AI

def redbrick(aws, vendor, mode):
    bucket = "dicom-studies"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    _put(aws, bucket, "studies/p1/ct-1.dcm")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=BLOCK_ALL)  # "We recommend blocking…"
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [  # "S3 Bucket Settings"
        {"AllowedHeaders": ["*"], "AllowedMethods": ["PUT", "POST", "DELETE", "GET"], "AllowedOrigins": ["*"],
         "ExposeHeaders": ["x-amz-server-side-encryption", "x-amz-request-id", "x-amz-id-2"],
         "MaxAgeSeconds": 3000}]})
    # "Permissions"; for annotation storage "you need to add PUT object access as well".
    action = "s3:GetObject" if mode == "read-only" else ["s3:GetObject", "s3:PutObject"]
    _user_with_policies(aws, "redbrick", ("RedBrickLabeling", _doc(
        {"Sid": "RedBrickLabelingReadOnly", "Effect": "Allow", "Action": action,
         "Resource": f"arn:aws:s3:::{bucket}/*"})))
    return bucket, ["--user", "redbrick"]


VARIANTS = [
    ("v7-aws", "read-only", v7), ("v7-aws", "read-write", v7),
    ("v7-wasabi", "read-only", v7), ("v7-wasabi", "read-write", v7),
    ("v7-aws", "read-only", v7_subfolder), ("v7-aws", "read-write", v7_subfolder),
    ("datature", "read-only", datature), ("datature", "read-only", datature_root),
    ("tenyks", "read-only", tenyks_3_1), ("tenyks", "read-write", tenyks_3_2_1), ("tenyks", "read-write", tenyks_3_2_2),
    ("redbrick", "read-only", redbrick), ("redbrick", "read-write", redbrick),
]
IDS = ["v7-aws-read-only", "v7-aws-read-write", "v7-wasabi-read-only", "v7-wasabi-read-write",
       "v7-aws-sub-folder-read-only", "v7-aws-sub-folder-read-write", "datature",
       "datature-no-folder-prefix",
       "tenyks-3.1", "tenyks-3.2.1", "tenyks-3.2.2", "redbrick-read-only", "redbrick-annotation-storage"]


def _check(moto, capsys, tmp_path, vendor, mode, bucket, flags):
    out = tmp_path / "out"
    code = main(["check", vendor, f"s3://{bucket}", "--mode", mode, "--endpoint-url", moto.endpoint, "--quiet",
                 "--format", "table,json", "--output-dir", str(out), *flags])
    printed = capsys.readouterr().out
    findings = json.loads((out / "findings.json").read_text())["findings"]
    verdict = next(line for line in printed.splitlines() if line.startswith(("READY", "NOT READY")))
    return code, verdict, printed, findings


@pytest.mark.parametrize("vendor, mode, setup", VARIANTS, ids=IDS)
def test_guide_verbatim_setup_is_ready(moto, aws, capsys, tmp_path, vendor, mode, setup):
    bucket, flags = setup(aws, vendor, mode)
    code, verdict, printed, findings = _check(moto, capsys, tmp_path, vendor, mode, bucket, flags)
    assert verdict == "READY", printed
    # Every requirement that can block passed; nothing that counts for the exit status (high and above) failed:
    # what the guide itself asks for is reported as required by it, at severity info.
    readiness = [f for f in findings if f["kind"] == "readiness" and f["severity"] in ("critical", "high")]
    assert readiness and all(f["status"] == "pass" for f in readiness), \
        [(f["rule_id"], f["status"], f["message"]) for f in readiness if f["status"] != "pass"]
    serious = [f for f in findings if f["status"] == "fail" and f["severity"] in ("critical", "high")]
    assert not serious, [(f["rule_id"], f["message"]) for f in serious]
    assert code == 0, (code, [(f["rule_id"], f["status"]) for f in findings if f["status"] != "pass"])

    unrelated(aws)
    code2, verdict2, printed2, _ = _check(moto, capsys, tmp_path, vendor, mode, bucket, flags)
    assert (verdict2, code2) == ("READY", 0), printed2


@pytest.mark.parametrize("columns", [80, 120])
def test_check_on_a_terminal_shows_the_verdict_then_the_warnings(moto, aws, tmp_path, columns):
    """RedBrick as its guide says, checked at a terminal: READY, then the exposure warnings under it (the '*'
    origin as required by the guide), every line within the terminal's width."""
    from rich.cells import cell_len

    from tests.ptyrun import run_on_pty

    bucket, flags = redbrick(aws, "redbrick", "read-only")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    code, raw = run_on_pty(["check", "redbrick", f"s3://{bucket}", "--endpoint-url", moto.endpoint, *flags],
                           tmp_path, env, columns=columns)
    # What the screen keeps: a progress bar redraws its line (carriage returns) and is cleared at the end.
    lines = [line.split("\r")[-1].rstrip() for line in ANSI.sub("", raw.replace("\r\n", "\n")).split("\n")]
    assert not [line for line in lines if cell_len(line) > columns]
    verdict = lines.index("READY")
    after = " ".join(line.strip() for line in lines[verdict + 1:])
    assert "exposure warning" in after
    assert "baseline.cors-wildcard-origin [info]" in after and 'required by RedBrick AI, "Configuring AWS s3"' in after
    # What was found, not the rule's title (the state it checks for: "No CORS rule allows every origin").
    assert "allow origin '*'" in after and "No CORS rule allows every origin" not in after
    assert "plain HTTP are not denied" in after and "The bucket policy denies requests without TLS" not in after
    # Indented by two, and not padded out to the terminal's width (a copied warning has no trailing blanks).
    shown = [line.split("\r")[-1] for line in ANSI.sub("", raw.replace("\r\n", "\n")).split("\n")][verdict + 2:]
    warned = [line for line in shown if line.strip()]
    assert warned and all(line.startswith("  ") for line in warned), warned
    assert not [line for line in warned if line.endswith(" ")], warned
    assert code == 0 or code == 3
