"""A large snapshot evaluated across processes gives the findings of one process."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os

import pytest

from auditor import engine, spread
from auditor.model import ApiError, BucketState, Snapshot, Status
from auditor.rulepack import load_packs
from auditor.scan import evaluate_snapshot
from tests.checks.snap import (
    ACCT,
    DENIED_POLICY,
    V7_ROLE,
    account,
    bucket,
    integ,
    policy,
    role,
    snapshot,
    user,
)

KEYS = ("cats/images/cat-1.jpg", "cats/annotations.json", "cats/predictions.json")


def _bucket(i: int) -> BucketState:
    """Buckets of every shape the rules tell apart: granted to a vendor, public, unreadable, plain."""
    name = f"data-{i:03d}"
    if i % 5 == 0:  # granted to V7's role: an inferred integration
        return bucket(name, policy=policy({"Effect": "Allow", "Principal": {"AWS": V7_ROLE},
                                           "Action": ["s3:GetObject", "s3:ListBucket"],
                                           "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]}))
    if i % 5 == 1:
        return bucket(name, policy=policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                           "Resource": f"arn:aws:s3:::{name}/*"}))
    if i % 5 == 2:
        return bucket(name, errors=(DENIED_POLICY,))
    if i % 5 == 3:
        return bucket(name, policy={"Statement": "not a policy"})  # unreadable: a recorded MalformedPolicy
    return bucket(name, keys=KEYS)


def _estate(n: int) -> Snapshot:
    read = policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                   "Resource": ["arn:aws:s3:::cats-data/*", "arn:aws:s3:::cats-data"]})
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "277710232653"}})
    prod = account(bucket("cats-data", keys=KEYS), bucket("nexus-assets"), *(_bucket(i) for i in range(n)),
                   users=(user("tenyks-rw", read),), roles=(role("datature-nexus", trust),))
    # The same account under a second label: its findings are reported once.
    again = dataclasses.replace(prod, name="prod-again", buckets=prod.buckets[:5])
    other = dataclasses.replace(account(*(_bucket(i) for i in range(n // 2))), name="staging",
                                account_id="444455556666",
                                errors=(ApiError("GetAccountAuthorizationDetails", "AccessDenied", "no"),))
    integrations = (
        integ("tenyks", "cats-data", user="tenyks-reader", dataset="cats", images_dir="images"),  # no such user
        integ("tenyks", "cats-data", "read-write", user="tenyks-rw", dataset="cats", images_dir="images",
              metadata_bucket="cats-meta", metadata_dir="meta"),  # no such metadata bucket
        integ("datature", "nexus-assets", role_arn=f"arn:aws:iam::{ACCT}:role/nope", prefix="images/"),
        integ("datature", "nexus-assets", role_arn=f"arn:aws:iam::{ACCT}:role/datature-nexus", prefix="images/"),
        integ("v7-aws", "typo-bucket"),  # no such bucket
        integ("v7-aws", "data-007"),
    )
    return snapshot(prod, again, other, integrations=integrations)


@pytest.fixture(scope="module")
def packs():
    return load_packs()


@pytest.fixture(scope="module")
def estate() -> Snapshot:
    return _estate(40)


@pytest.fixture
def chunks_done_here(monkeypatch) -> list[tuple[int, int]]:
    """The chunks this process evaluated. It starts only once a worker process has finished one, so
    both take part however fast the machine starts processes."""
    futures: list[concurrent.futures.Future] = []
    real_submit = concurrent.futures.ProcessPoolExecutor.submit

    def submit(self, fn, *args, **kwargs):
        future = real_submit(self, fn, *args, **kwargs)
        futures.append(future)
        return future

    done_here: list[tuple[int, int]] = []
    real_units = spread.evaluate_units

    def units(prepared, start, end, context=None):
        if futures and not done_here:
            concurrent.futures.wait(futures[:1], timeout=120)
        done_here.append((start, end))
        return real_units(prepared, start, end, context)

    monkeypatch.setattr(concurrent.futures.ProcessPoolExecutor, "submit", submit)
    monkeypatch.setattr(spread, "evaluate_units", units)
    monkeypatch.setattr(spread, "MIN_UNITS_PER_PROCESS", 10)
    return done_here


def test_the_estate_has_what_the_comparison_needs(estate, packs):
    found = engine.evaluate(estate, packs)
    statuses = {f.status for f in found}
    assert {Status.PASS, Status.FAIL, Status.UNKNOWN} <= statuses
    assert any(f.inferred for f in found)  # inferred integrations
    assert any("not_evaluated" in f.evidence for f in found)  # rules dropped for what is missing
    assert any(f.same_fact_as for f in found)  # linked across rules
    assert {f.account_id for f in found} == {ACCT, "444455556666"}
    assert len(engine.prepare(estate, packs).units) > 80


@pytest.mark.slow
def test_two_processes_find_what_one_does(estate, packs, chunks_done_here):
    one = engine.evaluate(estate, packs)
    two = spread.evaluate(estate, packs, workers=2)
    ranges = spread.chunks(len(engine.prepare(estate, packs).units), 2)
    assert 0 < len(chunks_done_here) < len(ranges)  # the worker process did the others
    assert (0, ranges[0][1]) not in chunks_done_here
    assert two == one


@pytest.mark.slow
def test_a_worker_that_dies_leaves_its_chunks_to_this_process(estate, packs, chunks_done_here, monkeypatch):
    monkeypatch.setattr(spread, "_start", _die)
    two = spread.evaluate(estate, packs, workers=2)
    assert len(chunks_done_here) == len(spread.chunks(len(engine.prepare(estate, packs).units), 2))
    assert two == engine.evaluate(estate, packs)


def _die(prepared) -> None:
    os._exit(3)


def test_one_process_below_the_threshold_or_when_asked(estate, packs, monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(spread, "ProcessPoolExecutor", no_pool)
    units = len(engine.prepare(estate, packs).units)
    assert spread.plan_processes(units, 0) == 1  # a small snapshot: not worth a process
    evaluate_snapshot(estate, packs, workers=0)
    evaluate_snapshot(estate, packs)  # a library call stays in its process unless asked
    monkeypatch.setattr(spread, "MIN_UNITS_PER_PROCESS", 10)
    assert spread.plan_processes(units, 1) == 1
    assert spread.plan_processes(units, 4) == 4
    assert spread.plan_processes(25, 4) == 2
    result = evaluate_snapshot(estate, packs, workers=1)
    assert result.findings == engine.evaluate(estate, packs)


def test_chunks_cover_every_unit_once():
    for units, processes in ((1, 2), (7, 2), (12000, 2), (12001, 3), (50, 8)):
        ranges = spread.chunks(units, processes)
        assert [i for start, end in ranges for i in range(start, end)] == list(range(units))


@pytest.mark.parametrize("scan, asked", [("", 0), ("[scan]\nworkers = 3\n", 3), ("[scan]\nworkers = 1\n", 1)])
def test_the_cli_evaluates_with_the_configured_workers(estate, tmp_path, monkeypatch, scan, asked):
    from auditor.cli import main
    from auditor.snapshot import save_snapshot

    seen: list[int] = []
    real = spread.plan_processes
    monkeypatch.setattr(spread, "plan_processes", lambda units, workers=1: seen.append(workers) or real(units, workers))
    save_snapshot(estate, tmp_path / "snap.json")
    (tmp_path / "auditor.toml").write_text(scan + '[[accounts]]\nname = "prod"\n')
    code = main(["scan", "--from-snapshot", str(tmp_path / "snap.json"), "--config", str(tmp_path / "auditor.toml"),
                 "--no-history", "--quiet", "--format", "json", "--output-dir", str(tmp_path / "out")])
    assert code in (1, 3) and seen == [asked]
