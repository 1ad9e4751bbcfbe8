"""Laws every correct evaluator obeys, checked on generated policies (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.policy import Decision, Request, evaluate

ACCT, OTHER = "111122223333", "444455556666"
PRINCIPALS = [(f"arn:aws:iam::{ACCT}:user/alice", "iam_user"), (f"arn:aws:iam::{OTHER}:role/vendor", "iam_role"),
              (f"arn:aws:sts::{ACCT}:assumed-role/reader/s", "assumed_role_session"), (None, "anonymous")]
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"]
RESOURCES = ["arn:aws:s3:::data/images/a.jpg", "arn:aws:s3:::data/other/b.txt", "arn:aws:s3:::data"]

actions = st.sampled_from(["s3:GetObject", "s3:Get*", "s3:*", "*", "s3:PutObject", "s3:List*", "s3:DeleteObject"])
resources = st.sampled_from(["*", "arn:aws:s3:::data/*", "arn:aws:s3:::data", "arn:aws:s3:::data/images/*",
                             "arn:aws:s3:::other/*"])
principals = st.sampled_from(["*", {"AWS": f"arn:aws:iam::{ACCT}:user/alice"}, {"AWS": OTHER},
                              {"AWS": f"arn:aws:iam::{ACCT}:role/reader"}, {"AWS": f"arn:aws:iam::{ACCT}:root"}])
conditions = st.sampled_from([None, {"Bool": {"aws:SecureTransport": "false"}},
                              {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
                              {"StringNotEqualsIfExists": {"aws:SourceVpce": "vpce-1"}},
                              {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}])


@st.composite
def statement(draw, effect=None, with_principal=False):
    s = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"])),
         "Action" if draw(st.booleans()) else "NotAction": draw(actions),
         "Resource": draw(resources)}
    if with_principal:
        s["Principal"] = draw(principals)
    cond = draw(conditions)
    if cond:
        s["Condition"] = cond
    return s


def policies(with_principal=False):
    return st.lists(statement(with_principal=with_principal), max_size=5).map(
        lambda sts: {"Version": "2012-10-17", "Statement": sts})


@st.composite
def requests(draw):
    principal, ptype = draw(st.sampled_from(PRINCIPALS))
    context = {"aws:SecureTransport": draw(st.sampled_from(["true", "false"]))}
    unknown = frozenset({"aws:SourceIp"}) if draw(st.booleans()) else frozenset()
    return Request(principal, ptype, draw(st.sampled_from(ACTIONS)), draw(st.sampled_from(RESOURCES)), ACCT,
                   context, unknown)


def decide(r, identity, resource):
    return evaluate(r, identity_policies=identity, resource_policy=resource).decision


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(requests(), st.lists(policies(), max_size=2), policies(with_principal=True), statement(effect="Deny"),
       st.booleans())
def test_adding_a_deny_never_allows(r, identity, resource, extra, to_identity):
    before = decide(r, identity, resource)
    if to_identity:
        identity = identity + [{"Statement": [extra]}]
    else:
        extra = {**extra, "Principal": "*"}
        resource = {**resource, "Statement": resource["Statement"] + [extra]}
    after = decide(r, identity, resource)
    if before != Decision.ALLOWED:
        assert after != Decision.ALLOWED
    if before == Decision.EXPLICITLY_DENIED:
        assert after == Decision.EXPLICITLY_DENIED


@SETTINGS
@given(requests(), st.lists(policies(), max_size=2), policies(with_principal=True), statement(effect="Allow"),
       st.booleans())
def test_adding_an_allow_never_denies_what_was_allowed(r, identity, resource, extra, to_identity):
    before = decide(r, identity, resource)
    if to_identity:
        identity = identity + [{"Statement": [extra]}]
    else:
        resource = {**resource, "Statement": resource["Statement"] + [{**extra, "Principal": "*"}]}
    after = decide(r, identity, resource)
    if before == Decision.ALLOWED:
        assert after == Decision.ALLOWED


@SETTINGS
@given(requests(), st.lists(policies(), min_size=1, max_size=3), policies(with_principal=True), st.randoms())
def test_statement_and_policy_order_never_matter(r, identity, resource, rnd):
    before = decide(r, identity, resource)
    shuffled_identity = [{**p, "Statement": rnd.sample(p["Statement"], len(p["Statement"]))} for p in identity]
    rnd.shuffle(shuffled_identity)
    shuffled_resource = {**resource, "Statement": rnd.sample(resource["Statement"], len(resource["Statement"]))}
    assert decide(r, shuffled_identity, shuffled_resource) == before


# An answer that is not `unknown` must hold whatever the unknown keys turn out to be.
UNKNOWABLE = ("aws:SourceIp", "aws:PrincipalTag/team")
VALUES = {"aws:SourceIp": [None, "10.1.2.3", "203.0.113.9"], "aws:PrincipalTag/team": [None, "images", "other"]}
sound_resources = st.sampled_from(["arn:aws:s3:::data/*", "arn:aws:s3:::data/${aws:PrincipalTag/team}/*",
                                   "arn:aws:s3:::data/images/*", "*"])
sound_conditions = st.sampled_from([None, {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                                    {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                                    {"StringEquals": {"aws:PrincipalTag/team": "images"}},
                                    {"StringLike": {"s3:prefix": "${aws:PrincipalTag/team}/*"}},
                                    {"StringNotEqualsIfExists": {"aws:PrincipalTag/team": "${aws:username}"}}])


@st.composite
def sound_statement(draw):
    s = {"Effect": draw(st.sampled_from(["Allow", "Deny"])), "Action": draw(actions),
         "Resource": draw(sound_resources)}
    cond = draw(sound_conditions)
    if cond:
        s["Condition"] = cond
    return s


@SETTINGS
@given(st.lists(sound_statement(), min_size=1, max_size=4), st.sampled_from(ACTIONS), st.sampled_from(RESOURCES),
       st.sampled_from(["images/", "other/"]))
def test_a_decided_answer_holds_for_every_value_of_the_unknown_keys(statements, action, resource, prefix):
    doc = {"Version": "2012-10-17", "Statement": statements}
    user = f"arn:aws:iam::{ACCT}:user/alice"
    base = {"aws:username": "alice", "s3:prefix": prefix}
    r = Request(user, "iam_user", action, resource, ACCT, base, frozenset(UNKNOWABLE))
    answer = evaluate(r, identity_policies=[doc]).decision
    if answer == Decision.UNKNOWN:
        return
    for ip in VALUES["aws:SourceIp"]:
        for team in VALUES["aws:PrincipalTag/team"]:
            ctx = dict(base)
            if ip:
                ctx["aws:SourceIp"] = ip
            if team:
                ctx["aws:PrincipalTag/team"] = team
            concrete = evaluate(Request(user, "iam_user", action, resource, ACCT, ctx), identity_policies=[doc]).decision
            assert (concrete == Decision.ALLOWED) == (answer == Decision.ALLOWED), (ip, team, concrete, answer)
