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
        return None, ApiError(api, code, str(err.get("Message") or "")[:300])
    except (BotoCoreError, asyncio.TimeoutError, OSError) as e:
        return None, ApiError(api, type(e).__name__, str(e)[:300])


def configured(value: Any) -> Any:
    """``None`` for NOT_SET, the value otherwise."""
    return None if value is NOT_SET else value
