"""``plan`` only ever narrows, covers every bucket and principal of the integration, and says what it cannot
know instead of guessing — on hand-built snapshots (no AWS), decided by the project's own IAM evaluator."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor import narrow
from auditor.model import AttachedPolicy, GroupState, InlinePolicy, KeyState, Status
from auditor.plan import make_plan
from auditor.policy import Request, evaluate
from auditor.rulepack import load_packs
from tests.checks.snap import (
    ACCT,
    DATATURE_EXTERNAL_ID,
    DATATURE_PRINCIPAL,
    V7_ROLE,
    account,
    bucket,
    integ,
    one,
    policy,
    role,
    run,
    snapshot,
    user,
)
from tests.onboard import tfcheck

PACKS = {p.vendor.id: p for p in load_packs()}
B = "radiology-scans"
ARN = f"arn:aws:s3:::{B}"
ANALYTICS = "arn:aws:iam::444455556666:role/analytics"
V7_ACCOUNT = "258327614892"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def bound(i):
    return dataclasses.replace(i, profile=PACKS[i.vendor].vendor)


def plan_of(snap):
    i = bound(snap.integrations[0])
    return make_plan(snap, i, run(snap), rules=PACKS[i.vendor].rules)


def statements(doc):
    return narrow.as_list((doc or {}).get("Statement"))


# ----------------------------------------------------------------------------- asking the evaluator

ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectAcl", "s3:GetObjectAttributes")
BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketPolicy", "s3:PutBucketPolicy")
KEYS = ("slides/a.svs", "slides/sub/b.mrxs", "darwin/t.png", "other/c.txt", "home/alice/x", "cats/images/a.jpg",
        "cats/annotations.json", "cats/tenyks-meta/m.bin", "studies/a.dcm", "studies/x/y.dcm")
CONTEXTS = ({"aws:SourceIp": "10.0.0.1", "aws:username": "alice", "aws:SecureTransport": "true"},
            {"aws:SourceIp": "192.0.2.1", "aws:username": "bob", "aws:SecureTransport": "false"})
PREFIXES = (None, "", "slides/", "other/", "cats/", "studies/")


def grid(principal: str, principal_type: str, account_id: str) -> list[Request]:
    out = []
    for ctx in CONTEXTS:
        for a in BUCKET_ACTIONS:
            for p in PREFIXES if a == "s3:ListBucket" else (None,):
                c = {**ctx, **({"s3:prefix": p} if p is not None else {})}
                out.append(Request(principal, principal_type, a, ARN, ACCT, c, principal_account=account_id))
        for a in ACTIONS:
            out += [Request(principal, principal_type, a, f"{ARN}/{k}", ACCT, dict(ctx), principal_account=account_id)
                    for k in KEYS]
    return out


V7_GRID = grid(V7_ROLE, "iam_role", V7_ACCOUNT)
V7_OTHER_ROLE_GRID = grid(f"arn:aws:iam::{V7_ACCOUNT}:role/someone-else", "iam_role", V7_ACCOUNT)
ANALYTICS_GRID = grid(ANALYTICS, "iam_role", "444455556666")
USER_GRID = grid(f"arn:aws:iam::{ACCT}:user/rb", "iam_user", ACCT)


def allowed_as_resource(doc: Any, requests: list[Request]) -> set[int]:
    """The requests a bucket policy allows a principal of another account (its own side allows everything)."""
    if not statements(doc):
        return set()
    return {i for i, r in enumerate(requests)
            if evaluate(r, identity_policies=[ALLOW_ALL], resource_policy=doc).allowed}


def allowed_as_identity(docs: list[Any], bucket_doc: Any, requests: list[Request]) -> set[int]:
    docs = [d for d in docs if statements(d)]
    bucket_doc = bucket_doc if statements(bucket_doc) else None
    if not docs and bucket_doc is None:
        return set()
    return {i for i, r in enumerate(requests)
            if evaluate(r, identity_policies=docs, resource_policy=bucket_doc).allowed}


def one_statement(stmt: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [stmt]}


# ----------------------------------------------------------------------------- random existing policies

ACTION_CHOICES = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:*", "s3:Get*", "*",
                  "s3:GetObjectAcl", "s3:PutBucketPolicy", "s3:GetObjectAttributes", "kms:Decrypt"]
RESOURCE_CHOICES = [ARN, f"{ARN}/*", f"{ARN}/slides/*", f"{ARN}/slides/sub/*", f"{ARN}/other/*", "*", f"{ARN}/studies/*",
                    f"{ARN}/studies/x/*",
                    f"{ARN}/home/${{aws:username}}/*", f"{ARN}/cats/*", "arn:aws:s3:::elsewhere/*"]
CONDITIONS = [None, {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"StringLike": {"s3:prefix": ["slides/*"]}},
              {"Bool": {"aws:SecureTransport": "true"}}, {"StringEquals": {"aws:username": "alice"}},
              {"StringLike": {"aws:UserAgent": "%{agent}*"}}]


def _one_or_many(choices):
    return st.one_of(st.sampled_from(choices), st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True))


@st.composite
def statement(draw, principals):
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["Sid"] = draw(st.sampled_from(["A", "B", "DarwinAccess", "Everything", "tenyksList"]))
    out["Effect"] = draw(st.sampled_from(["Allow", "Allow", "Allow", "Deny"]))
    if principals is not None:
        out["Principal"] = {"AWS": draw(_one_or_many(principals))}
    out["NotAction" if draw(st.integers(0, 7)) == 0 else "Action"] = draw(_one_or_many(ACTION_CHOICES))
    out["NotResource" if draw(st.integers(0, 7)) == 0 else "Resource"] = draw(_one_or_many(RESOURCE_CHOICES))
    cond = draw(st.sampled_from(CONDITIONS))
    if cond:
        out["Condition"] = cond
    return out


V7_PRINCIPALS = [V7_ROLE, V7_ROLE, ANALYTICS, V7_ACCOUNT, f"arn:aws:iam::{V7_ACCOUNT}:root"]


def _new_statements_within_their_source(gp: narrow.GrantPlan, as_resource: bool, grids: list[list[Request]]) -> None:
    for edit in gp.edits:
        for stmt, how, source in edit.new:
            for g in grids:
                if as_resource and edit.holder.kind == "bucket":
                    new, old = allowed_as_resource(one_statement(stmt), g), allowed_as_resource(one_statement(source), g)
                elif edit.holder.kind == "bucket":
                    new = allowed_as_identity([], one_statement(stmt), g)
                    old = allowed_as_identity([], one_statement(source), g)
                else:
                    new = allowed_as_identity([one_statement(stmt)], None, g)
                    old = allowed_as_identity([one_statement(source)], None, g)
                widened = [g[i] for i in sorted(new - old)][:3]
                assert not widened, (how, stmt, source, widened)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stmts=st.lists(statement(V7_PRINCIPALS), min_size=1, max_size=4),
       mode=st.sampled_from(["read-only", "read-write"]), scope=st.sampled_from(["", "slides/"]),
       mrxs=st.booleans())
def test_no_proposed_bucket_policy_statement_is_broader_than_its_predecessor(stmts, mode, scope, mrxs):
    keys = ("slides/sub/b.mrxs", "other/c.txt") if mrxs else ("slides/a.svs", "other/c.txt")
    before = policy(*stmts)
    snap = snapshot(account(bucket(B, policy=before, keys=keys)),
                    integrations=(integ("v7-aws", B, mode, scope=scope, prefix="darwin/"),))
    i = bound(snap.integrations[0])
    gp = narrow.grant_plan(snap.accounts[0], i, narrow=True)
    assert isinstance(gp, narrow.GrantPlan)
    grids = [V7_GRID, ANALYTICS_GRID, V7_OTHER_ROLE_GRID]
    # Each statement the plan writes allows nothing its predecessor (or the guide's statement) did not.
    _new_statements_within_their_source(gp, True, grids)
    after = next((e.after if e.action == "put" else None for e in gp.edits if e.holder.kind == "bucket"), before)
    templates = {"Version": "2012-10-17", "Statement": narrow.plan_statements(i, snap.accounts[0].bucket(B))}
    for g in grids:  # the whole policy: nothing anyone may do that they could not before, or the guide needs
        widened = allowed_as_resource(after, g) - allowed_as_resource(before, g) - allowed_as_resource(templates, g)
        assert not widened, [g[n] for n in sorted(widened)][:3]
    # Statements that do not concern V7 are kept, as they were, in order.
    mine = lambda s: any(v in (V7_ROLE, V7_ACCOUNT, f"arn:aws:iam::{V7_ACCOUNT}:root")  # noqa: E731
                         for v in narrow.as_list(s.get("Principal", {}).get("AWS")))
    kept = [s for s in stmts if not mine(s) or s["Effect"] == "Deny"]
    it = iter(statements(after))
    assert all(any(k is s or k == s for s in it) for k in kept)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inline=st.lists(st.lists(statement(None), min_size=1, max_size=3), min_size=1, max_size=2),
       managed=st.lists(statement(None), max_size=2), grouped=st.lists(statement(None), max_size=2),
       bucket_stmts=st.lists(statement([f"arn:aws:iam::{ACCT}:user/rb", ANALYTICS]), max_size=2),
       mode=st.sampled_from(["read-only", "read-write"]))
def test_no_proposed_identity_statement_is_broader_than_its_predecessor(inline, managed, grouped, bucket_stmts, mode):
    arn = f"arn:aws:iam::{ACCT}:policy/shared"
    u = dataclasses.replace(user("rb", *[policy(*d) for d in inline]),
                            attached=(AttachedPolicy(arn, "shared"),) if managed else (),
                            groups=("team",) if grouped else ())
    groups = (GroupState("team", f"arn:aws:iam::{ACCT}:group/team", inline=(InlinePolicy("g", policy(*grouped)),)),)
    bucket_doc = policy(*bucket_stmts) if bucket_stmts else None
    acct = account(bucket(B, policy=bucket_doc, keys=("studies/a.dcm",)), users=(u,), groups=groups,
                   managed_policies={arn: policy(*managed)} if managed else {})
    snap = snapshot(acct, integrations=(integ("redbrick", B, mode, user="rb", prefix="studies/"),))
    i = bound(snap.integrations[0])
    gp = narrow.grant_plan(acct, i, narrow=True)
    assert isinstance(gp, narrow.GrantPlan)
    _new_statements_within_their_source(gp, False, [USER_GRID])
    # The whole principal, as the edits leave it.
    docs = {p.name: p.document for p in u.inline}
    attached = {arn: policy(*managed)} if managed else {}
    group_docs = [policy(*grouped)] if grouped else []
    after_bucket = bucket_doc
    for e in gp.edits:
        if e.holder.kind == "inline-user":
            docs[e.holder.name] = e.after
        elif e.holder.kind == "bucket":
            after_bucket = e.after
        elif e.action == "detach":
            attached.pop(e.holder.owner)
        elif e.action == "leave-group":
            group_docs = []
    before_all = allowed_as_identity([p.document for p in u.inline] + ([policy(*managed)] if managed else [])
                                     + ([policy(*grouped)] if grouped else []), bucket_doc, USER_GRID)
    after_all = allowed_as_identity([d for d in docs.values() if d] + list(attached.values()) + group_docs,
                                    after_bucket, USER_GRID)
    templates = allowed_as_identity([{"Version": "2012-10-17", "Statement": gp.templates}], None, USER_GRID)
    widened = after_all - before_all - templates
    assert not widened, [USER_GRID[n] for n in sorted(widened)][:3]


# ----------------------------------------------------------------------------- never widen, never guess


def _datature(trust, **options):
    r = role("datature-nexus", trust)
    return snapshot(account(bucket(B, keys=("images/a.jpg",)), roles=(r,)),
                    integrations=(integ("datature", B, role_arn=r.arn, external_id=DATATURE_EXTERNAL_ID,
                                        prefix="images/", **options),))


def test_without_vendor_principal_the_trust_keeps_the_principal_it_names():
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_PRINCIPAL}})
    plan = plan_of(_datature(trust))
    (change,) = [c for c in plan.changes if c.kind == "trust-policy"]
    assert change.after["Statement"] == [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                          "Principal": {"AWS": DATATURE_PRINCIPAL},
                                          "Condition": {"StringEquals": {"sts:ExternalId": DATATURE_EXTERNAL_ID}}}]
    assert ":root" not in json.dumps(plan.to_json()) + plan.script() + plan.terraform()


def test_without_any_vendor_principal_plan_asks_for_the_flag_instead_of_guessing_an_account():
    trust = policy({"Sid": "Ec2", "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}})
    plan = plan_of(_datature(trust))
    assert not [c for c in plan.changes if c.kind == "trust-policy"]
    assert any(m.startswith("vendor-principal:") and "--vendor-principal" in m for m in plan.manual), plan.manual
    assert ":root" not in json.dumps(plan.to_json()) + plan.script() + plan.terraform()
    # Given, it narrows a trust in Datature's whole account to that principal (the extra condition kept).
    wide = policy({"Effect": "Allow", "Action": "sts:*", "Principal": {"AWS": "arn:aws:iam::277710232653:root"},
                   "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
    plan = plan_of(_datature(wide, vendor_principal=DATATURE_PRINCIPAL))
    (change,) = [c for c in plan.changes if c.kind == "trust-policy"]
    assert change.after["Statement"] == [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                          "Principal": {"AWS": DATATURE_PRINCIPAL},
                                          "Condition": {"Bool": {"aws:SecureTransport": "true"},
                                                        "StringEquals": {"sts:ExternalId": DATATURE_EXTERNAL_ID}}}]


def test_a_trust_statement_split_between_the_vendor_and_another_principal_keeps_every_sid_unique():
    """IAM rejects two statements with one Sid (MalformedPolicyDocument), and plan.sh would stop there."""
    shared = policy({"Sid": "Datature", "Effect": "Allow", "Action": "sts:AssumeRole",
                     "Principal": {"AWS": [DATATURE_PRINCIPAL, "arn:aws:iam::999988887777:root"]}},
                    {"Sid": "Datature2", "Effect": "Allow", "Action": "sts:AssumeRole",
                     "Principal": {"Service": "ec2.amazonaws.com"}})
    plan = plan_of(_datature(shared, vendor_principal=DATATURE_PRINCIPAL))
    (change,) = [c for c in plan.changes if c.kind == "trust-policy"]
    sids = [s.get("Sid") for s in change.after["Statement"]]
    assert len(sids) == len(set(sids)) == 3, sids
    by_sid = {s["Sid"]: s for s in change.after["Statement"]}
    assert by_sid["Datature"]["Principal"] == {"AWS": ["arn:aws:iam::999988887777:root"]}
    assert by_sid["Datature2"]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert by_sid["Datature3"]["Principal"] == {"AWS": DATATURE_PRINCIPAL}
    assert by_sid["Datature3"]["Condition"] == {"StringEquals": {"sts:ExternalId": DATATURE_EXTERNAL_ID}}
    assert "Datature3" in plan.script() and "Datature3" in plan.terraform()


def test_a_role_the_plan_cannot_create_gets_no_policy_that_would_stop_plan_sh():
    """No role, and no vendor principal to create it with: a put-role-policy would fail (NoSuchEntity)."""
    missing = f"arn:aws:iam::{ACCT}:role/datature-missing"
    s = snapshot(account(bucket(B, keys=("images/a.jpg",))),
                 integrations=(integ("datature", B, role_arn=missing, external_id=DATATURE_EXTERNAL_ID,
                                     prefix="images/"),))
    plan = plan_of(s)
    assert not [c for c in plan.changes if c.kind in ("role-policy", "trust-policy")]
    assert "put-role-policy" not in plan.script() and "aws_iam_role_policy" not in plan.terraform()
    assert any(m.startswith("vendor-principal:") for m in plan.manual), plan.manual
    assert any(m.startswith("grants: role datature-missing does not exist") for m in plan.manual), plan.manual
    # With the vendor principal, the plan creates the role and then gives it its policy.
    s = dataclasses.replace(s, integrations=(dataclasses.replace(
        s.integrations[0], options={**s.integrations[0].options, "vendor_principal": DATATURE_PRINCIPAL}),))
    kinds = [c.kind for c in plan_of(s).changes]
    assert "trust-policy" in kinds and "role-policy" in kinds
    assert kinds.index("trust-policy") < kinds.index("role-policy")


def test_the_terraform_of_an_existing_role_changes_its_trust_and_nothing_else():
    """An imported aws_iam_role resets what it does not set: a permissions boundary removed widens the role."""
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_PRINCIPAL}})
    s = _datature(trust)
    roles = tuple(dataclasses.replace(r, boundary=f"arn:aws:iam::{ACCT}:policy/boundary") for r in s.accounts[0].roles)
    s = dataclasses.replace(s, accounts=(dataclasses.replace(s.accounts[0], roles=roles),))
    parsed = tfcheck.parse(plan_of(s).terraform())
    (body,) = [b for (rtype, _), b in parsed["resources"].items() if rtype == "aws_iam_role"]
    ignored = body["lifecycle"][0]["ignore_changes"]
    assert {"permissions_boundary", "max_session_duration", "description", "tags"} <= set(ignored), ignored
    assert ("aws_iam_role", "datature_nexus") in parsed["imports"]


def test_a_key_the_vendor_may_use_only_through_s3_gets_only_the_missing_action_with_the_same_condition():
    """Decrypt through S3 only (kms:ViaService); read-write also needs GenerateDataKey. Granting both with no
    condition would let the vendor call KMS directly, outside S3."""
    kid = "4ba29242-1176-4783-a600-41a37025dd5a"
    via = {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    key_policy = policy({"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
                         "Action": "kms:*", "Resource": "*"},
                        {"Sid": "V7ViaS3", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "kms:Decrypt",
                         "Resource": "*", "Condition": via})
    key = KeyState(kid, f"arn:aws:kms:us-east-1:{ACCT}:key/{kid}", manager="CUSTOMER", grants=(), policy=key_policy)
    grant = {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE},
             "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": f"{ARN}/*"}
    b = dataclasses.replace(bucket(B, policy=policy(grant), keys=("slides/a.svs",)),
                            encryption=({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                                                "KMSMasterKeyID": kid}},))
    snap = snapshot(account(b, keys=(key,)), integrations=(integ("v7-aws", B, "read-write"),))
    assert one(snap, "v7-aws.kms-key-policy").status == Status.FAIL
    (change,) = [c for c in plan_of(snap).changes if c.kind == "key-policy"]
    added = [s for s in change.after["Statement"] if s not in key_policy["Statement"]]
    assert added == [{"Sid": "AllowV7UseOfTheKey", "Effect": "Allow", "Principal": {"AWS": V7_ROLE},
                      "Action": ["kms:GenerateDataKey"], "Resource": "*", "Condition": via}], added
    applied = dataclasses.replace(snap, accounts=(dataclasses.replace(
        snap.accounts[0], keys=(dataclasses.replace(key, policy=change.after),)),))
    assert one(applied, "v7-aws.kms-key-policy").status == Status.PASS


def test_block_public_access_waits_for_the_public_statements_to_go():
    """RestrictPublicBuckets with a public statement left shuts out every other account, V7 included; and
    BlockPublicPolicy would refuse the bucket-policy change that keeps it."""
    grant = {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:GetObject",
             "Resource": f"{ARN}/*"}
    site = {"Sid": "PublicSite", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"{ARN}/public/*"}
    s = snapshot(account(bucket(B, policy=policy(grant, site), keys=("a.svs",))), integrations=(integ("v7-aws", B),))
    plan = plan_of(s)
    assert "public-access-block" not in [c.kind for c in plan.changes]
    run_lines = [line for line in plan.script().splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in run_lines if "put-public-access-block" in line]
    assert "aws_s3_bucket_public_access_block" not in plan.terraform()
    (step,) = [m for m in plan.manual if m.startswith("block-public-access:")]
    assert "PublicSite" in step and "put-public-access-block" in step and "RestrictPublicBuckets" in step
    # Without the public statement, the plan turns it on.
    s = snapshot(account(bucket(B, policy=policy(grant), keys=("a.svs",))), integrations=(integ("v7-aws", B),))
    assert "public-access-block" in [c.kind for c in plan_of(s).changes]


def test_a_wildcard_trust_statement_that_lets_the_vendors_account_in_gets_the_external_id_too():
    """"*" with aws:PrincipalAccount = Datature's account lets Datature in without the external id: the plan
    narrows it with the condition rather than leave the external id protecting nothing. A wildcard statement
    the vendor's request cannot match (the customer's own organisation) is left alone."""
    account_wide = {"Sid": "AnyDatature", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:PrincipalAccount": "277710232653"}}}
    own_org = {"Sid": "OwnOrg", "Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
               "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCT}}}
    s = _datature(policy(account_wide, own_org), vendor_principal=DATATURE_PRINCIPAL)
    assert one(s, "datature.external-id").status == Status.FAIL
    (change,) = [c for c in plan_of(s).changes if c.kind == "trust-policy"]
    by_sid = {st.get("Sid"): st for st in change.after["Statement"]}
    assert by_sid["AnyDatature"]["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "277710232653",
                                                                   "sts:ExternalId": DATATURE_EXTERNAL_ID}}
    assert by_sid["OwnOrg"] == own_org
    applied = dataclasses.replace(s, accounts=(dataclasses.replace(s.accounts[0], roles=tuple(
        dataclasses.replace(r, trust_policy=change.after) for r in s.accounts[0].roles)),))
    assert one(applied, "datature.external-id").status == Status.PASS


def test_detaching_a_shared_policy_does_not_leave_a_need_to_an_undecided_condition():
    """RedBrick reads through a shared managed policy (too wide: it is detached) and an inline statement only
    from one address range. After the plan, the read must still be granted outright, not hang on aws:SourceIp."""
    shared = f"arn:aws:iam::{ACCT}:policy/shared"
    inline = {"Sid": "RB", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{ARN}/studies/*",
              "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}
    u = user("rb", policy(inline), attached=(shared,))
    snap = snapshot(account(bucket(B, keys=("studies/a.dcm",)), users=(u,), managed_policies={
        shared: policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                        "Resource": f"{ARN}/*"})}),
        integrations=(integ("redbrick", B, "read-only", user="rb", prefix="studies/"),))
    assert one(snap, "redbrick.read-grant").status == Status.PASS
    plan = plan_of(snap)
    assert "policy-attachment" in [c.kind for c in plan.changes]
    inline_after = [c.after for c in plan.changes if c.kind == "user-policy" and c.after]
    users = tuple(dataclasses.replace(x, attached=(), inline=tuple(
        InlinePolicy(f"p{i}", d) for i, d in enumerate(inline_after or [policy(inline)]))) for x in snap.accounts[0].users)
    applied = dataclasses.replace(snap, accounts=(dataclasses.replace(snap.accounts[0], users=users),))
    assert one(applied, "redbrick.read-grant").status == Status.PASS, one(applied, "redbrick.read-grant").message


def _v7_star(keys=("slides/a.mrxs", "slides/a/x.dat", "other/b.txt"), mode="read-only"):
    star = {"Sid": "V7Everything", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:*",
            "Resource": [ARN, f"{ARN}/*"]}
    return snapshot(account(bucket(B, policy=policy(star), keys=keys)),
                    integrations=(integ("v7-aws", B, mode, scope="slides/"),))


def test_a_read_only_vendor_loses_its_delete_rights_instead_of_getting_versioning():
    snap = _v7_star()
    assert one(snap, "baseline.versioning-with-delete").status == Status.FAIL
    plan = plan_of(snap)
    assert "versioning" not in {c.kind for c in plan.changes}
    (grant,) = [c for c in plan.changes if c.kind == "bucket-policy"]
    assert {"baseline.vendor-excess-privilege", "baseline.versioning-with-delete"} <= set(grant.fixes)
    deletes = [r for r in V7_GRID if r.action == "s3:DeleteObject"]
    assert not allowed_as_resource(grant.after, deletes)
    assert not [m for m in plan.manual if "versioning" in m or "excess" in m], plan.manual


def test_listing_is_granted_only_where_a_mrxs_slide_needs_it():
    with_slide = [c for c in plan_of(_v7_star()).changes if c.kind == "bucket-policy"][0].after
    (listing,) = [s for s in with_slide["Statement"] if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["slides/*"]}}
    without = [c for c in plan_of(_v7_star(keys=("slides/a.svs", "other/b.txt"))).changes
               if c.kind == "bucket-policy"][0].after
    assert "s3:ListBucket" not in json.dumps(without)


def test_permissions_an_attached_policy_grants_are_not_repeated():
    managed = f"arn:aws:iam::{ACCT}:policy/images-read"
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_PRINCIPAL},
                    "Condition": {"StringEquals": {"sts:ExternalId": DATATURE_EXTERNAL_ID}}})
    r = role("datature-nexus", trust, policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}), attached=(managed,))
    acct = account(bucket(B, keys=("images/a.jpg",)), roles=(r,), managed_policies={managed: policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{ARN}/images/*"})})
    snap = snapshot(acct, integrations=(integ("datature", B, role_arn=r.arn, external_id=DATATURE_EXTERNAL_ID,
                                              prefix="images/"),))
    plan = plan_of(snap)
    (change,) = [c for c in plan.changes if c.kind == "role-policy"]
    assert change.after["Statement"] == [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": ARN,
         "Condition": {"StringLike": {"s3:prefix": "images/*"}}},
        {"Effect": "Allow", "Action": ["s3:GetObjectAttributes"], "Resource": f"{ARN}/images/*"}]
    assert "policy-attachment" not in {c.kind for c in plan.changes}  # the attached policy grants only what is needed


def test_a_statement_shared_with_another_principal_keeps_that_principals_part():
    shared = {"Sid": "Shared", "Effect": "Allow", "Principal": {"AWS": [V7_ROLE, ANALYTICS]}, "Action": "s3:GetObject",
              "Resource": f"{ARN}/*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    snap = snapshot(account(bucket(B, policy=policy(shared), keys=("slides/a.svs", "other/b.txt"))),
                    integrations=(integ("v7-aws", B, scope="slides/"),))
    (change,) = [c for c in plan_of(snap).changes if c.kind == "bucket-policy"]
    assert change.after["Statement"] == [
        {**shared, "Principal": {"AWS": [ANALYTICS]}},
        {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": ["s3:GetObject"],
         "Resource": f"{ARN}/slides/*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]


def test_the_excess_finding_proposes_the_change_plan_makes():
    snaps = [_v7_star()]
    u = user("tenyks-ro", policy({"Sid": "All", "Effect": "Allow", "Action": "s3:*", "Resource": [ARN, f"{ARN}/*"]}),
             attached=(f"arn:aws:iam::{ACCT}:policy/s3-full",))
    snaps.append(snapshot(account(bucket(B, keys=("cats/images/a.jpg",)), users=(u,), managed_policies={
        f"arn:aws:iam::{ACCT}:policy/s3-full": policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})}),
        integrations=(integ("tenyks", B, user="tenyks-ro", dataset="cats", images_dir="images"),)))
    for snap in snaps:
        f = one(snap, "baseline.vendor-excess-privilege")
        assert f.status == Status.FAIL
        grants = [c for c in plan_of(snap).changes if c.kind in ("bucket-policy", "user-policy", "policy-attachment")]
        assert grants
        for c in grants:
            for cmd in c.cli:
                assert cmd in f.remediation, (cmd, f.remediation)


def test_grant_and_trust_findings_propose_the_change_plan_makes():
    # RedBrick annotation storage: the user reads through an attached policy and may not write. The write grant
    # the finding proposes is the plan's (which does not repeat the attached read).
    reader = f"arn:aws:iam::{ACCT}:policy/read"
    u = user("rb", attached=(reader,))
    snap = snapshot(account(bucket(B, keys=("studies/a.dcm",)), users=(u,), managed_policies={
        reader: policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{ARN}/*"})}),
        integrations=(integ("redbrick", B, "read-write", user="rb"),))
    f = one(snap, "redbrick.write-grant")
    assert f.status == Status.FAIL
    grants = [c for c in plan_of(snap).changes if c.kind in ("user-policy", "bucket-policy")]
    assert grants
    for c in grants:
        for cmd in c.cli:
            assert cmd in f.remediation, (cmd, f.remediation)
    # Datature's trust without an external id: the finding and the plan narrow it the same way, and with no
    # principal named anywhere neither guesses Datature's account root.
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": DATATURE_PRINCIPAL}})
    snap = _datature(trust)
    f = one(snap, "datature.external-id")
    (change,) = [c for c in plan_of(snap).changes if c.kind == "trust-policy"]
    assert f.status == Status.FAIL and all(cmd in f.remediation for cmd in change.cli), f.remediation
    ec2 = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}})
    f = one(_datature(ec2), "datature.trust-policy")
    assert "--vendor-principal" in f.remediation and ":root" not in f.remediation


def test_cors_findings_propose_the_cors_rule_plan_adds():
    # Each vendor's CORS requirement on a bucket with an unrelated rule: the finding's command is the plan's.
    other = {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://intranet.example.com"]}
    cases = [("v7-aws", "v7-aws.cors", {}), ("datature", "datature.cors", {"role_arn": f"arn:aws:iam::{ACCT}:role/d",
                                                                          "prefix": ""}),
             ("redbrick", "redbrick.cors", {"user": "rb"})]
    for vendor, rule, options in cases:
        snap = snapshot(account(bucket(B, cors=(other,))), integrations=(integ(vendor, B, **options),))
        f = one(snap, rule)
        assert f.status == Status.FAIL, (rule, f.message)
        (change,) = [c for c in plan_of(snap).changes if c.kind == "cors" and c.resource == ARN]
        assert change.cli[0] in f.remediation, (rule, change.cli, f.remediation)
        assert other in change.after["CORSRules"]


def test_every_bucket_of_the_integration_gets_its_fixes():
    """Tenyks with a separate metadata bucket: its Block Public Access, CORS and versioning (Tenyks deletes
    there) are planned on that bucket, the data bucket keeps its versioning off (Tenyks deletes nothing there)."""
    meta = bucket("tenyks-meta", keys=("meta/x",))
    data = dataclasses.replace(bucket(B, keys=("cats/images/a.jpg",)),
                               public_access_block={k: True for k in ("BlockPublicAcls", "IgnorePublicAcls",
                                                                      "BlockPublicPolicy", "RestrictPublicBuckets")})
    u = user("tenyks-rw", policy({"Sid": "tenyksFullBucketAccess", "Effect": "Allow",
                                  "Action": ["s3:GetObject", "s3:DeleteObject", "s3:PutObject", "s3:ListBucket"],
                                  "Resource": [f"{ARN}/*", ARN]}))
    snap = snapshot(account(data, meta, users=(u,)), integrations=(integ(
        "tenyks", B, "read-write", user="tenyks-rw", dataset="cats", images_dir="images", metadata_dir="meta",
        metadata_bucket="tenyks-meta"),))
    plan = plan_of(snap)
    where = {(c.kind, c.resource) for c in plan.changes}
    meta_arn = "arn:aws:s3:::tenyks-meta"
    assert {("public-access-block", meta_arn), ("cors", meta_arn), ("versioning", meta_arn)} <= where, where
    assert ("versioning", ARN) not in where and ("public-access-block", ARN) not in where
    (grant,) = [c for c in plan.changes if c.kind == "user-policy"]
    text = json.dumps(grant.after)
    assert f"{meta_arn}/meta/*" in text and "s3:DeleteObject" in text
    deletes_here = [r for r in USER_GRID if r.action == "s3:DeleteObject"]
    assert not allowed_as_identity([grant.after], None, deletes_here)  # no delete on the data bucket


def test_plan_tf_imports_what_exists_and_names_start_with_a_letter():
    key = KeyState("4ba29242-1176-4783-a600-41a37025dd5a", f"arn:aws:kms:us-east-1:{ACCT}:key/4ba29242-1176-4783-a600-41a37025dd5a",
                   manager="CUSTOMER", grants=(), policy=policy({"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
                                                      "Action": "kms:*", "Resource": "*"}))
    home = {"Sid": "Home", "Effect": "Allow", "Principal": {"AWS": ANALYTICS}, "Action": "s3:GetObject",
            "Resource": f"{ARN}/home/${{aws:username}}/*", "Condition": {"StringLike": {"aws:UserAgent": "%{agent}"}}}
    b = dataclasses.replace(bucket("1-slides", policy=policy(home), keys=("slides/a.svs",)),
                            encryption=({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                                                "KMSMasterKeyID": key.key_id}},),
                            cors=({"AllowedMethods": ["GET"], "AllowedOrigins": ["https://${host}.example.com"]},))
    snap = snapshot(account(b, keys=(key,)), integrations=(integ("v7-aws", "1-slides", scope="slides/"),))
    plan = plan_of(snap)
    text = plan.terraform()
    parsed = tfcheck.parse(text)  # valid names, no unescaped template sequence, terraform fmt layout
    types = {t: n for t, n in parsed["resources"]}
    assert set(types) == {"aws_s3_bucket_policy", "aws_s3_bucket_cors_configuration", "aws_kms_key_policy",
                          "aws_s3_bucket_public_access_block"}, types
    assert types["aws_kms_key_policy"].startswith("key_4ba29242")
    assert parsed["imports"] == {("aws_s3_bucket_policy", types["aws_s3_bucket_policy"]): "1-slides",
                                 ("aws_s3_bucket_cors_configuration", types["aws_s3_bucket_cors_configuration"]): "1-slides",
                                 ("aws_kms_key_policy", types["aws_kms_key_policy"]): key.key_id}
    assert "$${aws:username}" in text and "%%{agent}" in text and "https://$${host}.example.com" in text
    policy_body = parsed["resources"][("aws_s3_bucket_policy", types["aws_s3_bucket_policy"])]["policy"]
    assert tfcheck.heredoc_json(policy_body) == next(c.after for c in plan.changes if c.kind == "bucket-policy")
    for c in plan.changes:
        assert not tfcheck.unescaped_templates(c.terraform)


def test_what_the_plan_creates_is_new_in_terraform_and_referred_to():
    snap = snapshot(account(bucket(B, keys=("studies/a.dcm",))),
                    integrations=(integ("redbrick", B, user="rb-new", prefix="studies/"),))
    plan = plan_of(snap)
    parsed = tfcheck.parse(plan.terraform())
    types = {t for t, _ in parsed["resources"]}
    assert {"aws_iam_user", "aws_iam_user_policy", "aws_iam_access_key"} <= types
    assert not [k for k in parsed["imports"] if k[0].startswith("aws_iam")]
    (policy_body,) = [b for (t, _), b in parsed["resources"].items() if t == "aws_iam_user_policy"]
    assert re.fullmatch(r"\$\{aws_iam_user\.\w+\.name\}", policy_body["user"]), policy_body["user"]


TEXT = st.lists(st.sampled_from(list("ab$%{}\\\"'*/ \n\té") + ["${", "%{", "$${", "%%{", "${aws:username}"]),
                max_size=12).map("".join)


def _closed(text: str) -> bool:
    return all("}" in text[m.end():] for m in re.finditer(r"[$%]\{", text))


@settings(max_examples=60, deadline=None)
@given(value=TEXT, condition=TEXT)
def test_no_terraform_output_contains_an_unescaped_template_sequence(value, condition):
    from auditor import terraform as tf

    doc = {"Version": "2012-10-17", "Statement": [{"Sid": "X", "Effect": "Allow", "Principal": "*",
                                                   "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b/{value}",
                                                   "Condition": {"StringLike": {"aws:UserAgent": condition}}}]}
    quoted = {"note": condition}
    r = tf.Resource("aws_s3_bucket_policy", value or "b", "b", [("bucket", value), ("tags", quoted),
                                                                ("policy", tf.Heredoc(doc))], "b")
    text = tf.render([r], region="us-east-1")
    assert not tfcheck.unescaped_templates(text)
    if not (_closed(value) and _closed(condition)):
        # python-hcl2 cannot read a quoted "$${" that no "}" follows (Terraform can): check the heredoc alone.
        r.body = [("bucket", "b"), ("policy", tf.Heredoc(doc))]
        text = tf.render([r], region="us-east-1")
    parsed = tfcheck.parse(text)
    ((_, body),) = parsed["resources"].items()
    assert tfcheck.heredoc_json(body["policy"]) == doc
