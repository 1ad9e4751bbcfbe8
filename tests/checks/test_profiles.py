"""Checks read the vendor's profile: one source per fact (the statement a finding proposes is the one
``plan`` writes), zones and needs from the profile, provider applicability."""

from __future__ import annotations

import dataclasses

from auditor.model import Status
from auditor.plan import make_plan
from auditor.rulepack import load_packs
from tests.checks.snap import V7_ROLE, account, bucket, findings, integ, one, policy, run, snapshot, user

READ_ONLY_V7 = {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::radiology-scans/*"}


def test_a_failing_grant_proposes_the_statement_plan_writes():
    snap = snapshot(account(bucket(policy=policy(READ_ONLY_V7), keys=("slides/a.png", "darwin/t.png"))),
                    integrations=(integ("v7-aws", mode="read-write", prefix="darwin/"),))
    f = one(snap, "v7-aws.write-grant")
    assert f.status == Status.FAIL
    assert '"Sid": "DarwinThumbnails"' in f.remediation, f.remediation
    bound = dataclasses.replace(snap.integrations[0], profile=next(p.vendor for p in load_packs() if p.vendor.id == "v7-aws"))
    plan = make_plan(snap, bound, run(snap))
    sids = [s.get("Sid") for c in plan.changes if c.kind == "bucket-policy" for s in c.after["Statement"]]
    assert "DarwinThumbnails" in sids, sids


def test_least_privilege_needs_come_from_the_profile():
    grant = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::radiology-scans/studies/*"}
    snap = snapshot(account(bucket(keys=("studies/a.dcm",)), users=(user("rb", policy(grant)),)),
                    integrations=(integ("redbrick", user="rb", prefix="studies"),))
    f = one(snap, "baseline.vendor-excess-privilege")
    # RedBrick's [needs.read-only] is s3:GetObject on its folder: PutObject is beyond it.
    assert f.status == Status.FAIL and "s3:PutObject" in f.message, f.message
    rw = snapshot(account(bucket(keys=("studies/a.dcm",)), users=(user("rb", policy(grant)),)),
                  integrations=(integ("redbrick", mode="read-write", user="rb", prefix="studies"),))
    assert one(rw, "baseline.vendor-excess-privilege").status == Status.PASS


def test_a_rule_limited_to_a_provider_gives_no_finding_elsewhere():
    packs = load_packs()
    v7 = next(p for p in packs if p.vendor.id == "v7-aws")
    only_wasabi = tuple(dataclasses.replace(r, providers=("wasabi",)) if r.id == "v7-aws.cors" else r for r in v7.rules)
    limited = tuple(dataclasses.replace(p, rules=only_wasabi) if p is v7 else p for p in packs)
    snap = snapshot(account(bucket(policy=policy(READ_ONLY_V7))), integrations=(integ("v7-aws"),))
    from auditor.engine import evaluate

    assert [f for f in evaluate(snap, limited) if f.rule_id == "v7-aws.cors"] == []
    assert len(findings(snap, "v7-aws.cors")) == 1  # the shipped rule applies on AWS
