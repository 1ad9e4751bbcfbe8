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
