"""The plan is proven, not hoped: broken integrations go from NOT READY to READY by running exactly plan.sh.

For every vendor and mode (and Tenyks with a separate metadata bucket) the broken setup is one a real
estate has: a vendor statement wider than its mode, shared with another principal, an attached policy or
a group that grants everything, a trust that names the vendor's account or no external id, policies with
``${aws:username}`` and ``%{`` in them. After ``plan``:

* plan.tf parses, every resource is imported exactly when it existed, nothing reads as a template;
* plan.sh, run with the real ``aws`` CLI against the moto server, makes ``check`` say READY, with no
  excess privilege left on any bucket of the integration;
* a second ``plan`` proposes nothing;
* every statement, CORS rule and trust entry that did not concern the vendor is still there, unchanged.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass, field

import pytest
from botocore.exceptions import ClientError

from auditor.cli import main
from tests.onboard import tfcheck
from tests.planrun import apply_plan, check_says_ready

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI applies the plan (pip install awscli)")

ACCOUNT = "123456789012"  # moto's
ANALYTICS = "arn:aws:iam::444455556666:role/analytics"
OTHER_STATEMENT = {"Sid": "AnalyticsRead", "Effect": "Allow", "Principal": {"AWS": ANALYTICS},
                   "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{bucket}/reports/*"}
# Text Terraform would take for template sequences if it were copied unescaped.
TEMPLATED = {"Sid": "HomeFolders", "Effect": "Allow", "Principal": {"AWS": ANALYTICS}, "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::{bucket}/home/${aws:username}/*",
             "Condition": {"StringLike": {"aws:UserAgent": "%{agent}*"}}}
OTHER_CORS = {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://intranet.example.com"], "AllowedHeaders": []}
BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
V7 = {"v7-aws": "arn:aws:iam::258327614892:role/external_s3", "v7-wasabi": "arn:aws:iam::100000274636:user/darwin"}
DATATURE = "arn:aws:iam::277710232653:role/ext-5086f40b-058b-4e09-a9bb-894c2efd6487"
DATATURE_ACCOUNT = "277710232653"
EXTERNAL_ID = "76072142-60c6-426e-a2ae-6ed0c3b1886b"
SELF_SERVICE = {"Sid": "SelfService", "Effect": "Allow", "Action": "iam:GetUser",
                "Resource": f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"}


@dataclass
class Case:
    bucket: str
    flags: list[str]
    buckets: list[str]
    vendor_ids: list[str]  # text that names the vendor's principal in a document
    user: str | None = None
    role: str | None = None
    expect_kinds: set[str] = field(default_factory=set)  # kinds of change the plan must make
    forbid_kinds: set[str] = field(default_factory=set)  # kinds it must not make


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "JPEG")
    return buf.getvalue()


def _policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _for(statement, bucket):
    return json.loads(json.dumps(statement).replace("{bucket}", bucket))


def _bucket(aws, name, objects=(), block=True, vendor_statements=()):
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    for key in objects:
        s3.put_object(Bucket=name, Key=key, Body=_jpeg() if key.endswith(".jpg") else b"data")
    other = _for(OTHER_STATEMENT, name)
    s3.put_bucket_policy(Bucket=name, Policy=_policy(other, _for(TEMPLATED, name), *vendor_statements))
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [OTHER_CORS]})
    if block:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=BLOCK_ALL)
    return other


def broken_v7(aws, vendor, mode):
    name = f"{vendor}-{mode}-slides"
    arn = f"arn:aws:s3:::{name}"
    principal = V7[vendor]
    if vendor == "v7-aws":
        keys = ["slides/case-1.mrxs", "slides/case-1/Slidedat.ini", "slides/case-1/Data0000.dat", "other/notes.txt"]
        if mode == "read-only":  # everything, deletes included, for a read-only vendor
            vendor_statements = [{"Sid": "V7Everything", "Effect": "Allow", "Principal": {"AWS": principal},
                                  "Action": "s3:*", "Resource": [arn, f"{arn}/*"]}]
        else:  # one statement for V7 and another principal, wider than V7's scope
            vendor_statements = [{"Sid": "SharedRead", "Effect": "Allow", "Principal": {"AWS": [principal, ANALYTICS]},
                                  "Action": "s3:GetObject", "Resource": f"{arn}/*"}]
    else:  # the guide's grant on the whole bucket, and a listing no .mrxs needs
        keys = ["slides/a.jpg", "slides/b.jpg", "other/c.jpg"]
        vendor_statements = [{"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": principal},
                              "Action": ["s3:GetObject"], "Resource": f"{arn}/*"},
                             {"Sid": "V7List", "Effect": "Allow", "Principal": {"AWS": principal},
                              "Action": "s3:ListBucket", "Resource": arn}]
    _bucket(aws, name, keys, block=vendor == "v7-aws", vendor_statements=vendor_statements)
    flags = ["--scope", "slides/"] + (["--prefix", "darwin/"] if mode == "read-write" else [])
    if vendor == "v7-aws":
        kms = aws("kms")
        key = kms.create_key(Description="bucket key")["KeyMetadata"]["KeyId"]
        aws("s3").put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]})
    ids = [principal, principal.split(":")[4]]
    return Case(name, flags, [name], ids, forbid_kinds={"versioning"} if mode == "read-only" else set())


def broken_datature(aws, vendor, mode):
    name = f"datature-{mode}-assets"
    _bucket(aws, name, ["images/a.jpg", "images/b.jpg"])
    role = f"datature-{mode}"
    iam = aws("iam")
    ec2 = {"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    flags = ["--prefix", "images/", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/{role}", "--external-id", EXTERNAL_ID]
    if mode == "read-only":
        # The guide's principal without its external id, and no --vendor-principal: the plan keeps that principal.
        trust = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE}}
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=_policy(ec2, trust))
    else:
        # Datature's whole account: --vendor-principal narrows it to the guide's role. The role may do anything
        # in S3; an attached policy already grants s3:GetObject, which the plan must not repeat.
        trust = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": f"arn:aws:iam::{DATATURE_ACCOUNT}:root"}}
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=_policy(ec2, trust))
        iam.put_role_policy(RoleName=role, PolicyName="everything", PolicyDocument=_policy(
            {"Sid": "Everything", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}))
        arn = iam.create_policy(PolicyName="datature-images-read", PolicyDocument=_policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/images/*"}))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        flags += ["--vendor-principal", DATATURE]
    return Case(name, flags, [name], [DATATURE_ACCOUNT], role=role)


def _tenyks(aws, mode, *, group: bool):
    name = f"tenyks-{mode}-data"
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 4}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0}],
            "categories": [{"id": 1, "name": "cat"}]}
    _bucket(aws, name, ["cats/images/a.jpg"])
    aws("s3").put_object(Bucket=name, Key="cats/annotations.json", Body=json.dumps(coco).encode())
    aws("s3").put_object(Bucket=name, Key="cats/predictions.json", Body=json.dumps(
        [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]).encode())
    user = f"tenyks-{mode}"
    iam = aws("iam")
    iam.create_user(UserName=user)
    iam.create_access_key(UserName=user)
    # The guide's own sample policy: it covers {images_dir}/* at the bucket root only.
    iam.put_user_policy(UserName=user, PolicyName="tenyksReadOnlyAccess", PolicyDocument=_policy(
        {"Sid": "tenyksReadOnlyAccess", "Action": ["s3:GetObject", "s3:ListBucket"], "Effect": "Allow",
         "Resource": [f"arn:aws:s3:::{name}/images/*", f"arn:aws:s3:::{name}"]}, SELF_SERVICE))
    if mode == "read-only":  # and every S3 right, deletes included, through an attached policy
        arn = iam.create_policy(PolicyName=f"s3-full-{mode}", PolicyDocument=_policy(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    elif group:  # every S3 right on the bucket through a group
        iam.create_group(GroupName=f"data-team-{mode}")
        iam.put_group_policy(GroupName=f"data-team-{mode}", PolicyName="data-team-s3", PolicyDocument=_policy(
            {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]}))
        iam.add_user_to_group(GroupName=f"data-team-{mode}", UserName=user)
    flags = ["--user", user, "--dataset", "cats", "--images-dir", "images"]
    if mode == "read-write":
        flags += ["--metadata-dir", "tenyks-meta"]
    return name, flags, user


def broken_tenyks(aws, vendor, mode):
    name, flags, user = _tenyks(aws, mode, group=True)
    kinds = {"policy-attachment"} if mode == "read-only" else {"group-membership", "versioning"}
    return Case(name, flags, [name], [f":user/{user}"], user=user, expect_kinds=kinds,
                forbid_kinds={"versioning"} if mode == "read-only" else set())


def broken_tenyks_separate_metadata(aws, vendor, mode):
    name, flags, user = _tenyks(aws, mode, group=False)
    aws("s3").create_bucket(Bucket="tenyks-meta-store")  # no CORS, no Block Public Access, nothing granted yet
    # The guide's single-bucket policy (3.2.2) on the data bucket: deletes where Tenyks writes nothing.
    aws("iam").put_user_policy(UserName=user, PolicyName="tenyksFullBucketAccess", PolicyDocument=_policy(
        {"Sid": "tenyksFullBucketAccess", "Action": ["s3:GetObject", "s3:DeleteObject", "s3:PutObject", "s3:ListBucket"],
         "Effect": "Allow", "Resource": [f"arn:aws:s3:::{name}/*", f"arn:aws:s3:::{name}"]}))
    return Case(name, flags + ["--metadata-bucket", "tenyks-meta-store"], [name, "tenyks-meta-store"],
                [f":user/{user}"], user=user, expect_kinds={"versioning", "cors", "public-access-block"})


def broken_redbrick(aws, vendor, mode):
    name = f"redbrick-{mode}-dicom"
    _bucket(aws, name, ["studies/p1/ct-1.dcm"], block=False)
    user = f"redbrick-{mode}"
    iam = aws("iam")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName=user, AccessKeyId=key, Status="Inactive")
    home = "arn:aws:s3:::home-bucket/${aws:username}/*"
    if mode == "read-only":  # everything on the bucket, and the user's home folder elsewhere, in one statement
        doc = _policy({"Sid": "Everything", "Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{name}/*", home]})
    else:  # deletes too
        doc = _policy({"Sid": "Annotate", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                       "Resource": f"arn:aws:s3:::{name}/*"},
                      {"Sid": "Home", "Effect": "Allow", "Action": "s3:*", "Resource": home})
    iam.put_user_policy(UserName=user, PolicyName="redbrick", PolicyDocument=doc)
    return Case(name, ["--user", user, "--prefix", "studies/"], [name], [f":user/{user}"], user=user,
                expect_kinds={"access-key", "public-access-block", "cors"},
                forbid_kinds={"versioning"} if mode == "read-only" else set())


CASES = [(v, m, fn) for v, fn in (("v7-aws", broken_v7), ("v7-wasabi", broken_v7), ("datature", broken_datature),
                                  ("tenyks", broken_tenyks), ("redbrick", broken_redbrick))
         for m in ("read-only", "read-write")
         if (v, m) != ("datature", "read-write")]  # Datature's guide: "the access is read-only"
CASES += [("tenyks", "read-write", broken_tenyks_separate_metadata)]
IDS = [f"{v}-{m}" for v, m, _ in CASES[:-1]] + ["tenyks-read-write-metadata-bucket"]


# ----------------------------------------------------------------------------- reading the estate back


def _get(fn, *path, default=None, **kw):
    try:
        out = fn(**kw)
    except ClientError:
        return default
    for p in path:
        out = out[p]
    return out


def estate(aws, case):
    """Every document of the integration, as the account holds it."""
    s3, iam, kms = aws("s3"), aws("iam"), aws("kms")
    out = {"policy": {}, "cors": {}, "pab": {}, "versioning": {}, "keys": {}, "role": None, "user": None}
    for b in case.buckets:
        text = _get(s3.get_bucket_policy, "Policy", Bucket=b)
        out["policy"][b] = json.loads(text) if text else None
        out["cors"][b] = _get(s3.get_bucket_cors, "CORSRules", Bucket=b)
        out["pab"][b] = _get(s3.get_public_access_block, "PublicAccessBlockConfiguration", Bucket=b)
        out["versioning"][b] = s3.get_bucket_versioning(Bucket=b).get("Status")
    for k in kms.list_keys()["Keys"]:
        out["keys"][k["KeyId"]] = json.loads(kms.get_key_policy(KeyId=k["KeyId"], PolicyName="default")["Policy"])
    if case.role:
        role = iam.get_role(RoleName=case.role)["Role"]
        trust = role["AssumeRolePolicyDocument"]
        inline = {n: iam.get_role_policy(RoleName=case.role, PolicyName=n)["PolicyDocument"]
                  for n in iam.list_role_policies(RoleName=case.role)["PolicyNames"]}
        attached = [a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=case.role)["AttachedPolicies"]]
        out["role"] = {"trust": json.loads(trust) if isinstance(trust, str) else trust, "inline": inline,
                       "attached": attached}
    if case.user:
        inline = {n: iam.get_user_policy(UserName=case.user, PolicyName=n)["PolicyDocument"]
                  for n in iam.list_user_policies(UserName=case.user)["PolicyNames"]}
        attached = [a["PolicyArn"] for a in iam.list_attached_user_policies(UserName=case.user)["AttachedPolicies"]]
        groups = [g["GroupName"] for g in iam.list_groups_for_user(UserName=case.user)["Groups"]]
        out["user"] = {"inline": {n: json.loads(d) if isinstance(d, str) else d for n, d in inline.items()},
                       "attached": attached, "groups": groups}
    if out["role"]:
        out["role"]["inline"] = {n: json.loads(d) if isinstance(d, str) else d for n, d in out["role"]["inline"].items()}
    return out


def _statements(doc):
    if not doc:
        return []
    st = doc.get("Statement", [])
    return [st] if isinstance(st, dict) else st


def _mentions(stmt, ids):
    text = json.dumps(stmt)
    return any(i in text for i in ids)


def _in_order(needles, haystack):
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


def assert_preserved(before, after, case):
    """Whatever did not concern the vendor is still there, unchanged and in order."""
    for b in case.buckets:
        kept = [s for s in _statements(before["policy"][b]) if not _mentions(s, case.vendor_ids)]
        assert _in_order(kept, _statements(after["policy"][b])), (b, kept, after["policy"][b])
        rules = before["cors"][b] or []
        assert (after["cors"][b] or [])[:len(rules)] == rules, (b, rules, after["cors"][b])
    for key, doc in before["keys"].items():
        assert _in_order(_statements(doc), _statements(after["keys"][key])), key
    if case.role:
        kept = [s for s in _statements(before["role"]["trust"]) if not _mentions(s, case.vendor_ids)]
        assert kept and _in_order(kept, _statements(after["role"]["trust"])), after["role"]["trust"]
    for who in ("user", "role"):
        if before[who]:
            unrelated = [s for d in before[who]["inline"].values() for s in _statements(d) if "s3:" not in json.dumps(s)]
            now = [s for d in after[who]["inline"].values() for s in _statements(d)]
            assert all(s in now for s in unrelated), (unrelated, now)


def assert_terraform(text, plan, before, case):
    """plan.tf parses; each resource is imported exactly when it existed; its document is plan.json's."""
    parsed = tfcheck.parse(text)
    finals = {}
    for c in plan["changes"]:
        if c["after"] is not None:
            finals[(c["kind"], c["resource"])] = c["after"]
    for (rtype, name), body in parsed["resources"].items():
        get = lambda k, body=body: tfcheck.unquote(body.get(k))  # noqa: E731
        if rtype == "aws_s3_bucket_policy":
            existed, want = before["policy"][get("bucket")] is not None, get("bucket")
            assert tfcheck.heredoc_json(body["policy"]) == finals[("bucket-policy", f"arn:aws:s3:::{want}")]
        elif rtype == "aws_s3_bucket_cors_configuration":
            existed, want = before["cors"][get("bucket")] is not None, get("bucket")
        elif rtype == "aws_s3_bucket_public_access_block":
            existed, want = before["pab"][get("bucket")] is not None, get("bucket")
        elif rtype == "aws_s3_bucket_versioning":
            existed, want = before["versioning"][get("bucket")] is not None, get("bucket")
        elif rtype == "aws_kms_key_policy":
            existed, want = get("key_id") in before["keys"], get("key_id")
        elif rtype == "aws_iam_role":
            existed, want = before["role"] is not None, get("name")
            assert tfcheck.heredoc_json(body["assume_role_policy"]) == next(
                c["after"] for c in plan["changes"] if c["kind"] == "trust-policy")
        elif rtype in ("aws_iam_role_policy", "aws_iam_user_policy"):
            who = "role" if "role" in rtype else "user"
            owner = case.role if who == "role" else case.user
            existed = before[who] is not None and get("name") in before[who]["inline"]
            want = f"{owner}:{get('name')}"
            doc = tfcheck.heredoc_json(body["policy"])
            assert doc in [c["after"] for c in plan["changes"] if c["kind"] == f"{who}-policy"]
        elif rtype.endswith("_exclusive"):
            existed, want = True, case.user or case.role
        elif rtype in ("aws_iam_access_key", "aws_iam_user"):
            existed, want = False, None
        else:
            raise AssertionError(f"unexpected resource type {rtype}")
        assert ((rtype, name) in parsed["imports"]) == existed, (rtype, name, existed)
        if existed:
            assert parsed["imports"][(rtype, name)] == want, (rtype, name, parsed["imports"][(rtype, name)])


@pytest.mark.slow
@pytest.mark.parametrize("vendor, mode, make", CASES, ids=IDS)
def test_plan_makes_a_broken_bucket_ready(moto, aws, tmp_path, capsys, vendor, mode, make):
    case = make(aws, vendor, mode)
    bucket, flags = case.bucket, case.flags
    other = _for(OTHER_STATEMENT, bucket)
    common = [vendor, f"s3://{bucket}", "--mode", mode, "--endpoint-url", moto.endpoint, "--quiet", *flags]
    code = main(["check", *common])
    # Broken: a requirement fails (NOT READY, exit 1), or only exposure does (READY, with the excess listed as a
    # warning; the exit status follows the verdict).
    said = capsys.readouterr().out
    assert "NOT READY" in said or "exposure warning" in said, said
    assert (code == 1) == ("NOT READY: " in said and "blocking finding" in said), (code, said)
    before = estate(aws, case)

    out = tmp_path / "plan"
    assert main(["plan", *common, "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Nothing has been applied" in printed
    plan = json.loads((out / "plan.json").read_text())
    assert plan["changes"], plan
    kinds = {c["kind"] for c in plan["changes"]}
    assert case.expect_kinds <= kinds and not case.forbid_kinds & kinds, kinds
    assert not [m for m in plan["manual_steps"] if not m.startswith("baseline.tls-only")], plan["manual_steps"]
    tf_text = (out / "plan.tf").read_text()
    assert tf_text.count("resource ") >= 1
    assert_terraform(tf_text, plan, before, case)
    for c in plan["changes"]:
        assert not tfcheck.unescaped_templates(c["terraform"]), c["terraform"]

    apply_plan(out)

    check_says_ready([*common, "--format", "json", "--output-dir", str(tmp_path / "after")], capsys)
    after_findings = json.loads((tmp_path / "after" / "findings.json").read_text())["findings"]
    excess = {f["bucket"]: f["status"] for f in after_findings if f["rule_id"] == "baseline.vendor-excess-privilege"}
    assert excess and set(excess.values()) == {"pass"}, excess
    for rule in ("baseline.versioning-with-delete", "baseline.block-public-access"):
        assert not [f for f in after_findings if f["rule_id"] == rule and f["status"] == "fail"], rule
    if "--metadata-bucket" in flags:  # the second bucket was checked and put right too
        meta = {f["rule_id"]: f["status"] for f in after_findings if f["bucket"] == "tenyks-meta-store"}
        assert meta["tenyks.metadata-grant"] == meta["tenyks.metadata-cors"] == "pass", meta
        assert meta["baseline.vendor-excess-privilege"] == "pass", meta

    # A second plan proposes nothing.
    again = tmp_path / "again"
    assert main(["plan", *common, "--output-dir", str(again)]) == 0
    capsys.readouterr()
    second = json.loads((again / "plan.json").read_text())
    assert second["changes"] == [], [c["title"] for c in second["changes"]]
    assert set(second["manual_steps"]) <= set(plan["manual_steps"]), second["manual_steps"]

    # Nothing that was there before is lost; nothing about the vendor got wider than its mode.
    after = estate(aws, case)
    assert other in after["policy"][bucket]["Statement"]
    assert any(r["AllowedOrigins"] == OTHER_CORS["AllowedOrigins"] for r in after["cors"][bucket])
    assert_preserved(before, after, case)
    _vendor_specific(vendor, mode, case, before, after)


def _vendor_specific(vendor, mode, case, before, after):
    bucket = case.bucket
    if vendor.startswith("v7"):
        v7 = [s for s in after["policy"][bucket]["Statement"] if _mentions(s, case.vendor_ids)]
        assert v7 and all(s["Principal"] == {"AWS": V7[vendor]} for s in v7), v7
        listing = [s for s in v7 if "s3:ListBucket" in json.dumps(s)]
        assert bool(listing) == (vendor == "v7-aws"), listing  # only .mrxs slides need a listing
        if mode == "read-write" and vendor == "v7-aws":  # the other principal of the shared statement keeps it
            assert {**before["policy"][bucket]["Statement"][-1], "Principal": {"AWS": [ANALYTICS]}} \
                in after["policy"][bucket]["Statement"]
    if vendor == "datature":
        trusted = [v for s in _statements(after["role"]["trust"]) if s.get("Principal", {}).get("AWS")
                   for v in ([s["Principal"]["AWS"]] if isinstance(s["Principal"]["AWS"], str) else s["Principal"]["AWS"])]
        assert trusted == [DATATURE], trusted  # the guide's role: never Datature's whole account
        if mode == "read-write":  # what the attached policy grants is not granted again
            actions = [a for d in after["role"]["inline"].values() for s in _statements(d)
                       for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
            assert "s3:GetObject" not in actions and "s3:GetObjectAttributes" in actions, actions
            assert after["role"]["attached"] == before["role"]["attached"]
    if vendor == "tenyks" and mode == "read-only":
        assert after["user"]["attached"] == [] and after["versioning"][bucket] is None
    if vendor == "tenyks" and "tenyks-meta-store" in case.buckets:
        assert after["versioning"]["tenyks-meta-store"] == "Enabled" and after["versioning"][bucket] is None
        assert after["pab"]["tenyks-meta-store"] == BLOCK_ALL
    elif vendor == "tenyks" and mode == "read-write":
        assert after["user"]["groups"] == [] and after["versioning"][bucket] == "Enabled"
    if vendor == "redbrick":
        docs = json.dumps(after["user"]["inline"])
        assert "arn:aws:s3:::home-bucket/${aws:username}/*" in docs and "s3:DeleteObject" not in docs, docs


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
