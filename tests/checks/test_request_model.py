"""The vendor's real request decides: keys its request fixes are decided, keys its action can never
carry are absent, and only values nobody but the vendor knows leave an answer unknown — named."""

from __future__ import annotations

from auditor.model import Status
from auditor.policy import Request, evaluate
from auditor.policy.requestctx import REST_HEADER, REST_QUERY_STRING, Caller, describe_key, direct, kms_via_s3

from .snap import ACCT, V7_ROLE, account, bucket, integ, one, policy, snapshot

B = "radiology-scans"
OBJ = f"arn:aws:s3:::{B}/*"
GRANT = {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": OBJ}


def deny(condition, action="s3:*", sid="Guard"):
    return {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": action, "Resource": [f"arn:aws:s3:::{B}", OBJ],
            "Condition": condition}


def v7(*statements, mode="read-only", vendor="v7-aws"):
    return snapshot(account(bucket(B, policy=policy(*statements))), integrations=(integ(vendor, B, mode),))


def read(*statements, **kw):
    return one(v7(*statements, **kw), "v7-aws.read-grant")


# --- how the vendor reaches the bucket ------------------------------------------------------------------

def test_deny_outside_the_customers_vpc_applies_to_the_vendor():
    for key, value in (("aws:SourceVpc", "vpc-111"), ("aws:SourceVpce", "vpce-111"), ("aws:VpcSourceIp", "10.0.0.0/8")):
        op = "NotIpAddress" if key == "aws:VpcSourceIp" else "StringNotEquals"
        f = read(GRANT, deny({op: {key: value}}))
        assert f.status == Status.FAIL, (key, f.message)
        assert "Guard" in f.remediation


def test_deny_only_from_the_customers_vpc_does_not_touch_the_vendor():
    for key, value in (("aws:SourceVpc", "vpc-111"), ("aws:SourceVpce", "vpce-111")):
        f = read(GRANT, deny({"StringEquals": {key: value}}))
        assert f.status == Status.PASS, (key, f.message)


def test_access_point_only_access_excludes_the_vendors_direct_request():
    via_ap = {**GRANT, "Condition": {"StringEquals": {"s3:DataAccessPointAccount": ACCT}}}
    assert read(via_ap).status == Status.FAIL
    assert read(GRANT, deny({"StringLike": {"s3:DataAccessPointArn": "arn:aws:s3:*:*:accesspoint/*"}})).status == Status.PASS


def test_resource_account_is_the_bucket_owner():
    assert read(GRANT, deny({"StringNotEquals": {"s3:ResourceAccount": ACCT}})).status == Status.PASS
    assert read(GRANT, deny({"StringNotEquals": {"s3:ResourceAccount": "999999999999"}})).status == Status.FAIL


# --- presigned browser requests and the back end --------------------------------------------------------

def test_presigned_browser_reads_and_back_end_reads_must_both_work():
    f = read(GRANT, deny({"StringEquals": {"s3:authType": REST_QUERY_STRING}}, sid="NoPresigned"))
    assert f.status == Status.FAIL and "NoPresigned" in f.remediation
    assert any("presigned" in c.get("note", "") for c in f.evidence["checked"])
    assert read(GRANT, deny({"StringEquals": {"s3:authType": REST_HEADER}})).status == Status.FAIL
    assert read(GRANT).status == Status.PASS


def test_a_vendor_without_browser_access_is_asked_only_as_a_back_end():
    # RedBrick renders through presigned URLs; Tenyks's guide says nothing of the kind.
    from .snap import user

    u = user("tenyks-reader", policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                      "Resource": [f"arn:aws:s3:::{B}/cats/*", f"arn:aws:s3:::{B}"]}))
    no_presign = deny({"StringEquals": {"s3:authType": REST_QUERY_STRING}})
    s = snapshot(account(bucket(B, policy=policy(no_presign), keys=("cats/images/a.jpg",)), users=(u,)),
                 integrations=(integ("tenyks", B, user="tenyks-reader", dataset="cats", images_dir="images"),))
    assert one(s, "tenyks.read-grant").status == Status.PASS


# --- keys the action never carries ----------------------------------------------------------------------

def test_a_request_key_the_action_cannot_carry_is_absent_not_unknown():
    public_acl = deny({"StringEquals": {"s3:x-amz-acl": "public-read"}}, sid="NoPublicAcl")
    f = read(GRANT, public_acl)
    assert f.status == Status.PASS, f.message  # GetObject never carries s3:x-amz-acl


def test_the_same_key_on_an_action_that_carries_it_stays_unknown_and_is_named():
    public_acl = deny({"StringEquals": {"s3:x-amz-acl": "public-read"}}, sid="NoPublicAcl")
    snap = v7(GRANT, public_acl, mode="read-write")
    w = one(snap, "v7-aws.write-grant")
    assert w.status == Status.UNKNOWN  # PutObject: the vendor may send the header
    assert "s3:x-amz-acl (a header the vendor sends)" in w.message


def test_only_the_vendors_source_ip_leaves_the_answer_unknown_and_the_message_names_it():
    ip_only = {**GRANT, "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}
    f = read(ip_only)
    assert f.status == Status.UNKNOWN
    assert "aws:SourceIp (the IP address the vendor's requests come from)" in f.message


# --- the builder on its own -----------------------------------------------------------------------------

VENDOR = Caller(V7_ROLE, "iam_role", "258327614892", "external_s3", outside_org=True)


def test_direct_request_context():
    rc = direct(VENDOR, "s3:GetObject", resource_account=ACCT, region="eu-west-1", time="2026-01-01T00:00:00Z")
    assert rc.context["s3:ResourceAccount"] == ACCT and rc.context["s3:authType"] == REST_HEADER
    assert rc.context["aws:SecureTransport"] == "true" and rc.context["aws:EpochTime"] == "1767225600"
    keys = ["aws:SourceIp", "aws:SourceVpce", "aws:PrincipalOrgID", "s3:x-amz-acl", "s3:ExistingObjectTag/team",
            "s3:DataAccessPointArn", "aws:PrincipalTag/team"]
    assert rc.unknown_keys(keys) == {"aws:SourceIp", "s3:ExistingObjectTag/team", "aws:PrincipalTag/team"}
    own = Caller(f"arn:aws:iam::{ACCT}:user/u", "iam_user", ACCT, "u", outside_org=False)
    assert "aws:PrincipalOrgID" in direct(own, "s3:GetObject", resource_account=ACCT).unknown_keys(keys)
    assert direct(own, "s3:GetObject", resource_account=ACCT).context["aws:username"] == "u"


def test_listing_without_a_prefix_carries_no_prefix():
    rc = direct(VENDOR, "s3:ListBucket", resource_account=ACCT)
    assert "s3:prefix" not in rc.unknown_keys(["s3:prefix"]) and "s3:delimiter" in rc.unknown_keys(["s3:delimiter"])
    assert direct(VENDOR, "s3:GetBucketAcl", resource_account=ACCT).unknown_keys(["s3:delimiter"]) == {"aws:SourceIp"}


def test_kms_via_s3_context_decides_the_usual_key_policy_conditions():
    rc = kms_via_s3(VENDOR, "kms:Decrypt", key_account=ACCT, region="eu-west-1",
                    encryption_context_arn=f"arn:aws:s3:::{B}/a.png")
    key_policy = policy({"Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "kms:Decrypt", "Resource": "*",
                         "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com",
                                                        "kms:CallerAccount": "258327614892"},
                                       "StringLike": {"kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{B}/*"},
                                       "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["aws:s3:arn"]}}})
    keys = ["kms:ViaService", "kms:CallerAccount", "kms:EncryptionContext:aws:s3:arn", "kms:EncryptionContextKeys",
            "kms:GrantIsForAWSResource"]
    assert rc.unknown_keys(keys) == {"aws:SourceIp"}
    req = Request(V7_ROLE, "iam_role", "kms:Decrypt", f"arn:aws:kms:eu-west-1:{ACCT}:key/k", ACCT, rc.context,
                  rc.unknown_keys(keys), "258327614892")
    assert evaluate(req, identity_policies=[policy({"Effect": "Allow", "Action": "*", "Resource": "*"})],
                    resource_policy=key_policy).allowed


def test_describe_key_names_the_value():
    assert describe_key("aws:SourceIp") == "aws:SourceIp (the IP address the vendor's requests come from)"
    assert describe_key("aws:RequestTag/team").endswith("(a tag the vendor sends with the request)")
    assert describe_key("custom:key") == "custom:key"


def test_no_grant_and_an_undecided_deny_fails_naming_both():
    office_only = deny({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, sid="OfficeOnly")
    f = read(office_only)
    assert f.status == Status.FAIL
    assert "implicitly denied" not in f.message and "OfficeOnly" in f.message
    assert "OfficeOnly" in f.remediation and "DarwinAccess" in f.remediation  # narrow the Deny and add the grant


def test_tls_version_is_1_2_or_1_3_so_a_deny_below_1_2_never_applies():
    # AWS's own recommendation for enforcing TLS 1.2 (S3 User Guide); AWS API endpoints refuse older TLS.
    below_12 = deny({"NumericLessThan": {"s3:TlsVersion": "1.2"}}, sid="EnforceTls12")
    assert read(GRANT, below_12).status == Status.PASS
    # Requiring 1.3 hangs on the vendor's client: unknown, naming the key and what each value gives.
    below_13 = deny({"NumericLessThan": {"s3:TlsVersion": "1.3"}}, sid="EnforceTls13")
    f = read(GRANT, below_13)
    assert f.status == Status.UNKNOWN
    assert "s3:TlsVersion (the TLS version of the vendor's client)" in f.message and "s3:TlsVersion=1.2" in f.message


def test_policy_keys_include_the_keys_variables_name_under_version_2012_only():
    from auditor.policy.requestctx import policy_keys

    st = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/team}/*",
          "Condition": {"StringEquals": {"s3:ExistingObjectTag/owner": "${aws:username}"}}}
    assert policy_keys([policy(st)]) == {"s3:ExistingObjectTag/owner", "aws:PrincipalTag/team", "aws:username"}
    assert policy_keys([{"Statement": [st]}]) == {"s3:ExistingObjectTag/owner"}  # literal without Version


# --- Block Public Access ----------------------------------------------------------------------------------

PUBLIC_SITE = {"Sid": "PublicSite", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
               "Resource": f"arn:aws:s3:::{B}/public/*"}
RESTRICT = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True}


def _with_bpa(*statements, bucket_bpa=None, account_bpa=None, errors=(), account_errors=()):
    from auditor.model import ApiError  # noqa: F401  (errors are ApiError values)

    b = bucket(B, policy=policy(*statements), public_access_block=bucket_bpa, errors=errors)
    return one(snapshot(account(b, public_access_block=account_bpa, errors=account_errors),
                        integrations=(integ("v7-aws", B),)), "v7-aws.read-grant")


def test_restrict_public_buckets_on_a_public_policy_shuts_out_the_vendors_account():
    """AWS S3 User Guide, "Blocking public access": RestrictPublicBuckets on a bucket with a public policy
    blocks cross-account access, "including non-public delegation to specific accounts"."""
    for where in ("bucket_bpa", "account_bpa"):
        f = _with_bpa(GRANT, PUBLIC_SITE, **{where: RESTRICT})
        assert f.status == Status.FAIL, (where, f.message)
        assert "RestrictPublicBuckets" in f.message and "PublicSite" in f.message, f.message
    # Not public, or the setting off: the vendor's grant works.
    assert _with_bpa(GRANT, bucket_bpa=RESTRICT).status == Status.PASS
    assert _with_bpa(GRANT, PUBLIC_SITE, bucket_bpa={**RESTRICT, "RestrictPublicBuckets": False}).status == Status.PASS


def test_restrict_public_buckets_unread_leaves_a_public_buckets_vendor_access_unknown():
    from auditor.model import ApiError

    refused = (ApiError("GetPublicAccessBlock", "AccessDenied", "not authorised"),)
    f = _with_bpa(GRANT, PUBLIC_SITE, errors=refused)
    assert f.status == Status.UNKNOWN, f.message
    assert "GetPublicAccessBlock" in f.message and "RestrictPublicBuckets" in f.message, f.message
    # Read where it is set decides even when the other level could not be read; without a public
    # statement the setting does not matter.
    assert _with_bpa(GRANT, PUBLIC_SITE, errors=refused, account_bpa=RESTRICT).status == Status.FAIL
    assert _with_bpa(GRANT, errors=refused).status == Status.PASS
