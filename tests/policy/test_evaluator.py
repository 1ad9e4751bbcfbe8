"""The evaluator's own cases, written from the IAM User Guide ("Policy evaluation logic",
"IAM JSON policy elements", "Condition operators", "Policy variables")."""

from __future__ import annotations

import pytest

from auditor.policy import Decision, PolicyError, Request, compile_policy, evaluate

ACCT = "111122223333"
OTHER = "444455556666"
USER = f"arn:aws:iam::{ACCT}:user/alice"
ROLE = f"arn:aws:iam::{ACCT}:role/reader"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/reader/session-1"
V7 = "arn:aws:iam::258327614892:role/external_s3"
OBJ = "arn:aws:s3:::data-bucket/images/cat.jpg"
BUCKET = "arn:aws:s3:::data-bucket"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

A, I, E, U = Decision.ALLOWED, Decision.IMPLICITLY_DENIED, Decision.EXPLICITLY_DENIED, Decision.UNKNOWN


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action="s3:GetObject", resource=OBJ, **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action="s3:GetObject", resource=OBJ, **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def req(principal=USER, ptype="iam_user", action="s3:GetObject", resource=OBJ, account=ACCT, context=None, unknown=()):
    return Request(principal, ptype, action, resource, account, context or {}, frozenset(unknown))


# --- explicit deny, implicit deny, same vs cross account -------------------------------------------------

def test_identity_allow_grants_in_the_same_account():
    assert evaluate(req(), identity_policies=[policy(allow())]).decision == A


def test_nothing_allows_means_implicit_deny():
    result = evaluate(req(), identity_policies=[policy(allow(resource=BUCKET))])
    assert result.decision == I and result.blocked_by == ("identity",)


def test_explicit_deny_wins_over_any_allow():
    result = evaluate(req(), identity_policies=[policy(allow("s3:*", "*"))],
                      resource_policy=policy(deny(Principal="*")))
    assert result.decision == E
    assert result.deciding[0].policy_type == "resource"
    assert "explicitly denied" in result.reason


def test_same_account_resource_policy_naming_the_user_grants_alone():
    rp = policy(allow(Principal={"AWS": USER}))
    assert evaluate(req(), resource_policy=rp).decision == A


def test_cross_account_needs_both_sides():
    rp = policy(allow(Principal={"AWS": V7}))
    v7 = req(V7, "iam_role")
    assert evaluate(v7, identity_policies=[ALLOW_ALL], resource_policy=rp).decision == A
    assert evaluate(v7, identity_policies=[], resource_policy=rp).decision == I       # their side does not allow
    assert evaluate(v7, identity_policies=[ALLOW_ALL], resource_policy=None).decision == I  # our side does not


def test_account_principal_root_and_bare_id_cover_the_account():
    for principal in ("arn:aws:iam::258327614892:root", "258327614892"):
        rp = policy(allow(Principal={"AWS": principal}))
        assert evaluate(req(V7, "iam_role"), identity_policies=[ALLOW_ALL], resource_policy=rp).decision == A
        assert evaluate(req(f"arn:aws:iam::{OTHER}:role/x", "iam_role"), identity_policies=[ALLOW_ALL],
                        resource_policy=rp).decision == I


def test_same_account_root_principal_delegates_to_iam():
    rp = policy(allow(Principal={"AWS": f"arn:aws:iam::{ACCT}:root"}))
    assert evaluate(req(), resource_policy=rp).decision == I
    assert evaluate(req(), identity_policies=[policy(allow())], resource_policy=rp).decision == A


def test_star_principal_and_aws_star():
    for p in ("*", {"AWS": "*"}):
        rp = policy(allow(Principal=p))
        assert evaluate(req(None, "anonymous"), resource_policy=rp).decision == (A if p == "*" else A)
        assert evaluate(req(V7, "iam_role"), identity_policies=[ALLOW_ALL], resource_policy=rp).decision == A


def test_anonymous_needs_a_resource_policy():
    assert evaluate(req(None, "anonymous"), identity_policies=[ALLOW_ALL]).decision == I


def test_service_principal():
    rp = policy(allow("s3:PutObject", Principal={"Service": "logging.s3.amazonaws.com"}))
    assert evaluate(req("logging.s3.amazonaws.com", "service", "s3:PutObject"), resource_policy=rp).decision == A
    assert evaluate(req("cloudtrail.amazonaws.com", "service", "s3:PutObject"), resource_policy=rp).decision == I


def test_assumed_role_session_matches_its_role():
    rp = policy(allow(Principal={"AWS": ROLE}))
    assert evaluate(req(SESSION, "assumed_role_session"), identity_policies=[policy(allow())],
                    resource_policy=rp).decision == A
    other = f"arn:aws:sts::{ACCT}:assumed-role/writer/s"
    assert evaluate(req(other, "assumed_role_session"), resource_policy=rp).decision == I


# --- NotAction / NotResource / NotPrincipal, wildcards ---------------------------------------------------

def test_not_action():
    p = policy({"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"})
    assert evaluate(req(), identity_policies=[p]).decision == A
    assert evaluate(req(action="s3:DeleteObject"), identity_policies=[p]).decision == I


def test_not_resource():
    p = policy({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret-bucket/*"})
    assert evaluate(req(), identity_policies=[p]).decision == A
    assert evaluate(req(resource="arn:aws:s3:::secret-bucket/k"), identity_policies=[p]).decision == I


def test_not_principal_deny_spares_only_the_named():
    rp = policy(deny(NotPrincipal={"AWS": USER}))
    assert evaluate(req(), identity_policies=[policy(allow())], resource_policy=rp).decision == A
    bob = f"arn:aws:iam::{ACCT}:user/bob"
    assert evaluate(req(bob), identity_policies=[policy(allow())], resource_policy=rp).decision == E


def test_action_wildcards_are_case_insensitive():
    for pattern in ("s3:Get*", "S3:GETOBJECT", "s3:Get?bject", "*"):
        assert evaluate(req(), identity_policies=[policy(allow(pattern))]).decision == A, pattern
    assert evaluate(req(), identity_policies=[policy(allow("s3:Put*"))]).decision == I


def test_resource_wildcards_are_case_sensitive():
    assert evaluate(req(), identity_policies=[policy(allow(resource="arn:aws:s3:::data-*/images/*"))]).decision == A
    assert evaluate(req(), identity_policies=[policy(allow(resource="arn:aws:s3:::DATA-bucket/*"))]).decision == I
    # A bucket ARN without /* does not cover its objects.
    assert evaluate(req(), identity_policies=[policy(allow(resource=BUCKET))]).decision == I


# --- boundaries, session policies, SCPs, RCPs, VPC endpoint policies -------------------------------------

def test_permission_boundary_limits_identity_grants():
    assert evaluate(req(), identity_policies=[ALLOW_ALL], permission_boundary=policy(allow("s3:*", "*"))).decision == A
    result = evaluate(req(), identity_policies=[ALLOW_ALL], permission_boundary=policy(allow("ec2:*", "*")))
    assert result.decision == I and result.blocked_by == ("permission_boundary",)


def test_session_policy_limits_a_session():
    s = req(SESSION, "assumed_role_session")
    assert evaluate(s, identity_policies=[ALLOW_ALL], session_policy=policy(allow("s3:*", "*"))).decision == A
    assert evaluate(s, identity_policies=[ALLOW_ALL], session_policy=policy(allow("ec2:*", "*"))).decision == I


def test_scp_levels_must_each_allow():
    full = policy(allow("*", "*"))
    s3_only = policy(allow("s3:*", "*"))
    assert evaluate(req(), identity_policies=[ALLOW_ALL], scps=[[full], [s3_only]]).decision == A
    result = evaluate(req(), identity_policies=[ALLOW_ALL], scps=[[full], [policy(allow("ec2:*", "*"))]])
    assert result.decision == I and result.blocked_by == ("scp",)


def test_rcp_deny():
    rcp = [[policy(allow("*", "*"), deny(Principal="*"))]]
    assert evaluate(req(), identity_policies=[ALLOW_ALL], rcps=rcp).decision == E


def test_vpc_endpoint_policy_must_allow():
    assert evaluate(req(), identity_policies=[ALLOW_ALL], vpc_endpoint_policies=[policy(allow(Principal="*"))]).decision == A
    assert evaluate(req(), identity_policies=[ALLOW_ALL],
                    vpc_endpoint_policies=[policy(allow("s3:PutObject", Principal="*"))]).decision == I


def test_kms_key_policy_must_allow_even_in_the_same_account():
    key = f"arn:aws:kms:us-east-1:{ACCT}:key/1234"
    r = req(action="kms:Decrypt", resource=key)
    assert evaluate(r, identity_policies=[ALLOW_ALL]).decision == I
    root = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "kms:*", "Resource": "*"})
    assert evaluate(r, identity_policies=[ALLOW_ALL], resource_policy=root).decision == A
    assert evaluate(r, identity_policies=[], resource_policy=root).decision == I


# --- conditions -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("condition, context, expected", [
    ({"StringEquals": {"aws:PrincipalTag/team": "ml"}}, {"aws:PrincipalTag/team": "ml"}, A),
    ({"StringEquals": {"aws:PrincipalTag/team": "ml"}}, {"aws:PrincipalTag/team": "web"}, I),
    ({"StringEquals": {"aws:principaltag/TEAM": "ml"}}, {"aws:PrincipalTag/team": "ml"}, A),  # key names: any case
    ({"StringEquals": {"aws:PrincipalTag/team": ["web", "ml"]}}, {"aws:PrincipalTag/team": "ml"}, A),  # values: OR
    ({"StringLike": {"s3:prefix": "images/*"}}, {"s3:prefix": "images/2024/"}, A),
    ({"StringNotLike": {"s3:prefix": "images/*"}}, {"s3:prefix": "images/2024/"}, I),
    ({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, {"aws:username": "alice"}, A),
    ({"NumericLessThan": {"s3:max-keys": "100"}}, {"s3:max-keys": "10"}, A),
    ({"NumericLessThan": {"s3:max-keys": "100"}}, {"s3:max-keys": "1000"}, I),
    ({"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}, {"aws:CurrentTime": "2026-06-01T00:00:00Z"}, A),
    ({"DateLessThan": {"aws:CurrentTime": "1767225600"}}, {"aws:CurrentTime": "2025-06-01T00:00:00Z"}, A),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"}, A),
    ({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "false"}, I),
    ({"BinaryEquals": {"k": "QmluYXJ5"}}, {"k": "QmluYXJ5"}, A),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.9"}, A),
    ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "2001:db8::1"}, A),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.9"}, I),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/reader*"}}, {"aws:PrincipalArn": ROLE}, A),
    ({"ArnNotEquals": {"aws:PrincipalArn": ROLE}}, {"aws:PrincipalArn": ROLE}, I),
    ({"Null": {"aws:SourceVpce": "true"}}, {}, A),
    ({"Null": {"aws:SourceVpce": "false"}}, {}, I),
    ({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}, {}, A),
    ({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}, {"aws:SourceVpce": "vpce-2"}, I),
    ({"StringEquals": {"aws:SourceVpce": "vpce-1"}}, {}, I),        # missing key: no match
    ({"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}, {}, A),     # ...but negated operators match
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["b", "z"]}, A),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["z"]}, I),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {}, I),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "b"]}, A),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "z"]}, I),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {}, A),  # vacuously true
    ({"StringEquals": {"aws:TagKeys": "a"}}, {"aws:TagKeys": ["a", "b"]}, I),  # single-valued operator, multivalued key
    ({"StringEquals": {"s3:prefix": "home/${aws:username}/"}}, {"s3:prefix": "home/alice/", "aws:username": "alice"}, A),
    ({"StringEquals": {"s3:prefix": "home/${aws:username}/"}}, {"s3:prefix": "home/bob/", "aws:username": "alice"}, I),
    ({"StringEquals": {"s3:prefix": "${aws:username, 'guest'}/"}}, {"s3:prefix": "guest/"}, A),
    ({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}, {"s3:prefix": "home/a*/x", "aws:username": "a*"}, A),
    ({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}, {"s3:prefix": "home/ab/x", "aws:username": "a*"}, I),
    ({"StringEquals": {"aws:PrincipalTag/a": "x", "aws:PrincipalTag/b": "y"}}, {"aws:PrincipalTag/a": "x"}, I),  # keys: AND
])
def test_condition_operators(condition, context, expected):
    p = policy({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition})
    assert evaluate(req(context=context), identity_policies=[p]).decision == expected


def test_policy_variable_in_resource():
    p = policy(allow("s3:GetObject", "arn:aws:s3:::home-bucket/${aws:username}/*"))
    ok = req(resource="arn:aws:s3:::home-bucket/alice/notes.txt", context={"aws:username": "alice"})
    assert evaluate(ok, identity_policies=[p]).decision == A
    other = req(resource="arn:aws:s3:::home-bucket/bob/notes.txt", context={"aws:username": "alice"})
    assert evaluate(other, identity_policies=[p]).decision == I
    assert evaluate(req(resource="arn:aws:s3:::home-bucket/alice/x"), identity_policies=[p]).decision == I


# --- unknown context --------------------------------------------------------------------------------------

def test_deny_on_an_unknown_source_ip_is_unknown():
    rp = policy(allow(Principal={"AWS": V7}),
                deny(Principal="*", Condition={"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))
    result = evaluate(req(V7, "iam_role", unknown={"aws:SourceIp"}), identity_policies=[ALLOW_ALL], resource_policy=rp)
    assert result.decision == U
    assert "aws:SourceIp" in result.reason and result.undecided_conditions


def test_allow_on_unknown_key_is_moot_when_another_statement_allows():
    rp = policy(allow(Principal={"AWS": V7}, Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
                allow(Principal={"AWS": V7}))
    result = evaluate(req(V7, "iam_role", unknown={"aws:sourceip"}), identity_policies=[ALLOW_ALL], resource_policy=rp)
    assert result.decision == A


def test_deny_on_unknown_key_is_moot_when_nothing_allows():
    rp = policy(deny(Principal="*", Condition={"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))
    result = evaluate(req(V7, "iam_role", unknown={"aws:SourceIp"}), identity_policies=[ALLOW_ALL], resource_policy=rp)
    assert result.decision in (I, E) and result.decision != A


def test_vendor_context_traps():
    """SourceVpce absent (V7 is not in your VPC), PrincipalOrgID absent (not in your organisation), HTTPS."""
    context = {"aws:SecureTransport": "true", "aws:PrincipalAccount": "258327614892"}
    v7 = req(V7, "iam_role", context=context)
    vpce_deny = policy(allow(Principal={"AWS": V7}),
                       deny(Principal="*", Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b"}}))
    assert evaluate(v7, identity_policies=[ALLOW_ALL], resource_policy=vpce_deny).decision == E
    org_only = policy(allow(Principal={"AWS": V7}, Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}))
    assert evaluate(v7, identity_policies=[ALLOW_ALL], resource_policy=org_only).decision == I
    tls = policy(allow(Principal={"AWS": V7}),
                 deny(Principal="*", Condition={"Bool": {"aws:SecureTransport": "false"}}))
    assert evaluate(v7, identity_policies=[ALLOW_ALL], resource_policy=tls).decision == A


def test_malformed_policies_raise_policy_error():
    with pytest.raises(PolicyError):
        compile_policy("{not json")
    with pytest.raises(PolicyError):
        compile_policy({"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]})
    with pytest.raises(PolicyError):
        compile_policy({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                                       "Condition": {"StringSortOf": {"k": "v"}}}]})


def test_deciding_statements_are_named():
    p = policy({"Sid": "ReadImages", **allow()})
    result = evaluate(req(), identity_policies=[compile_policy(p, "identity:team-read")])
    (ref,) = result.deciding
    assert (ref.policy, ref.sid, ref.index, ref.effect) == ("identity:team-read", "ReadImages", 0, "Allow")
    assert "ReadImages" in result.reason
