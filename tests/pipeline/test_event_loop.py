"""The scan's event loop: uvloop's where it is installed, asyncio's otherwise, with the same snapshot."""

from __future__ import annotations

import asyncio
import logging
import os
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


class _Stopped(KeyboardInterrupt):
    """What the CLI's SIGTERM handler raises."""


async def _signalled_inside_an_answer() -> str:
    """Reads an answer whose ``data_received`` is where SIGTERM arrives, as it can mid-scan."""
    loop = asyncio.get_running_loop()
    read: asyncio.Future[bytes] = loop.create_future()

    class Answer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transport.write(b"an answer")  # type: ignore[attr-defined]

    class Reader(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between these bytecodes, inside this callback
                pass
            if not read.done():
                read.set_result(data)

    server = await loop.create_server(Answer, "127.0.0.1", 0)
    transport, _ = await loop.create_connection(Reader, "127.0.0.1", server.sockets[0].getsockname()[1])
    try:
        async with asyncio.timeout(10):  # not wait_for: on 3.11 it drops a cancellation that comes with the answer
            await read
        await asyncio.sleep(10)  # cancelled by the signal
        return "finished"
    finally:
        transport.close()
        server.close()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_sigterm_inside_a_callback_unwinds_the_task_and_raises_after_the_loop(loop, monkeypatch, capfd, caplog):
    # uvloop runs a signal handler inside the callback that is running when the signal arrives, and
    # logs what the handler raises there with its traceback: "Fatal error on transport".
    if loop == "asyncio":
        monkeypatch.setitem(sys.modules, "uvloop", None)

    def stop(signum, frame):
        raise _Stopped()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(_Stopped):
            machine.run(_signalled_inside_an_answer())
        assert signal.getsignal(signal.SIGTERM) is stop
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert capfd.readouterr().err == ""


def test_a_sigterm_handler_that_returns_lets_the_coroutine_finish():
    received = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))

    async def shielded() -> str:
        try:
            await _signalled_inside_an_answer()
        except asyncio.CancelledError:
            return "cleaned up"
        return "not cancelled"

    try:
        assert machine.run(shielded()) == "cleaned up"
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert received == [signal.SIGTERM]  # once, after the loop


def test_a_stopped_scan_is_stopped_even_when_its_unwinding_fails():
    def stop(signum, frame):
        raise _Stopped()

    async def fails_to_clean_up() -> str:
        try:
            return await _signalled_inside_an_answer()
        except asyncio.CancelledError:
            raise OSError("a connection broke while closing") from None

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(_Stopped) as stopped:
            machine.run(fails_to_clean_up())
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert isinstance(stopped.value.__context__, OSError)


def test_run_leaves_the_default_sigterm_alone():
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    seen = []

    async def look() -> None:
        seen.append(signal.getsignal(signal.SIGTERM))

    try:
        machine.run(look())
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == [signal.SIG_DFL]


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
