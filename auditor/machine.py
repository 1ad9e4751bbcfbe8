"""What a scan asks of the machine: how many cores it may use, how often it collects garbage."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator

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
