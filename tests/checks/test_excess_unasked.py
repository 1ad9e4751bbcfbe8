"""The excess-privilege check puts to the evaluator only the actions some statement names: the others are
denied whatever the key or context, and its findings are those of asking every action."""

from __future__ import annotations

import pytest

from auditor.checks import _access, privilege
from auditor.checks.registry import Target
from auditor.model import Status
from auditor.policy import Decision, expand_actions

from .snap import ACCT, V7_ROLE, account, bucket, integ, policy, run, snapshot, user

B = "radiology-scans"
OBJ = f"arn:aws:s3:::{B}/*"
TLS_DENY = {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{B}", OBJ], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def v7_grant(*actions: str, resource: str = OBJ, **extra) -> dict:
    return {"Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": list(actions), "Resource": resource, **extra}


def tenyks_user(*statements: dict, boundary: str | None = None):
    return user("tenyks-rw", policy(*statements), boundary=boundary)


TENYKS = integ("tenyks", B, "read-write", user="tenyks-rw", dataset="cats", images_dir="images",
               metadata_dir="tenyks-meta")
BOUNDARY_ARN = f"arn:aws:iam::{ACCT}:policy/boundary"

ESTATES = {
    "v7, object reads only": snapshot(account(bucket(B, policy=policy(v7_grant("s3:GetObject")))),
                                      integrations=(integ("v7-aws", B),)),
    "v7, reads and a TLS deny on s3:*": snapshot(
        account(bucket(B, policy=policy(v7_grant("s3:GetObject", "s3:PutObject"), TLS_DENY))),
        integrations=(integ("v7-aws", B),)),
    "v7, wildcard actions and a conditional listing": snapshot(
        account(bucket(B, policy=policy(v7_grant("s3:Get*", "s3:List*"),
                                        v7_grant("s3:ListBucket", resource=f"arn:aws:s3:::{B}",
                                                 Condition={"StringLike": {"s3:prefix": "img/*"}})))),
        integrations=(integ("v7-aws", B),)),
    "v7, NotAction": snapshot(
        account(bucket(B, policy=policy({"Effect": "Allow", "Principal": {"AWS": V7_ROLE},
                                         "NotAction": ["s3:Delete*", "s3:Put*"], "Resource": OBJ}))),
        integrations=(integ("v7-aws", B),)),
    "v7, a Deny whose condition only the vendor knows": snapshot(
        account(bucket(B, policy=policy(v7_grant("s3:GetObject"),
                                        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObjectAcl",
                                         "Resource": OBJ, "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))),
        integrations=(integ("v7-aws", B),)),
    "v7, a Deny below TLS 1.3 on an action nothing allows": snapshot(
        account(bucket(B, policy=policy(v7_grant("s3:GetObject"),
                                        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObjectAcl", "Resource": OBJ,
                                         "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.3"}}}))),
        integrations=(integ("v7-aws", B),)),
    "tenyks user, identity grant and a boundary with a Deny": snapshot(
        account(bucket(B, keys=("cats/images/a.jpg",)),
                users=(tenyks_user({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"],
                                    "Resource": OBJ}, boundary=BOUNDARY_ARN),),
                managed_policies={BOUNDARY_ARN: policy({"Effect": "Allow", "Action": "s3:*Object*", "Resource": "*"},
                                                       {"Effect": "Deny", "Action": "s3:DeleteBucket*", "Resource": "*"})}),
        integrations=(TENYKS,)),
    "tenyks user, granted by the bucket policy only": snapshot(
        account(bucket(B, keys=("cats/images/a.jpg",),
                       policy=policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:user/tenyks-rw"},
                                      "Action": ["s3:GetObject", "s3:GetObjectTagging"], "Resource": OBJ})),
                users=(tenyks_user({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{B}"}),)),
        integrations=(TENYKS,)),
}


@pytest.mark.parametrize("name", sorted(ESTATES))
def test_an_action_no_statement_names_is_denied_by_the_evaluator_too(name):
    from auditor.engine import evaluate as engine_evaluate  # noqa: F401  (binds the profiles, as a scan does)
    from auditor.rulepack import load_packs

    snap = ESTATES[name]
    packs = {p.vendor.id: p for p in load_packs()}
    acct = snap.accounts[0]
    b = acct.buckets[0]
    i = snap.integrations[0]
    from dataclasses import replace

    i = replace(i, profile=packs[i.vendor].vendor)
    target = Target(snap, acct, b, i, packs["baseline"].vendor, (i,))
    actor = _access.actor_for(target, i)
    assert isinstance(actor, _access.Actor)
    actions = sorted(expand_actions("s3:*"))
    unnamed = _access.unmatched_actions(actor, b, actions)
    assert len(unnamed) < len(actions)
    assert bool(unnamed) == ("s3:*" not in name)  # a Deny on s3:* names every action, whatever its condition
    for action in actions:
        keys = [None] if privilege.is_bucket_action(action) else ["cats/images/a.jpg", "elsewhere/auditor-probe"]
        for key in keys:
            for prefix in ((None, "auditor-outside-scope/") if action == "s3:ListBucket" else (None,)):
                asked = _access.ask_s3(target, actor, b, action, key, prefix=prefix)
                if action in unnamed:
                    assert asked.result.decision == Decision.IMPLICITLY_DENIED, (action, key, asked.result)
                    assert not asked.allowed and not asked.unknown


@pytest.mark.parametrize("name", sorted(ESTATES))
def test_findings_are_those_of_asking_every_action(name, monkeypatch):
    snap = ESTATES[name]
    fast = run(snap)
    monkeypatch.setattr(privilege, "unmatched_actions", lambda actor, b, actions: frozenset())
    slow = run(snap)
    assert fast == slow
    excess = [f for f in fast if f.rule_id == "baseline.vendor-excess-privilege"]
    assert excess and all(f.status != Status.UNKNOWN or "depends" in f.message for f in excess)
