"""One place where botocore errors become data.

Every API call goes through :func:`call` (or :func:`read_setting`, for the S3 settings that can be
absent): its answer is a small typed result that callers match on — ``Ok`` with the answer,
``Failed`` with the ``ApiError`` (API name + error code) for the snapshot, or, for a setting,
``NotConfigured`` — never an exception that stops the scan, and never swallowed.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from auditor.model import ApiError
from auditor.redact import redact

T = TypeVar("T")

# Codes meaning "this is not configured", which S3 reports as errors. They are facts
# (None in the snapshot), not failures.
NOT_CONFIGURED = frozenset({
    "NoSuchBucketPolicy",
    "NoSuchCORSConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "OwnershipControlsNotFoundError",
    "NoSuchOwnershipControls",
})


# Set while a bucket's first reads are made (its settings and key sample): calls made then wait
# behind every other call when the scan is at its bound (see ``Limiter``).
BULK: contextvars.ContextVar[bool] = contextvars.ContextVar("auditor_bulk_reads", default=False)


class Limiter:
    """At most ``value`` calls in flight; when all are taken, waiting calls go in order, except that
    the bulk (calls made while ``BULK`` is set) goes after every other waiting call.

    A large account queues thousands of independent first reads of buckets at once. Behind them, a
    chain of calls that depend on each other (IAM pages, KMS keys, the probes of a bucket's
    objects) would wait the whole queue at every step and finish only after the last bucket.
    """

    def __init__(self, value: int):
        self.value = value
        self._free = value
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())
        self.calls = 0  # calls completed
        self.latencies: deque[float] = deque(maxlen=512)  # seconds, of the latest calls: sent to answered

    def record(self, seconds: float) -> None:
        self.calls += 1
        self.latencies.append(seconds)

    def locked(self) -> bool:
        return self._free == 0

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    async def acquire(self) -> bool:
        # A slot is free only when no live call waits: a released slot goes straight to a waiter.
        if self._free > 0:
            self._free -= 1
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[BULK.get()].append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot and cancelled before it could be used: hand it on
            raise
        return True

    def release(self) -> None:
        for queue in self._waiting:
            while queue:
                waiter = queue.popleft()
                if not waiter.done():  # a cancelled waiter is passed over
                    waiter.set_result(None)
                    return
        self._free += 1


@dataclass(frozen=True, slots=True)
class Ok(Generic[T]):
    """The API answered: ``value`` is its answer."""

    value: T


@dataclass(frozen=True, slots=True)
class Failed:
    """The call was refused or failed: ``error`` is recorded on the snapshot."""

    error: ApiError


@dataclass(frozen=True, slots=True)
class NotConfigured:
    """The API answered that the setting does not exist (a fact: None in the snapshot)."""


NOT_SET = NotConfigured()

# What a call comes back with: an answer or a failure; a setting may also be absent.
Answer: TypeAlias = Ok[T] | Failed
Setting: TypeAlias = Ok[T] | NotConfigured | Failed


async def call(api: str, awaitable: Awaitable[T], limit: Limiter | None = None) -> Answer[T]:
    """Await one API call: ``Ok(answer)`` or ``Failed(ApiError)``."""
    result = await _call(api, awaitable, limit, frozenset())
    assert not isinstance(result, NotConfigured)
    return result


async def read_setting(api: str, awaitable: Awaitable[T], limit: Limiter | None = None) -> Setting[T]:
    """:func:`call` for a setting S3 reports as absent with an error code: ``NOT_SET`` for those codes."""
    return await _call(api, awaitable, limit, NOT_CONFIGURED)


async def _call(api: str, awaitable: Awaitable[T], limit: Limiter | None,
                absent: frozenset[str]) -> Setting[T]:
    try:
        if limit is None:
            return Ok(await awaitable)
        async with limit:
            loop = asyncio.get_running_loop()
            sent = loop.time()
            try:
                return Ok(await awaitable)
            finally:
                limit.record(loop.time() - sent)
    except ClientError as e:
        err = e.response.get("Error", {})
        code = str(err.get("Code") or e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "ClientError")
        if code in absent:
            return NOT_SET
        return Failed(ApiError(api, redact(code)[:100], redact(str(err.get("Message") or ""))[:300]))
    except (TimeoutError, BotoCoreError, OSError) as e:
        return Failed(ApiError(api, type(e).__name__, redact(str(e))[:300]))
    except Exception as e:  # noqa: BLE001 — any other failure of one call is data about that call
        # ResponseParserError (an unparseable body) is not a BotoCoreError; aiohttp's
        # ClientPayloadError (a body cut short) is not an OSError. Their messages can quote the
        # body, credentials included: redacted before they go anywhere.
        return Failed(ApiError(api, type(e).__name__, redact(str(e))[:300]))
    except BaseException:  # cancelled (the scan is stopping), perhaps before the call was sent
        if isinstance(awaitable, Coroutine):
            awaitable.close()  # else Python warns at exit that it "was never awaited"
        raise


class RepeatedToken:
    """Pagination that hands back a marker or token it already gave: the walk would never end."""

    def __init__(self, api: str, field: str):
        self.api, self.field = api, field
        self._seen: set[str] = set()

    def repeated(self, token: str | None) -> ApiError | None:
        """The error to record when ``token`` was seen before in this walk; else None (and remember it)."""
        if not token:
            return None
        if token in self._seen:
            return ApiError(self.api, "RepeatedPageToken",
                            f"the answer repeated the {self.field} of an earlier page; the listing was stopped "
                            "there (the server paginates in a loop)")
        self._seen.add(token)
        return None
