"""Bucket collection spread over worker processes, so that a large account uses every core.

Each call costs the scanner CPU inside botocore (signing, hooks, parsing: most of a millisecond),
so when the network answers fast, one event loop on one core cannot keep many calls in flight.
The buckets of an account are cut into chunks; the scanning process and ``workers - 1`` spawned
processes take chunks from one queue until none is left, each with its own event loop, clients,
adaptive retry and a share of ``concurrency`` (reserved from the scan-wide bound while they run,
so that requests in flight never exceed it). Unless ``[scan] workers`` says how many, the spawned
processes start only once the scanning process is CPU-bound (``cpu_bound``). One account at a
time is spread this way. Workers get the account's
resolved, short-lived credentials through the pipe of their own process — never through the
environment or a file — and return plain ``BucketState`` values; results are put back in
ListBuckets order, so a scan's snapshot does not depend on how many processes took part.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import math
import multiprocessing
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from auditor.collect.calls import BULK, Limiter
from auditor.config import AccountConfig, ScanSettings
from auditor.machine import available_cores, fewer_collections, new_event_loop
from auditor.model import COLLECTOR, ApiError, BucketState, Integration
from auditor.redact import redact_error

# Fewer buckets than this per process and the start-up of a process (about 1.5 s of CPU: imports,
# service models, connections) costs more than it can save.
MIN_BUCKETS_PER_PROCESS = 2500

# One process is CPU-bound when keeping the call bound full would take more than this many cores.
CPU_BOUND = 1.1
# How often a scan that could use more processes checks whether it needs them, over how many of the
# latest intervals, and the fewest calls completed in them for a measurement.
LOAD_CHECK_SECONDS = 1.0
LOAD_WINDOW = 5
MIN_CALLS_MEASURED = 50

# Buckets are handed to ``settle`` in groups of this many, as each group is collected: large enough
# that the account-wide work it does per group is small, small enough that the last group's follow-up
# reads are a short tail.
SETTLE_GROUP = 50

# What is done with collected buckets, in the scanning process, as soon as a group of them is in:
# the follow-up reads that depend on what the whole account holds (IAM), such as the probes of the
# buckets of inferred integrations.
Settle = Callable[[list[BucketState]], Awaitable[list[BucketState]]]


async def collect_one(acct: Any, account_id: str, entry: dict[str, Any], integrations: list[Integration],
                      settings: ScanSettings, limit: Limiter) -> BucketState:
    """Everything collected for one bucket: its settings, its key sample, its content probes."""
    from auditor.collect import objects as objects_mod
    from auditor.collect import s3 as s3_mod

    try:
        # A bucket's settings and key sample are the bulk of a scan; its probes follow them first.
        bulk = BULK.set(True)
        try:
            state = await s3_mod.collect_bucket(acct, account_id, entry, integrations, settings, limit)
        finally:
            BULK.reset(bulk)
        return await objects_mod.probe_objects(acct, state, integrations, settings, limit)
    except Exception as e:  # noqa: BLE001
        # Recorded on this bucket: every rule about it is unknown with the reason; the others go on.
        return BucketState(name=entry["Name"], account_id=account_id, region=entry.get("BucketRegion"),
                           errors=(ApiError(COLLECTOR, "CollectorError", redact_error(e)),))


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None

    def __repr__(self) -> str:  # never shown, even in a traceback
        return "Credentials(<redacted>)"


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of work for a worker process."""

    account: AccountConfig
    region: str
    credentials: Credentials
    settings: ScanSettings
    account_id: str
    concurrency: int
    entries: tuple[dict[str, Any], ...]
    integrations: tuple[Integration, ...]


def cpu_bound(cpu_per_call: float, concurrency: int, latency: float) -> bool:
    """Whether one process cannot keep ``concurrency`` calls in flight: each call costs it
    ``cpu_per_call`` seconds of CPU, and a call answers after ``latency`` seconds, so keeping the
    bound full takes ``cpu_per_call * concurrency / latency`` cores. Above one (with a margin for
    the event loop's own work), more processes make the scan faster; below, the network is the
    limit and more processes only add their start-up."""
    return latency > 0 and cpu_per_call * concurrency / latency > CPU_BOUND


class LoadCheck:
    """Whether this process is CPU-bound (``cpu_bound``) over the last ``LOAD_WINDOW`` intervals,
    from its CPU time and completed calls sampled every ``LOAD_CHECK_SECONDS``. The first interval
    is never measured: besides its calls, it opens every connection and lists and parses the
    account. A short burst, that first interval or a few slow seconds of a shared machine, does not
    start processes that would only add their CPU to a scan the network bounds."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque(maxlen=LOAD_WINDOW + 1)

    def cpu_bound(self, cpu: float, calls: int, latencies: Sequence[float], concurrency: int) -> bool:
        """Add a sample (CPU seconds, calls completed so far) and say whether the window is
        CPU-bound; a fast call is the tenth percentile of ``latencies``, the latest calls' seconds
        from sent to answered (those that waited least for this process)."""
        self._samples.append((cpu, calls))
        if len(self._samples) <= LOAD_WINDOW or not latencies:
            return False
        first_cpu, first_calls = self._samples[0]
        done = calls - first_calls
        if done < MIN_CALLS_MEASURED:
            return False
        latency = sorted(latencies)[len(latencies) // 10]
        return cpu_bound((cpu - first_cpu) / done, concurrency, latency)


def plan_processes(settings: ScanSettings, buckets: int) -> int:
    """How many processes (this one included) collect ``buckets`` buckets."""
    wanted = settings.workers or available_cores()
    return max(1, min(wanted, buckets // MIN_BUCKETS_PER_PROCESS))


def chunks(n_items: int, processes: int) -> list[range]:
    """Index ranges, about four per process: small enough to balance, large enough that a
    chunk's tail (its last requests, when concurrency drops) is a small part of it."""
    size = max(25, math.ceil(n_items / (processes * 4)))
    return [range(i, min(i + size, n_items)) for i in range(0, n_items, size)]


class BucketPool:
    """The worker processes of one scan, started on first use and shared by its accounts."""

    def __init__(self, settings: ScanSettings):
        self.settings = settings
        self._executor: ProcessPoolExecutor | None = None
        self.busy = asyncio.Lock()

    def executor(self, extra: int) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: this process already runs an event loop and threads.
            self._executor = ProcessPoolExecutor(extra, mp_context=multiprocessing.get_context("spawn"))
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


POOL: contextvars.ContextVar[BucketPool | None] = contextvars.ContextVar("auditor_bucket_pool", default=None)


async def collect_buckets(acct: Any, account_id: str, entries: Sequence[dict[str, Any]],
                          integrations: Sequence[Integration], settings: ScanSettings,
                          limit: Limiter, advance: Callable[[int], None],
                          settle: Settle | None = None) -> list[BucketState]:
    """Every bucket of ``entries``, in their order; across processes when the account is large.
    Each group of collected buckets goes through ``settle`` here as soon as it is in."""
    by_bucket = _by_bucket(integrations)
    pool = POOL.get()
    processes = plan_processes(settings, len(entries)) if pool is not None else 1
    if pool is None or processes <= 1 or pool.busy.locked():
        # One account at a time spreads over the processes; the others meanwhile go on here.
        return await _in_process(acct, account_id, entries, by_bucket, settings, limit, advance, settle)
    async with pool.busy:
        credentials = await _credentials(acct)
        if credentials is None:
            return await _in_process(acct, account_id, entries, by_bucket, settings, limit, advance, settle)
        return await _spread(pool, processes, credentials, acct, account_id, entries, by_bucket, settings, limit,
                             advance, settle)


async def _spread(pool: BucketPool, processes: int, credentials: Credentials, acct: Any, account_id: str,
                  entries: Sequence[dict[str, Any]], by_bucket: dict[str, list[Integration]],
                  settings: ScanSettings, limit: Limiter,
                  advance: Callable[[int], None], settle: Settle | None) -> list[BucketState]:
    """The chunks of ``entries`` taken by this process and, from the start when ``[scan] workers`` is
    set, else once this process is CPU-bound (``cpu_bound``), by ``processes - 1`` worker processes."""
    out: list[BucketState | None] = [None] * len(entries)
    todo = chunks(len(entries), processes)
    share = max(1, settings.concurrency // processes)
    loop = asyncio.get_running_loop()
    reserved = 0

    async def here() -> None:
        while todo:
            part = todo.pop(0)
            done = await _in_process(acct, account_id, [entries[i] for i in part], by_bucket, settings, limit,
                                     advance, settle)
            for i, state in zip(part, done, strict=True):
                out[i] = state

    async def there(executor: ProcessPoolExecutor) -> None:
        while todo:
            part = todo.pop(0)
            chunk = Chunk(account=acct.config, region=acct.default_region, credentials=credentials,
                          settings=settings, account_id=account_id, concurrency=share,
                          entries=tuple(entries[i] for i in part),
                          integrations=tuple(x for i in part for x in by_bucket.get(entries[i]["Name"], ())))
            done = await loop.run_in_executor(executor, run_chunk, chunk)
            advance(len(part))
            if settle is not None:
                done = await settle(done)
            for i, state in zip(part, done, strict=True):
                out[i] = state

    async def when_needed() -> None:
        nonlocal reserved
        if not settings.workers:  # the default: more processes only where one cannot keep up
            check = LoadCheck()
            while True:
                await asyncio.sleep(LOAD_CHECK_SECONDS)
                if check.cpu_bound(time.process_time(), limit.calls, limit.latencies, limit.value):
                    break
        # The workers' shares are taken out of the scan-wide bound for as long as they run, so that
        # requests in flight never exceed ``concurrency`` across all processes.
        for _ in range(min(share * (processes - 1), settings.concurrency - 1)):
            await limit.acquire()
            reserved += 1
        executor = pool.executor(processes - 1)
        await asyncio.gather(*(there(executor) for _ in range(processes - 1)))

    helpers = asyncio.create_task(when_needed())
    try:
        await here()
        if reserved or settings.workers:
            await helpers  # the workers finish the chunks they took
    finally:
        if not helpers.done():
            helpers.cancel()  # still waiting to be needed: this process did all the work
            await asyncio.gather(helpers, return_exceptions=True)
        for _ in range(reserved):
            limit.release()
    return [s for s in out if s is not None]


def _by_bucket(integrations: Sequence[Integration]) -> dict[str, list[Integration]]:
    out: dict[str, list[Integration]] = {}
    for integ in integrations:
        out.setdefault(integ.bucket, []).append(integ)
    return out


async def _in_process(acct: Any, account_id: str, entries: Sequence[dict[str, Any]],
                      by_bucket: dict[str, list[Integration]], settings: ScanSettings,
                      limit: Limiter, advance: Callable[[int], None],
                      settle: Settle | None = None) -> list[BucketState]:
    # Buckets in flight are bounded too: each one fans out into several calls, and creating them
    # all at once for thousands of buckets costs memory without adding speed. Twice the call bound
    # keeps it full while each bucket waits on its slowest read.
    in_flight = asyncio.Semaphore(max(16, 2 * settings.concurrency))

    async def one(entry: dict[str, Any]) -> BucketState:
        async with in_flight:
            state = await collect_one(acct, account_id, entry, by_bucket.get(entry["Name"], []), settings, limit)
        advance(1)
        return state

    if settle is None:
        return list(await asyncio.gather(*(one(e) for e in entries)))

    async def group(part: Sequence[dict[str, Any]]) -> list[BucketState]:
        # The groups start in order and buckets take the in-flight bound in order, so the groups
        # come in about one after another, and each is settled while the later ones are collected.
        return await settle(list(await asyncio.gather(*(one(e) for e in part))))

    groups = await asyncio.gather(*(group(entries[i:i + SETTLE_GROUP]) for i in range(0, len(entries), SETTLE_GROUP)))
    return [state for done in groups for state in done]


async def _credentials(acct: Any) -> Credentials | None:
    """The account session's resolved credentials, or None when there are none to hand on."""
    try:
        creds = await acct.session.get_credentials()
        if creds is None:
            return None
        frozen = await creds.get_frozen_credentials()
    except Exception:  # noqa: BLE001 - no credentials to share: collect in this process
        return None
    if not frozen.access_key or not frozen.secret_key:
        return None
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


# ----------------------------------------------------------------------------- in a worker process

_WORKER: dict[str, Any] = {}


def run_chunk(chunk: Chunk) -> list[BucketState]:
    """Entry point in a worker process: one event loop per process, kept between chunks with its clients."""
    loop = _WORKER.get("loop")
    if loop is None:
        loop = _WORKER["loop"] = new_event_loop()
        asyncio.set_event_loop(loop)
        atexit.register(_close_worker)
    with fewer_collections():
        return loop.run_until_complete(_collect_chunk(chunk))


async def _collect_chunk(chunk: Chunk) -> list[BucketState]:
    import aioboto3

    from auditor.collect.session import AccountSession

    key = (chunk.account, chunk.region, chunk.credentials)
    sessions: dict[Any, Any] = _WORKER.setdefault("sessions", {})
    if key not in sessions:
        base = aioboto3.Session(aws_access_key_id=chunk.credentials.access_key,
                                aws_secret_access_key=chunk.credentials.secret_key,
                                aws_session_token=chunk.credentials.token)
        sessions[key] = AccountSession(chunk.account, base, chunk.settings, chunk.region)
    acct = sessions[key]
    by_bucket = _by_bucket(chunk.integrations)
    limit = Limiter(chunk.concurrency)
    return await _in_process(acct, chunk.account_id, chunk.entries, by_bucket, chunk.settings, limit,
                             lambda n: None)


def _close_worker() -> None:
    loop = _WORKER.get("loop")
    if loop is None or loop.is_closed():
        return
    for acct in _WORKER.get("sessions", {}).values():
        try:
            loop.run_until_complete(acct.aclose())
        except Exception:  # noqa: BLE001 - the process is ending; nothing is left to report to
            pass
    loop.close()
