"""AWS's definition of a public bucket policy, and action expansion."""

from __future__ import annotations

import pytest

from auditor.policy import expand_actions, is_public_policy


def bp(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def grant(principal="*", **extra):
    return {"Sid": "S", "Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*", **extra}


@pytest.mark.parametrize("policy, public", [
    (bp(grant()), True),
    (bp(grant({"AWS": "*"})), True),
    (bp({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:*", "Resource": "*"}), True),
    (bp(grant(Condition={"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c"}})), False),
    (bp(grant(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}})), False),
    (bp(grant(Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})), False),
    (bp(grant(Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})), True),
    (bp(grant(Condition={"StringLike": {"aws:SourceVpce": "vpce-*"}})), True),  # not a fixed value
    (bp(grant(Condition={"Bool": {"aws:SecureTransport": "true"}})), True),  # TLS does not narrow who
    (bp(grant({"AWS": "arn:aws:iam::258327614892:role/external_s3"})), False),
    (bp({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}), False),
    (None, False),
])
def test_public_policy(policy, public):
    result, statements = is_public_policy(policy)
    assert result is public
    assert bool(statements) is public


def test_expand_actions_uses_the_catalogue_and_aws_casing():
    gets = expand_actions("s3:Get*")
    assert "s3:GetObject" in gets and "s3:GetBucketPolicy" in gets
    assert "s3:PutObject" not in gets
    assert expand_actions("S3:getobject") == frozenset({"s3:GetObject"})
    assert {"s3:PutObject", "s3:DeleteObject", "s3:PutBucketPolicy"} <= expand_actions("s3:*")


def test_expand_actions_knows_current_s3_actions():
    # Added to S3 after 2023: object annotations, UpdateObjectEncryption. The old catalogue lacked them.
    star = expand_actions("s3:*")
    assert {"s3:PutObjectAnnotation", "s3:DeleteObjectAnnotation", "s3:UpdateObjectEncryption"} <= star
    assert expand_actions("s3:*Annotation") >= {"s3:PutObjectAnnotation", "s3:DeleteObjectAnnotation"}
    assert "s3:GetObject" not in expand_actions("s3:*Annotation")
    assert expand_actions("s3:NoSuchAction*") == frozenset()
    assert "kms:Decrypt" in expand_actions("*") and "kms:Decrypt" in expand_actions("km?:Decrypt")


def test_condition_keys_an_action_can_carry():
    from auditor.policy.actions import can_carry

    assert can_carry("s3:GetObject", "s3:x-amz-acl") is False
    assert can_carry("s3:PutObject", "s3:x-amz-acl") is True
    assert can_carry("s3:GetBucketAcl", "s3:delimiter") is False
    assert can_carry("s3:ListBucket", "s3:delimiter") is True
    assert can_carry("s3:GetObject", "S3:EXISTINGOBJECTTAG/team") is True  # templated key, any case
    assert can_carry("kms:Decrypt", "kms:EncryptionContext:aws:s3:arn") is True
    assert can_carry("s3:GetObject", "kms:ViaService") is False  # another service's key
    assert can_carry("s3:GetObject", "aws:SourceIp") is None  # global: the catalogue cannot say
    assert can_carry("s3:NoSuchAction", "s3:prefix") is None


def test_arns_are_parsed_in_one_place():
    from auditor.policy.arns import arn_account, arn_region, parse_arn, session_parts

    assert arn_account("arn:aws:iam::111122223333:role/team/r") == "111122223333"
    assert arn_account("111122223333") == "111122223333"
    assert arn_account("arn:aws:s3:::bucket") is None and arn_account("not-an-arn") is None
    assert arn_region("arn:aws:kms:eu-west-1:111122223333:key/k") == "eu-west-1"
    assert arn_region("arn:aws:s3:::bucket") is None
    assert parse_arn("arn:aws:s3:::b/k/with:colon").resource == "b/k/with:colon"
    assert session_parts("arn:aws:sts::111122223333:assumed-role/r/s") == ("aws", "111122223333", "r", "s")
    assert session_parts("arn:aws:iam::111122223333:role/r") is None
