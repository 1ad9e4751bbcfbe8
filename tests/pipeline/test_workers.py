"""A large account's buckets collected across processes give the snapshot and findings of one process."""

from __future__ import annotations

import dataclasses
import json

import pytest

from auditor.collect import collect
from auditor.collect import workers as workers_mod
from auditor.config import parse_config
from auditor.engine import evaluate
from auditor.rulepack import load_packs

V7 = "arn:aws:iam::258327614892:role/external_s3"


def _estate(s3, n: int) -> None:
    for i in range(n):
        name = f"shard-{i:03d}"
        s3.create_bucket(Bucket=name)
        if i % 3 == 0:
            s3.put_object(Bucket=name, Key=f"images/{i}.jpg", Body=b"x")
        if i % 4 == 0:
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": V7}, "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{name}/*"}]}))
        if i % 5 == 0:
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [
                {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]})


def _config(endpoint: str, workers: int):
    return parse_config(f"""
[scan]
concurrency = 8
{f"workers = {workers}" if workers else ""}

[[accounts]]
name = "main"
endpoint_url = "{endpoint}"

[[integrations]]
vendor = "v7-aws"
account = "main"
bucket = "shard-004"
""", "auditor.toml")


@pytest.fixture
def started(monkeypatch) -> list[int]:
    """The worker processes each scan's pool was asked for (one entry per pool started)."""
    asked: list[int] = []
    real_executor = workers_mod.BucketPool.executor

    def spy(self, extra):
        asked.append(extra)
        return real_executor(self, extra)

    monkeypatch.setattr(workers_mod.BucketPool, "executor", spy)
    return asked


@pytest.mark.slow
def test_two_processes_collect_what_one_does(moto, aws, monkeypatch, started):
    _estate(aws("s3"), 24)
    monkeypatch.setattr(workers_mod, "MIN_BUCKETS_PER_PROCESS", 4)
    one = collect(_config(moto.endpoint, 1))
    assert started == []
    two = collect(_config(moto.endpoint, 2))
    assert started and started[0] == 1  # one worker process besides this one

    assert [b.name for b in two.accounts[0].buckets] == [b.name for b in one.accounts[0].buckets]
    assert two.accounts == one.accounts
    packs = load_packs()
    assert evaluate(two, packs) == evaluate(one, packs)


@pytest.mark.slow
@pytest.mark.parametrize("needed", [True, False])
def test_by_default_more_processes_only_when_one_is_cpu_bound(moto, aws, monkeypatch, started, needed):
    """Without [scan] workers, the worker processes start once this process is CPU-bound (here: as
    soon as it is measured, or never); either way the snapshot is the one-process snapshot."""
    _estate(aws("s3"), 24)
    monkeypatch.setattr(workers_mod, "MIN_BUCKETS_PER_PROCESS", 4)
    monkeypatch.setattr(workers_mod, "available_cores", lambda: 2)
    monkeypatch.setattr(workers_mod, "LOAD_CHECK_SECONDS", 0.05)
    monkeypatch.setattr(workers_mod, "LOAD_WINDOW", 1)
    monkeypatch.setattr(workers_mod, "MIN_CALLS_MEASURED", 1)
    monkeypatch.setattr(workers_mod, "CPU_BOUND", 0.0 if needed else 1e9)
    monkeypatch.setattr(workers_mod, "chunks", lambda n, processes: [range(i, min(i + 2, n)) for i in range(0, n, 2)])
    one = collect(_config(moto.endpoint, 1))
    assert started == []
    default = collect(_config(moto.endpoint, 0))
    assert started == ([1] if needed else [])
    assert default.accounts == one.accounts


def test_the_load_check_skips_the_first_interval_and_measures_the_latest():
    latencies = [0.050] * 100
    # The first second lists and parses the account and opens the connections: 1 s of CPU for 100 calls.
    # Then 0.6 ms per call: 64 calls in flight behind 50 ms take 0.77 of a core.
    samples = [(1.0, 100)] + [(1.0 + 0.6 * k, 100 + 1000 * k) for k in range(1, 12)]
    check = workers_mod.LoadCheck()
    assert not any(check.cpu_bound(cpu, calls, latencies, 64) for cpu, calls in samples)
    # Measured from the start instead, the same scan looks CPU-bound (0.9 ms per call).
    assert workers_mod.cpu_bound((1.0 + 0.6 * 3) / (100 + 3000), 64, 0.050)

    # 1 ms per call from the second interval on: CPU-bound once the window is full.
    check = workers_mod.LoadCheck()
    answers = [check.cpu_bound(0.2 + 1.0 * k, 50 + 1000 * k, latencies, 64) for k in range(10)]
    assert answers == [False] * workers_mod.LOAD_WINDOW + [True] * (10 - workers_mod.LOAD_WINDOW)


def test_a_few_slow_seconds_do_not_make_a_scan_cpu_bound():
    latencies = [0.050] * 100
    # ms per call: two seconds at half speed, then three at two thirds (a shared machine)
    per_second = [0.6] * 8 + [1.2] * 2 + [0.6] * 6 + [0.9] * 3 + [0.6] * 6
    check = workers_mod.LoadCheck()
    cpu, answers = 0.0, []
    for k, ms in enumerate(per_second):
        cpu += ms
        answers.append(check.cpu_bound(cpu, 1000 * (k + 1), latencies, 64))
    assert not any(answers)
    # The same slow seconds, sustained: it is.
    check = workers_mod.LoadCheck()
    cpu, answers = 0.0, []
    for k, ms in enumerate([0.6] * 8 + [1.2] * 12):
        cpu += ms
        answers.append(check.cpu_bound(cpu, 1000 * (k + 1), latencies, 64))
    assert any(answers)


def test_the_load_check_needs_calls_and_their_latencies():
    check = workers_mod.LoadCheck()
    assert not any(check.cpu_bound(1.0 * k, 5 * k, [0.05] * 10, 64) for k in range(9))  # too few calls
    check = workers_mod.LoadCheck()
    assert not any(check.cpu_bound(1.0 * k, 1000 * k, [], 64) for k in range(9))  # no latency known


def test_a_process_is_cpu_bound_when_the_bound_takes_more_than_a_core():
    # 0.7 ms of CPU per call, 64 calls in flight: one core keeps up with 50 ms answers, not with 20 ms ones.
    assert not workers_mod.cpu_bound(0.0007, 64, 0.050)
    assert workers_mod.cpu_bound(0.0007, 64, 0.020)
    assert not workers_mod.cpu_bound(0.0007, 64, 0.0)


def test_chunks_cover_every_index_once():
    for n in (0, 1, 24, 25, 26, 999, 10_000):
        for processes in (1, 2, 3, 8):
            parts = workers_mod.chunks(n, processes)
            assert [i for part in parts for i in part] == list(range(n))


def test_processes_follow_the_setting_and_the_estate(monkeypatch):
    settings = parse_config("[scan]\nworkers = 3\n[[accounts]]\nname = 'a'\n", "auditor.toml").scan
    assert workers_mod.plan_processes(settings, 1000) == 1  # too few buckets to pay for a process
    assert workers_mod.plan_processes(settings, 10_000) == 3
    monkeypatch.setattr(workers_mod, "available_cores", lambda: 2)
    assert workers_mod.plan_processes(dataclasses.replace(settings, workers=0), 10_000) == 2


def test_credentials_never_show_in_a_repr():
    creds = workers_mod.Credentials("AKIAEXAMPLE", "secret-value", "token-value")
    assert "secret-value" not in repr(creds) and "token-value" not in repr(creds)
    chunk = workers_mod.Chunk(account=None, region="us-east-1", credentials=creds, settings=None,  # type: ignore[arg-type]
                              account_id="1", concurrency=1, entries=(), integrations=())
    assert "secret-value" not in repr(chunk)


async def _endpoints():
    import aioboto3

    from auditor.collect.session import AccountSession
    from auditor.config import AccountConfig, ScanSettings

    session = aioboto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name="eu-west-1")
    acct = AccountSession(AccountConfig(name="a"), session, ScanSettings(), "eu-west-1")
    try:
        s3 = await acct.client("s3")
        model = s3.meta.service_model
        resolve = s3._ruleset_resolver.construct_endpoint
        provider = s3._ruleset_resolver._provider
        evaluated: list[dict] = []
        rules = provider.resolve_endpoint

        def counted(**params):
            evaluated.append(params)
            return rules(**params)

        provider.resolve_endpoint = counted
        policy, listing = model.operation_model("GetBucketPolicy"), model.operation_model("ListObjectsV2")
        a1 = await resolve(policy, {"Bucket": "alpha"}, {})
        a2 = await resolve(policy, {"Bucket": "alpha"}, {})
        b = await resolve(policy, {"Bucket": "beta"}, {})
        dotted = await resolve(policy, {"Bucket": "with.dots"}, {})
        listed = await resolve(listing, {"Bucket": "beta", "Prefix": "x/"}, {})
        # Plain names of one length share one evaluation of the rules; the others are resolved as they are.
        before = len(evaluated)
        same_length = [await resolve(policy, {"Bucket": name}, {}) for name in ("gamma", "delta", "a-b-c", "x1-9z")]
        shared = len(evaluated) - before
        express = await resolve(policy, {"Bucket": "mybucket--euw1-az1--x-s3"}, {})
        express_params = dict(evaluated[-1])
        express_direct = rules(**express_params)
        doubled = await resolve(policy, {"Bucket": "ab--cd"}, {})
        return a1, a2, b, dotted, listed, same_length, shared, (express, express_direct, express_params), doubled
    finally:
        await acct.aclose()


def test_endpoints_are_resolved_once_per_bucket_and_stay_per_bucket():
    import asyncio

    a1, a2, b, dotted, listed, same_length, shared, express, doubled = asyncio.run(_endpoints())
    assert a1 == a2  # the second request of the same shape reuses the answer
    assert a1.url == "https://alpha.s3.eu-west-1.amazonaws.com"
    assert [e.url for e in same_length] == [f"https://{n}.s3.eu-west-1.amazonaws.com"
                                            for n in ("gamma", "delta", "a-b-c", "x1-9z")]
    assert shared == 0 and all(e.properties == a1.properties and e.headers == a1.headers for e in same_length)
    # An S3 Express name ("--x-s3") is no plain name: its own rules, with its own name.
    got, direct, params = express
    assert params["Bucket"] == "mybucket--euw1-az1--x-s3" and got.url == direct.url
    assert "mybucket--euw1-az1--x-s3" in got.url and "s3express" in got.url
    assert doubled.url == "https://ab--cd.s3.eu-west-1.amazonaws.com"
    assert b.url == "https://beta.s3.eu-west-1.amazonaws.com"
    assert dotted.url == "https://s3.eu-west-1.amazonaws.com/with.dots"  # path style: a dotted name breaks TLS
    assert listed.url == b.url
