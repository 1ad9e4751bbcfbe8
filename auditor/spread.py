"""Evaluation of a large snapshot spread over processes, so that it uses every core.

Rules cost about a millisecond of CPU per bucket: ten thousand buckets are ten seconds on one
core. The engine cuts an evaluation into independent units (an account's rules, a bucket's, an
integration's) whose findings are concatenated in order; here runs of them are handed out as
chunks. Spawned processes get the prepared evaluation once, when they start, and take chunks from
the front, two queued for each so that none waits; this process takes them from the back, one at a
time, until the two meet. The parts are put back in unit order before the engine finishes the
evaluation, so the findings do not depend on how many processes took part. A process that cannot
start or dies leaves its chunks to this one.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from auditor.engine import Lookups, Part, Prepared, evaluate_units, finish, prepare
from auditor.machine import SCAN_GC_THRESHOLD, available_cores, fewer_collections
from auditor.model import Finding, Snapshot
from auditor.rulepack import RulePack

# Fewer units than this per process and starting one (about a second: imports, the snapshot) costs
# more than it saves.
MIN_UNITS_PER_PROCESS = 2000
# Chunks per process: enough that one process does not wait long for the other's last chunk.
CHUNKS_PER_PROCESS = 32


def plan_processes(units: int, workers: int = 0) -> int:
    """How many processes evaluate ``units`` units: ``workers`` (0: one per core), fewer when small."""
    return max(1, min(workers or available_cores(), units // MIN_UNITS_PER_PROCESS))


def evaluate(snapshot: Snapshot, packs: Sequence[RulePack], workers: int = 1) -> tuple[Finding, ...]:
    """The engine's ``evaluate``, over up to ``workers`` processes (0: one per core) when the snapshot is large."""
    from auditor.checks._access import release_caches

    with fewer_collections():
        prepared = prepare(snapshot, packs)
        processes = plan_processes(len(prepared.units), workers)
        try:
            if processes <= 1:
                return finish(prepared, [evaluate_units(prepared, 0, len(prepared.units))])
            return finish(prepared, _spread(prepared, processes))
        finally:
            release_caches()


def chunks(units: int, processes: int) -> list[tuple[int, int]]:
    size = max(1, math.ceil(units / (processes * CHUNKS_PER_PROCESS)))
    return [(i, min(i + size, units)) for i in range(0, units, size)]


def _spread(prepared: Prepared, processes: int) -> list[Part]:
    ranges = chunks(len(prepared.units), processes)
    parts: list[Part | None] = [None] * len(ranges)
    context = Lookups(prepared)
    futures: dict[int, Future[Part]] = {}
    front, back = 0, len(ranges)  # the workers take chunks from the front, this process from the back
    ahead = 2 * (processes - 1)  # chunks queued for the workers: one running and one waiting each
    pool: ProcessPoolExecutor | None
    try:
        # spawn, not fork: this process may have run an event loop and still have threads (a spinner).
        pool = ProcessPoolExecutor(processes - 1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start, initargs=(prepared,))
    except Exception:  # noqa: BLE001 — no processes here (no semaphores, a sandbox): this one does it all
        pool = None
    feeding = pool is not None
    try:
        while True:
            while feeding and pool is not None and front < back and sum(not f.done() for f in futures.values()) < ahead:
                try:
                    futures[front] = pool.submit(_evaluate, *ranges[front])
                except Exception:  # noqa: BLE001 — no process could be started, or one died: this one goes on
                    feeding = False
                    break
                front += 1
            if front >= back:
                break
            back -= 1
            parts[back] = evaluate_units(prepared, *ranges[back], context)
        for i, future in futures.items():
            try:
                parts[i] = future.result()
            except Exception:  # noqa: BLE001 — a worker that died or failed: this process does its chunk
                parts[i] = evaluate_units(prepared, *ranges[i], context)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)  # every chunk is in: its processes end on their own
    return [p for p in parts if p is not None]


# In a worker process: the evaluation it takes part in, and its lookups.
_PREPARED: Prepared | None = None
_CONTEXT: Lookups | None = None


def _start(prepared: Prepared) -> None:
    global _PREPARED, _CONTEXT
    gc.set_threshold(max(gc.get_threshold()[0], SCAN_GC_THRESHOLD), *gc.get_threshold()[1:])
    _PREPARED, _CONTEXT = prepared, Lookups(prepared)


def _evaluate(start: int, end: int) -> Part:
    assert _PREPARED is not None
    return evaluate_units(_PREPARED, start, end, _CONTEXT)
