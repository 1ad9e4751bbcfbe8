"""Faults found by differential testing, each with the twin that must keep its answer.

IAM User Guide: "AWS global condition context keys" (aws:PrincipalArn of a role session is the
role's ARN), "IAM policy elements: Variables and tags" (variables need Version 2012-10-17).
"""

from __future__ import annotations

from auditor.policy import Decision, Request, evaluate

ACCT = "111122223333"
OTHER = "444455556666"
BUCKET = "arn:aws:s3:::data-bucket"
OBJ = f"{BUCKET}/home/alice/cat.jpg"
PATH_ROLE = f"arn:aws:iam::{ACCT}:role/teams/ml/reader"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/reader/job-42"
USER = f"arn:aws:iam::{ACCT}:user/alice"

A, I, E, U = Decision.ALLOWED, Decision.IMPLICITLY_DENIED, Decision.EXPLICITLY_DENIED, Decision.UNKNOWN


def policy(*statements, version="2012-10-17"):
    doc = {"Statement": list(statements)}
    if version:
        doc["Version"] = version
    return doc


def session_req(context=None, account=ACCT):
    return Request(SESSION, "assumed_role_session", "s3:GetObject", OBJ, account, context or {})


# --- a session of a role with a path -------------------------------------------------------------------

def test_session_of_a_role_with_a_path_matches_a_resource_policy_naming_the_role():
    rp = policy({"Effect": "Allow", "Principal": {"AWS": PATH_ROLE}, "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"})
    result = evaluate(session_req({"aws:PrincipalArn": PATH_ROLE}, account=OTHER),
                      identity_policies=[policy({"Effect": "Allow", "Action": "*", "Resource": "*"})],
                      resource_policy=rp)
    assert result.decision == A, result.reason


def test_session_of_a_role_with_a_path_is_denied_by_a_deny_naming_the_role():
    rp = policy({"Effect": "Deny", "Principal": {"AWS": PATH_ROLE}, "Action": "s3:*", "Resource": f"{BUCKET}/*"})
    result = evaluate(session_req({"aws:PrincipalArn": PATH_ROLE}),
                      identity_policies=[policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})],
                      resource_policy=rp)
    assert result.decision == E


def test_session_does_not_match_a_role_of_the_same_name_on_another_path():
    other_path = f"arn:aws:iam::{ACCT}:role/teams/ops/reader"
    rp = policy({"Effect": "Allow", "Principal": {"AWS": other_path}, "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"})
    result = evaluate(session_req({"aws:PrincipalArn": PATH_ROLE}, account=OTHER),
                      identity_policies=[policy({"Effect": "Allow", "Action": "*", "Resource": "*"})],
                      resource_policy=rp)
    assert result.decision == I


def test_session_without_a_path_still_matches_its_role():
    plain = f"arn:aws:iam::{ACCT}:role/reader"
    rp = policy({"Effect": "Allow", "Principal": {"AWS": plain}, "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"})
    assert evaluate(session_req(account=OTHER), identity_policies=[policy({"Effect": "Allow", "Action": "*",
                                                                            "Resource": "*"})],
                    resource_policy=rp).decision == A


# --- variables without Version -------------------------------------------------------------------------

def _home(version):
    return policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/home/${{aws:username}}/*"},
                  version=version)


def test_variables_are_substituted_with_version_2012():
    r = Request(USER, "iam_user", "s3:GetObject", OBJ, ACCT, {"aws:username": "alice"})
    assert evaluate(r, identity_policies=[_home("2012-10-17")]).decision == A


def test_variables_stay_literal_without_version():
    r = Request(USER, "iam_user", "s3:GetObject", OBJ, ACCT, {"aws:username": "alice"})
    assert evaluate(r, identity_policies=[_home(None)]).decision == I
    assert evaluate(r, identity_policies=[_home("2008-10-17")]).decision == I
    literal = Request(USER, "iam_user", "s3:GetObject", f"{BUCKET}/home/${{aws:username}}/x", ACCT,
                      {"aws:username": "alice"})
    assert evaluate(literal, identity_policies=[_home(None)]).decision == A


def test_condition_variables_stay_literal_without_version():
    st = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET,
          "Condition": {"StringEquals": {"s3:prefix": "home/${aws:username}/"}}}
    ctx = {"aws:username": "alice", "s3:prefix": "home/alice/"}
    r = Request(USER, "iam_user", "s3:ListBucket", BUCKET, ACCT, ctx)
    assert evaluate(r, identity_policies=[policy(st)]).decision == A
    assert evaluate(r, identity_policies=[policy(st, version=None)]).decision == I


# --- a variable whose key is unknown -------------------------------------------------------------------

def test_variable_naming_an_unknown_key_makes_the_answer_unknown():
    st = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/home/${{aws:PrincipalTag/team}}/*"}
    r = Request(USER, "iam_user", "s3:GetObject", OBJ, ACCT, {}, frozenset({"aws:PrincipalTag/team"}))
    result = evaluate(r, identity_policies=[policy(st)])
    assert result.decision == U
    assert "aws:PrincipalTag/team" in result.undecided_keys


def test_variable_naming_an_absent_key_does_not_match():
    st = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/home/${{aws:PrincipalTag/team}}/*"}
    r = Request(USER, "iam_user", "s3:GetObject", OBJ, ACCT, {})
    assert evaluate(r, identity_policies=[policy(st)]).decision == I


def test_condition_variable_naming_an_unknown_key_is_undecided_and_a_known_one_decides():
    st = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
          "Condition": {"StringEquals": {"s3:ExistingObjectTag/owner": "${aws:PrincipalTag/team}"}}}
    unknown = Request(USER, "iam_user", "s3:GetObject", OBJ, ACCT, {"s3:ExistingObjectTag/owner": "ml"},
                      frozenset({"aws:PrincipalTag/team"}))
    result = evaluate(unknown, identity_policies=[policy(st)])
    assert result.decision == U and result.undecided_keys == ("aws:PrincipalTag/team",)
    known = Request(USER, "iam_user", "s3:GetObject", OBJ, ACCT,
                    {"s3:ExistingObjectTag/owner": "ml", "aws:PrincipalTag/team": "ml"})
    assert evaluate(known, identity_policies=[policy(st)]).decision == A


def test_unknown_variable_in_a_negated_deny_is_undecided():
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*",
            "Condition": {"StringNotEquals": {"s3:ExistingObjectTag/owner": "${aws:PrincipalTag/team}"}}}
    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    r = Request(USER, "iam_user", "s3:GetObject", OBJ, ACCT, {"s3:ExistingObjectTag/owner": "ml"},
                frozenset({"aws:principaltag/team"}))
    assert evaluate(r, identity_policies=[policy(allow, deny)]).decision == U


# --- an undecided Deny where nothing allows ------------------------------------------------------------

def test_undecided_deny_where_nothing_allows_is_not_reported_as_plain_implicit_deny():
    deny = {"Sid": "OnlyOffice", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"{BUCKET}/*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}
    r = Request(USER, "iam_user", "s3:GetObject", OBJ, ACCT, {}, frozenset({"aws:SourceIp"}))
    result = evaluate(r, resource_policy=policy(deny))
    assert result.decision != A and result.decision != U
    assert not result.reason.startswith("implicitly denied")
    assert "OnlyOffice" in result.reason and "aws:SourceIp" in result.reason
    assert any(ref.sid == "OnlyOffice" for ref in result.deciding)


def test_certain_deny_keeps_the_plain_explicit_reason():
    deny = {"Sid": "Never", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"{BUCKET}/*"}
    r = Request(USER, "iam_user", "s3:GetObject", OBJ, ACCT, {}, frozenset({"aws:SourceIp"}))
    result = evaluate(r, resource_policy=policy(deny))
    assert result.decision == E and result.reason.startswith("explicitly denied by")


def test_nothing_allows_and_no_deny_is_implicit():
    r = Request(USER, "iam_user", "s3:GetObject", OBJ, ACCT, {}, frozenset({"aws:SourceIp"}))
    result = evaluate(r, identity_policies=[policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET})])
    assert result.decision == I and result.reason.startswith("implicitly denied")
