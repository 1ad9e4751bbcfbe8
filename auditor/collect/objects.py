"""Object-level probes on sampled keys (HeadObject, bounded content reads).

Called once per bucket after its listing; returns the bucket with its objects enriched.
"""

from __future__ import annotations

import asyncio

from auditor.collect.session import AccountSession
from auditor.config import ScanSettings
from auditor.model import BucketState, Integration

READS: tuple[str, ...] = ()


async def probe_objects(acct: AccountSession, bucket: BucketState, integrations: list[Integration],
                        settings: ScanSettings, limit: asyncio.Semaphore) -> BucketState:
    """No object probes yet: the listing is all the object data there is."""
    return bucket
