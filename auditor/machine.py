"""What a scan asks of the machine: how many cores it may use, how often it collects garbage, which
event loop runs its requests."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
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
    """``asyncio.run(main)`` on ``new_event_loop()``.

    The task asyncio runs ends with no result of its own; ``main``'s is kept beside it. asyncio hands
    Ctrl-C to its task through a handler that names the task, and putting the default handler back
    prints that handler, the task's result with it (twice, through ``signal``'s conversion to an
    enum): for a scan, a repr of the whole snapshot, about 7 MB of text at 10,000 buckets.
    """
    kept: list[T] = []

    async def keep() -> None:
        kept.append(await main)

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(keep())
    return kept[0]
