"""``auditor demo``: sample buckets for every vendor in the embedded emulator, some right, some wrong.

Each bucket mirrors a vendor's set-up guide (shared/vendor-docs), either followed or with a
classic mistake, so the scan shows at least one pass and one fail per vendor.
"""

from __future__ import annotations

import io
import json
from typing import Any

import boto3

from auditor.config import parse_config
from auditor.emulator import Emulator, running_emulator
from auditor.model import ScanResult

V7_ROLE = "arn:aws:iam::258327614892:role/external_s3"
V7_WASABI_USER = "arn:aws:iam::100000274636:user/darwin"
DATATURE_PRINCIPAL = "arn:aws:iam::277710232653:role/ext-5086f40b-058b-4e09-a9bb-894c2efd6487"
DATATURE_EXTERNAL_ID = "76072142-60c6-426e-a2ae-6ed0c3b1886b"
ACCOUNT = "123456789012"  # the emulator's account

BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _jpeg(orientation: int | None) -> bytes:
    """A tiny JPEG, with an EXIF orientation tag when asked."""
    from PIL import Image

    img = Image.new("RGB", (8, 8), (200, 30, 30))
    buf = io.BytesIO()
    if orientation is None:
        img.save(buf, "JPEG")
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def _coco(images: list[str]) -> bytes:
    return json.dumps({
        "images": [{"id": i + 1, "file_name": name, "width": 8, "height": 8} for i, name in enumerate(images)],
        "annotations": [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [0, 0, 4, 4], "area": 16, "iscrowd": 0}
                        for i in range(len(images))],
        "categories": [{"id": 1, "name": "cat"}],
    }).encode()


def seed(endpoint: str) -> str:
    """Create the sample estate on the emulator at ``endpoint``; return the auditor.toml that scans it."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1")

    def bucket(name: str, *, policy: str | None = None, cors: list[dict] | None = None, block: bool = True,
               versioning: bool = False, kms_key: str | None = None, aws_managed_kms: bool = False,
               objects: dict[str, bytes | tuple[bytes, dict[str, str]]] | None = None) -> None:
        s3.create_bucket(Bucket=name)
        for key, body in (objects or {}).items():
            body, extra = body if isinstance(body, tuple) else (body, {})
            s3.put_object(Bucket=name, Key=key, Body=body, **extra)
        if block:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=BLOCK_ALL)
        if policy:
            # After the objects: the emulator applies a policy's Deny to writes without its conditions.
            s3.put_bucket_policy(Bucket=name, Policy=policy)
        if cors:
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors})
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if kms_key or aws_managed_kms:
            default: dict[str, str] = {"SSEAlgorithm": "aws:kms"}
            if kms_key:
                default["KMSMasterKeyID"] = kms_key
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": default}]})

    # --- V7 on AWS, read-write, done right: the guide's policy plus ListBucket for MIRAX,
    # CORS for darwin.v7labs.com, a customer-managed key V7 may use.
    key_policy = _policy(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "AllowV7", "Effect": "Allow", "Principal": {"AWS": V7_ROLE},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"},
    )
    v7_key = kms.create_key(Policy=key_policy, Description="demo customer key for V7")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/demo-v7", TargetKeyId=v7_key)
    bucket("demo-v7-slides", objects={
        "slides/case-001.mrxs": b"demo",
        "slides/case-001/Slidedat.ini": b"[GENERAL]\n",
        "slides/case-001/Data0000.dat": b"demo",
    }, kms_key=v7_key, versioning=True,
           cors=[{"AllowedHeaders": ["*"], "AllowedMethods": ["GET"], "AllowedOrigins": ["https://darwin.v7labs.com"],
                  "ExposeHeaders": []}],
           policy=_policy(
               {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE},
                "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::demo-v7-slides/*"},
               {"Sid": "DarwinList", "Effect": "Allow", "Principal": {"AWS": V7_ROLE},
                "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::demo-v7-slides"},
           ))

    # --- V7 on AWS, read-only, done wrong: dotted name, grant only inside "your organisation"
    # (V7 is not in it), no CORS, and the AWS-managed aws/s3 key (for the bucket and its objects).
    bucket("v7.scans.legacy", objects={"ct/scan-0001.dcm": (b"demo", {"ServerSideEncryption": "aws:kms"})}, aws_managed_kms=True,
           policy=_policy({"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE},
                           "Action": "s3:GetObject", "Resource": "arn:aws:s3:::v7.scans.legacy/*",
                           "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-exampleorg"}}}))

    # --- V7 on Wasabi: the guide's read-only policy, but a MIRAX slide without s3:ListBucket.
    bucket("wasabi-v7-pathology", block=False,
           objects={"biopsy-17.mrxs": b"demo", "biopsy-17/Slidedat.ini": b"[GENERAL]\n"},
           policy=_policy({"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_WASABI_USER},
                           "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::wasabi-v7-pathology/*"}))

    # --- Datature, done right: the generated identity policy, a trust with the external id, CORS.
    datature_policy = _policy(
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::demo-datature-assets",
         "Condition": {"StringLike": {"s3:prefix": "images/*"}}},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectAttributes"],
         "Resource": "arn:aws:s3:::demo-datature-assets/images/*"},
    )
    trust = _policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_PRINCIPAL},
                     "Condition": {"StringEquals": {"sts:ExternalId": DATATURE_EXTERNAL_ID}}})
    iam.create_role(RoleName="datature-nexus", AssumeRolePolicyDocument=trust)
    arn = iam.create_policy(PolicyName="datature-nexus-read", PolicyDocument=datature_policy)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="datature-nexus", PolicyArn=arn)
    bucket("demo-datature-assets", objects={"images/upright.jpg": _jpeg(None), "images/rotated.jpg": _jpeg(6)},
           cors=[{"AllowedHeaders": [], "AllowedMethods": ["GET"], "AllowedOrigins": ["https://nexus.datature.io"],
                  "ExposeHeaders": []}])

    # --- Datature, done wrong: a trust without sts:ExternalId (confused deputy) and no CORS.
    iam.create_role(RoleName="datature-video", AssumeRolePolicyDocument=_policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_PRINCIPAL}}))
    iam.put_role_policy(RoleName="datature-video", PolicyName="read", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::demo-datature-video", "arn:aws:s3:::demo-datature-video/*"]}))
    bucket("demo-datature-video", objects={"clips/intro.mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"})

    # --- Tenyks: the guide's own read-only policy, which covers only {images_dir}/* at the bucket
    # root, not {dataset}/{images_dir}/ nor the COCO files: a trap the scan catches.
    iam.create_user(UserName="tenyks-reader")
    iam.create_access_key(UserName="tenyks-reader")
    iam.put_user_policy(UserName="tenyks-reader", PolicyName="tenyksReadOnlyAccess", PolicyDocument=_policy(
        {"Sid": "tenyksReadOnlyAccess", "Action": ["s3:GetObject", "s3:ListBucket"], "Effect": "Allow",
         "Resource": ["arn:aws:s3:::demo-tenyks-data/images/*", "arn:aws:s3:::demo-tenyks-data"]}))
    predictions = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.9}]
    bucket("demo-tenyks-data", objects={
        "cats/images/cat-1.jpg": _jpeg(None),
        "cats/images/cat-2.jpg": _jpeg(None),
        "cats/annotations.json": _coco(["cat-1.jpg", "cat-2.jpg", "cat-3.jpg"]),  # cat-3.jpg is missing
        "cats/predictions.json": json.dumps(predictions).encode(),
    })

    # --- RedBrick, done right: grant through a group, the guide's CORS, all public access blocked.
    iam.create_user(UserName="redbrick-annotator")
    iam.create_access_key(UserName="redbrick-annotator")
    iam.create_group(GroupName="redbrick-labelers")
    iam.add_user_to_group(GroupName="redbrick-labelers", UserName="redbrick-annotator")
    iam.put_group_policy(GroupName="redbrick-labelers", PolicyName="RedBrickLabeling", PolicyDocument=_policy(
        {"Sid": "RedBrickLabeling", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::demo-redbrick-dicom/studies/*"}))
    bucket("demo-redbrick-dicom", objects={"studies/patient-01/ct-001.dcm": b"demo"}, versioning=True, cors=[{
        "AllowedHeaders": ["*"], "AllowedMethods": ["PUT", "POST", "DELETE", "GET"], "AllowedOrigins": ["*"],
        "ExposeHeaders": ["x-amz-server-side-encryption", "x-amz-request-id", "x-amz-id-2"], "MaxAgeSeconds": 3000}])

    # --- RedBrick, done wrong: a public bucket policy, public access not blocked, CORS "*" with
    # writes, and the integration user's only key is inactive.
    iam.create_user(UserName="redbrick-legacy")
    key = iam.create_access_key(UserName="redbrick-legacy")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="redbrick-legacy", AccessKeyId=key, Status="Inactive")
    iam.put_user_policy(UserName="redbrick-legacy", PolicyName="read", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::demo-redbrick-open/*"}))
    bucket("demo-redbrick-open", objects={"scans/chest-01.dcm": b"demo"}, block=False,
           policy=_policy({"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": "arn:aws:s3:::demo-redbrick-open/*"}),
           cors=[{"AllowedHeaders": ["*"], "AllowedMethods": ["PUT", "POST", "DELETE", "GET"],
                  "AllowedOrigins": ["*"], "ExposeHeaders": []}])

    from importlib.resources import files

    template = files("auditor.rules").joinpath("demo", "auditor.toml").read_text(encoding="utf-8")
    return template.format(endpoint=endpoint, ACCOUNT=ACCOUNT, DATATURE_PRINCIPAL=DATATURE_PRINCIPAL,
                           DATATURE_EXTERNAL_ID=DATATURE_EXTERNAL_ID)


def run_demo(progress=None, emulator: Emulator | None = None) -> ScanResult:
    """Seed an emulator (a fresh one unless given), scan it, return the result."""
    from auditor.scan import run_scan

    if emulator is not None:
        config = parse_config(seed(emulator.endpoint), "demo.toml")
        return run_scan(config, progress=progress)[1]
    with running_emulator() as emu:
        config = parse_config(seed(emu.endpoint), "demo.toml")
        return run_scan(config, progress=progress)[1]
