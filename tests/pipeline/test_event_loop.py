"""The scan's event loop: uvloop's where it is installed, asyncio's otherwise, with the same snapshot."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from auditor import machine
from auditor.collect import collect
from auditor.config import parse_config

uvloop = pytest.importorskip("uvloop")  # a dependency everywhere but Windows


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_a_scan_runs_on_uvloop_where_it_is_installed():
    assert isinstance(machine.run(_running_loop()), uvloop.Loop)


def test_without_uvloop_a_scan_runs_on_asyncio(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now fails, as where it is not installed
    loop = machine.run(_running_loop())
    assert not isinstance(loop, uvloop.Loop)
    assert isinstance(loop, asyncio.BaseEventLoop)


def test_run_closes_its_loop_and_raises_what_the_coroutine_raises():
    async def fails() -> None:
        raise LookupError("from the coroutine")

    with pytest.raises(LookupError, match="from the coroutine"):
        machine.run(fails())
    assert machine.run(_running_loop()).is_closed()


@pytest.mark.slow
def test_both_loops_collect_the_same_snapshot(moto, aws, monkeypatch):
    s3 = aws("s3")
    for i in range(6):
        name = f"loop-{i}"
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key=f"images/{i}.jpg", Body=b"x")
        if i % 2:
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::258327614892:role/external_s3"},
                 "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
    config = parse_config(f"""
[[accounts]]
name = "main"
endpoint_url = "{moto.endpoint}"

[[integrations]]
vendor = "v7-aws"
account = "main"
bucket = "loop-1"
""", "auditor.toml")
    made: list[asyncio.AbstractEventLoop] = []
    real = machine.new_event_loop

    def recording() -> asyncio.AbstractEventLoop:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(machine, "new_event_loop", recording)
    with_uvloop = collect(config)
    monkeypatch.setitem(sys.modules, "uvloop", None)
    with_asyncio = collect(config)

    assert len(made) == 2 and isinstance(made[0], uvloop.Loop)
    assert isinstance(made[1], asyncio.BaseEventLoop) and not isinstance(made[1], uvloop.Loop)
    assert len(with_uvloop.accounts[0].buckets) == 6
    assert with_asyncio.accounts == with_uvloop.accounts
