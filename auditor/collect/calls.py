"""One place where botocore errors become data.

Every API call goes through :func:`call`: a refused or failed call comes back as an
``ApiError`` (API name + error code) for the snapshot, never as an exception that stops
the scan, and never swallowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

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


class NotConfigured:
    """Marker result: the API answered that the setting does not exist."""


NOT_SET = NotConfigured()


async def call(api: str, awaitable: Awaitable[T], limit: asyncio.Semaphore | None = None) -> tuple[T | NotConfigured | None, ApiError | None]:
    """Await one API call; return (result, None), (NOT_SET, None) or (None, ApiError)."""
    try:
        if limit is None:
            return await awaitable, None
        async with limit:
            return await awaitable, None
    except ClientError as e:
        err = e.response.get("Error", {})
        code = str(err.get("Code") or e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "ClientError")
        if code in NOT_CONFIGURED:
            return NOT_SET, None
        return None, ApiError(api, redact(code)[:100], redact(str(err.get("Message") or ""))[:300])
    except (TimeoutError, BotoCoreError, OSError) as e:
        return None, ApiError(api, type(e).__name__, redact(str(e))[:300])
    except Exception as e:  # noqa: BLE001 — any other failure of one call is data about that call
        # ResponseParserError (an unparseable body) is not a BotoCoreError; aiohttp's
        # ClientPayloadError (a body cut short) is not an OSError. Their messages can quote the
        # body, credentials included: redacted before they go anywhere.
        return None, ApiError(api, type(e).__name__, redact(str(e))[:300])


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


def configured(value: Any) -> Any:
    """``None`` for NOT_SET, the value otherwise."""
    return None if value is NOT_SET else value
