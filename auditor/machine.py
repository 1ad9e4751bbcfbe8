"""What a scan asks of the machine: how many cores it may use, how often it collects garbage, which
event loop runs its requests."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

# Net allocations between two young-generation collections while a scan collects or evaluates.
# Python's default (700) runs a collection every few requests, and moves every in-flight request's
# objects to the older generations, whose collections then walk everything the scan holds (a tenth
# of its CPU while collecting, a fifth while evaluating). With this many, a request's objects are
# gone before the next collection.
SCAN_GC_THRESHOLD = 50_000


def available_cores() -> int:
    """The cores this process may run on: what ``[scan] workers = 0`` means."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Young-generation collections every ``SCAN_GC_THRESHOLD`` allocations for the duration."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], SCAN_GC_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """An event loop for a scan's requests: uvloop's where it is installed (a dependency everywhere but
    Windows), asyncio's otherwise. A scan's requests spend about a tenth of their CPU in the event
    loop and its sockets, which uvloop does in C; everything the scan sends and reads is the same."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on ``new_event_loop()``, with SIGTERM delivered as asyncio delivers Ctrl-C.

    The task asyncio runs ends with no result of its own; ``main``'s is kept beside it. asyncio hands
    Ctrl-C to its task through a handler that names the task, and putting the default handler back
    prints that handler, the task's result with it (twice, through ``signal``'s conversion to an
    enum): for a scan, a repr of the whole snapshot, about 7 MB of text at 10,000 buckets.

    A Python SIGTERM handler (the CLI's raises to unwind) runs once the loop is closed, not inside
    it: while the loop runs, the signal cancels the task. uvloop runs signal handlers inside whatever
    callback is running, an answer's ``data_received`` included, and logs an exception raised there
    with its traceback instead of passing it on.
    """
    kept: list[T] = []
    sigterm = _SigtermCancels()

    async def keep() -> None:
        sigterm.task = asyncio.current_task()
        if sigterm.received:  # before the task began
            main.close()
            return
        kept.append(await main)

    try:
        with sigterm, asyncio.Runner(loop_factory=new_event_loop) as runner:
            sigterm.loop = runner.get_loop()
            try:
                runner.run(keep())
            except asyncio.CancelledError:
                if not sigterm.received:
                    raise
    finally:
        sigterm.deliver()  # also when the task, stopping, raised something else: the scan was stopped
    if not kept:  # stopped, and the handler let it be
        raise asyncio.CancelledError()
    return kept[0]


class _SigtermCancels:
    """While a loop runs: SIGTERM cancels its task, and the handler that was there runs afterwards
    (``deliver``). Only a Python handler is deferred; with none (the default kills the process at
    once, which prints nothing) or off the main thread, SIGTERM is left as it is."""

    def __init__(self) -> None:
        self.task: asyncio.Task[Any] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.previous: Any = None
        self.received = False

    def __enter__(self) -> _SigtermCancels:
        try:
            current = signal.getsignal(signal.SIGTERM)
            if callable(current):
                self.previous = current
                signal.signal(signal.SIGTERM, self._cancel)
        except ValueError:  # not the main thread
            self.previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)

    def _cancel(self, signum: int, frame: Any) -> None:
        if self.received:  # a second one while the task unwinds: at once, as a second Ctrl-C
            self.previous(signum, frame)
            return
        self.received = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(lambda: None)  # wakes a loop waiting on its sockets

    def deliver(self) -> None:
        """Runs the handler of a SIGTERM received while the loop ran: the CLI's raises from here."""
        if self.received and self.previous is not None:
            self.previous(signal.SIGTERM, None)
