"""Collectors against a real moto server over HTTP, through the aioboto3 clients users run."""

from __future__ import annotations

import json

from auditor.collect import collect
from auditor.config import parse_config
from auditor.engine import evaluate
from auditor.model import Status
from auditor.rulepack import load_packs
from auditor.snapshot import dump, load
from tests.faultproxy import Fault, FaultProxy, s3_subresource

ACCOUNT = "123456789012"


def config_for(endpoint: str, extra: str = "") -> str:
    return f"""
[[accounts]]
name = "main"
endpoint_url = "{endpoint}"
{extra}
"""


def _account_pab_client(aws, endpoint):
    import boto3

    ctl = boto3.client("s3control", endpoint_url=endpoint, region_name="us-east-1")
    ctl.meta.events.register("before-sign.s3-control.*",
                             lambda request, **_: setattr(request, "url", request.url.replace(f"//{ACCOUNT}.", "//")))
    return ctl


def test_collects_bucket_iam_and_kms_state(moto, aws):
    s3, iam, kms = aws("s3"), aws("iam"), aws("kms")
    s3.create_bucket(Bucket="scans-bucket")
    s3.put_object(Bucket="scans-bucket", Key="slides/a.mrxs", Body=b"x")
    s3.put_object(Bucket="scans-bucket", Key="slides/a/Slidedat.ini", Body=b"x")
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "V7", "Effect": "Allow",
              "Principal": {"AWS": "arn:aws:iam::258327614892:role/external_s3"},
              "Action": "s3:GetObject", "Resource": "arn:aws:s3:::scans-bucket/*"}]}
    s3.put_bucket_policy(Bucket="scans-bucket", Policy=json.dumps(policy))
    s3.put_bucket_cors(Bucket="scans-bucket", CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://darwin.v7labs.com"]}]})
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/scans", TargetKeyId=key["KeyId"])
    s3.put_bucket_encryption(Bucket="scans-bucket", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}}]})
    s3.put_bucket_versioning(Bucket="scans-bucket", VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(Bucket="scans-bucket", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True})
    _account_pab_client(aws, moto.endpoint).put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    iam.create_user(UserName="tenyks-reader")
    iam.create_access_key(UserName="tenyks-reader")
    iam.create_group(GroupName="readers")
    iam.add_user_to_group(GroupName="readers", UserName="tenyks-reader")
    iam.put_group_policy(GroupName="readers", PolicyName="read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    iam.create_role(RoleName="datature", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::277710232653:root"}, "Action": "sts:AssumeRole"}]}))
    arn = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="datature", PolicyArn=arn)

    config = parse_config(config_for(moto.endpoint) + """
[[integrations]]
vendor = "tenyks"
account = "main"
bucket = "scans-bucket"
user = "tenyks-reader"
dataset = "cats"
images_dir = "images"
""")
    snap = collect(config)
    (account,) = snap.accounts
    assert account.account_id == ACCOUNT
    assert account.public_access_block == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                           "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    bucket = account.bucket("scans-bucket")
    assert bucket.errors == ()
    assert bucket.region == "us-east-1"
    assert bucket.policy == policy
    assert bucket.cors[0]["AllowedOrigins"] == ["https://darwin.v7labs.com"]
    assert bucket.encryption[0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key["Arn"]
    assert bucket.versioning == "Enabled"
    assert bucket.public_access_block["BlockPublicPolicy"] is False
    assert {o.key for o in bucket.objects} == {"slides/a.mrxs", "slides/a/Slidedat.ini"}
    assert [(listing.prefix, listing.keys_seen) for listing in bucket.listings][0] == ("", 2)
    user = account.user("tenyks-reader")
    assert user.groups == ("readers",)
    assert [k.status for k in user.access_keys] == ["Active"]
    assert account.group("readers").inline[0].document["Statement"][0]["Action"] == "s3:GetObject"
    role = account.role("datature")
    assert role.trust_policy["Statement"][0]["Principal"]["AWS"] == "arn:aws:iam::277710232653:root"
    assert role.attached[0].arn == arn and account.managed_policies[arn]["Statement"][0]["Action"] == "s3:ListBucket"
    (kstate,) = account.keys
    assert kstate.key_id == key["KeyId"] and kstate.manager == "CUSTOMER" and "alias/scans" in kstate.aliases
    assert kstate.policy["Statement"]
    assert account.key(key["Arn"]) is kstate

    # The snapshot round-trips through JSON unchanged.
    assert load(dump(snap)) == snap


def test_unconfigured_settings_are_none_not_errors(moto, aws):
    aws("s3").create_bucket(Bucket="bare-bucket")
    snap = collect(parse_config(config_for(moto.endpoint)))
    bucket = snap.accounts[0].bucket("bare-bucket")
    assert bucket.errors == ()
    assert (bucket.policy, bucket.cors, bucket.encryption, bucket.public_access_block) == (None, None, None, None) or \
        bucket.encryption is not None  # some emulator versions apply SSE-S3 by default, as AWS does since 2023
    assert bucket.policy is None and bucket.cors is None and bucket.public_access_block is None


def test_denied_policy_and_cors_calls_make_rules_unknown_not_pass(moto, aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="locked-bucket")
    s3.put_bucket_cors(Bucket="locked-bucket", CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]})
    proxy = FaultProxy(moto.endpoint, [Fault(s3_subresource("policy")), Fault(s3_subresource("cors"))])
    url = proxy.start()
    try:
        snap = collect(parse_config(config_for(url) + """
[[integrations]]
vendor = "v7-aws"
account = "main"
bucket = "locked-bucket"
"""))
    finally:
        proxy.stop()
    bucket = snap.accounts[0].bucket("locked-bucket")
    assert {(e.api, e.code) for e in bucket.errors} == {("GetBucketPolicy", "AccessDenied"), ("GetBucketCors", "AccessDenied")}
    findings = {f.rule_id: f for f in evaluate(snap, load_packs()) if f.bucket == "locked-bucket"}
    for rule in ("v7-aws.cors", "baseline.cors-wildcard-origin"):
        assert findings[rule].status == Status.UNKNOWN, rule
        assert "GetBucketCors failed with AccessDenied" in findings[rule].message
    # Rules that need neither call still give an answer.
    assert findings["v7-aws.bucket-name"].status == Status.PASS


def test_account_that_cannot_be_assumed_is_skipped_and_others_go_on(moto, aws):
    aws("s3").create_bucket(Bucket="still-scanned")
    # The partner account's only POST before it is open is STS AssumeRole: refuse it.
    proxy = FaultProxy(moto.endpoint, [Fault(lambda r: r.method == "POST", status=403, code="AccessDenied",
                                             message="not authorized to perform sts:AssumeRole")])
    url = proxy.start()
    try:
        config = parse_config(config_for(moto.endpoint) + f"""
[[accounts]]
name = "partner"
role_arn = "arn:aws:iam::210987654321:role/AuditReadOnly"
external_id = "abc"
endpoint_url = "{url}"
""")
        snap = collect(config)
    finally:
        proxy.stop()
    assert [a.name for a in snap.accounts] == ["main"]
    assert snap.accounts[0].bucket("still-scanned") is not None
    (skipped,) = snap.skipped
    assert skipped.name == "partner"
    assert "arn:aws:iam::210987654321:role/AuditReadOnly" in skipped.reason and "AccessDenied" in skipped.reason


def test_assume_role_with_external_id(moto, aws):
    iam = aws("iam")
    iam.create_role(RoleName="AuditReadOnly", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}))
    aws("s3").create_bucket(Bucket="assumed-bucket")
    snap = collect(parse_config(config_for(moto.endpoint, f'role_arn = "arn:aws:iam::{ACCOUNT}:role/AuditReadOnly"\n'
                                                          'external_id = "abc"')))
    assert snap.skipped == ()
    assert snap.accounts[0].bucket("assumed-bucket") is not None


def test_an_iam_answer_that_cannot_be_read_is_recorded_and_the_scan_goes_on(moto, aws):
    import re

    aws("s3").create_bucket(Bucket="still-decided")
    iam = aws("iam")
    iam.create_user(UserName="tenyks-reader")
    iam.put_user_policy(UserName="tenyks-reader", PolicyName="read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))

    def broken_document(xml: bytes) -> bytes:
        return re.sub(rb"<PolicyDocument>[^<]*</PolicyDocument>", b"<PolicyDocument>%7Bnot-json</PolicyDocument>",
                      xml, count=1)

    proxy = FaultProxy(moto.endpoint, [Fault(lambda r: r.method == "POST", status=0, rewrite=broken_document,
                                             body_contains=b"Action=GetAccountAuthorizationDetails")])
    url = proxy.start()
    try:
        snap = collect(parse_config(config_for(url) + """
[[integrations]]
vendor = "tenyks"
account = "main"
bucket = "still-decided"
user = "tenyks-reader"
dataset = "cats"
images_dir = "images"
"""))
    finally:
        proxy.stop()
    assert proxy.faults[0].hits >= 1
    (acct,) = snap.accounts
    err = acct.error("GetAccountAuthorizationDetails")
    assert err is not None and err.code == "MalformedResponse" and "JSONDecodeError" in err.message
    found = {f.rule_id: f for f in evaluate(snap, load_packs())}
    assert found["tenyks.read-grant"].status == Status.UNKNOWN
    assert "MalformedResponse" in found["tenyks.read-grant"].message
    assert found["baseline.cors-wildcard-origin"].status == Status.PASS


def test_an_answer_the_collector_cannot_use_is_recorded_on_that_call(moto, aws):
    import re

    aws("s3").create_bucket(Bucket="nameless-in-listing")
    # ListBuckets answered with a bucket entry that has no name: the other account is still scanned.
    proxy = FaultProxy(moto.endpoint, [Fault(lambda r: r.method == "GET" and r.path == "/", status=0,
                                             rewrite=lambda xml: re.sub(rb"<Name>[^<]*</Name>", b"", xml))])
    url = proxy.start()
    try:
        snap = collect(parse_config(config_for(moto.endpoint) + f"""
[[accounts]]
name = "odd"
endpoint_url = "{url}"
"""))
    finally:
        proxy.stop()
    # The account is scanned; the unusable answer is a failed ListBuckets there, nothing more.
    assert [a.name for a in snap.accounts] == ["main", "odd"] and snap.skipped == ()
    odd = snap.accounts[1]
    err = odd.error("ListBuckets")
    assert err is not None and err.code == "MalformedResponse" and "no name" in err.message
    assert snap.accounts[0].error("ListBuckets") is None


def _organization(aws):
    org = aws("organizations")
    org.create_organization(FeatureSet="ALL")  # the caller's account (moto's 123456789012) is the management one
    return [org.create_account(AccountName=n, Email=f"{n}@example.com")["CreateAccountStatus"]["AccountId"]
            for n in ("dev", "prod")]


def test_organization_alone_scans_the_management_account_and_every_member(moto, aws):
    members = _organization(aws)
    for name in ("mgmt-a", "mgmt-b", "mgmt-c"):
        aws("s3").create_bucket(Bucket=name)
    # The member role exists only in the members (as OrganizationAccountAccessRole does): assuming it in the
    # management account is refused. The management account is scanned with the organization's own credentials.
    proxy = FaultProxy(moto.endpoint, [Fault(lambda r: r.method == "POST", status=403, code="AccessDenied",
                                             body_contains=f"{ACCOUNT}%3Arole%2FAuditReadOnly".encode())])
    url = proxy.start()
    try:
        snap = collect(parse_config(f'[organization]\nrole_name = "AuditReadOnly"\nendpoint_url = "{url}"\n'))
    finally:
        proxy.stop()
    assert sorted(a.account_id for a in snap.accounts) == sorted([ACCOUNT, *members]), snap.skipped
    assert not snap.skipped
    (mgmt,) = [a for a in snap.accounts if a.account_id == ACCOUNT]
    assert sorted(b.name for b in mgmt.buckets) == ["mgmt-a", "mgmt-b", "mgmt-c"]


def test_an_account_listed_twice_is_collected_once(moto, aws):
    from auditor.scan import evaluate_snapshot

    members = _organization(aws)
    s3 = aws("s3")
    for name in ("mgmt-a", "mgmt-b", "mgmt-c"):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_policy(Bucket="mgmt-a", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::258327614892:role/external_s3"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mgmt-a/*"}]}))
    # The management account is listed as [[accounts]] (twice, under two labels) and again by the organization.
    config = parse_config(f"""
[[accounts]]
name = "mgmt"
endpoint_url = "{moto.endpoint}"

[[accounts]]
name = "mgmt-again"
endpoint_url = "{moto.endpoint}"

[[integrations]]
vendor = "v7-aws"
account = "mgmt-again"
bucket = "mgmt-a"

[organization]
role_name = "AuditReadOnly"
endpoint_url = "{moto.endpoint}"
""")
    snap = collect(config)
    ids = [a.account_id for a in snap.accounts]
    assert sorted(ids) == sorted([ACCOUNT, *members]), ids
    result = evaluate_snapshot(snap, config.rule_packs())
    assert result.buckets == 3
    # The integration named the account by its other label: it is still checked, once.
    grants = [f for f in result.findings if f.rule_id == "v7-aws.read-grant"]
    assert [(f.bucket, f.status, f.inferred) for f in grants] == [("mgmt-a", Status.PASS, False)]
