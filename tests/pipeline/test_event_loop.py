"""The scan's event loop: uvloop's where it is installed, asyncio's otherwise, with the same snapshot."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from auditor import machine
from auditor.collect import collect
from tests.pipeline.test_workers import _config, _estate

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


class _Result:
    """A result as large as a whole snapshot: it counts how often it is printed."""

    printed = 0

    def __repr__(self) -> str:
        _Result.printed += 1
        return "<a whole snapshot>"


def test_run_never_prints_what_the_coroutine_returns():
    # asyncio's runner hands Ctrl-C to its main task through a handler that names the task; putting
    # the default handler back builds that handler's text, the task's result included: a repr of the
    # whole snapshot, twice.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    result = _Result()

    async def snapshot() -> _Result:
        return result

    assert machine.run(snapshot()) is result
    assert _Result.printed == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.slow
def test_both_loops_collect_the_same_snapshot(moto, aws, monkeypatch):
    _estate(aws("s3"), 6)  # objects, V7 grants, CORS
    config = _config(moto.endpoint, 1)
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
