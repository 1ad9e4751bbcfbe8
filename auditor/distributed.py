"""Sharding a scan's accounts across the workers of a Dask cluster.

Each worker collects the snapshot of its share of the accounts (the same asyncio collectors,
one event loop run per shard); the snapshots are merged into one, then evaluated, reported and
recorded in the history exactly like a single-process scan. The single-process path stays the
default; this one needs ``pip install 'auditor[distributed]'``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from auditor.config import Config
from auditor.errors import AuditorError
from auditor.model import Snapshot


def shard_accounts(config: Config, shards: int) -> list[Config]:
    """Split the configured accounts round-robin into at most ``shards`` configs (integrations follow their account)."""
    shards = max(1, min(shards, len(config.accounts) or 1))
    out = []
    for i in range(shards):
        accounts = config.accounts[i::shards]
        names = {a.name for a in accounts}
        out.append(dataclasses.replace(
            config, accounts=accounts, organization=None,
            integrations=tuple(x for x in config.integrations if x.account in names)))
    return [c for c in out if c.accounts]


def collect_shard(config: Config) -> Snapshot:
    """Run on a worker: collect one shard."""
    from auditor.collect import collect

    return collect(config)


def merge_snapshots(parts: Sequence[Snapshot], integrations: Sequence = ()) -> Snapshot:
    if not parts:
        raise AuditorError("no shard produced a snapshot")
    return Snapshot(
        started_at=min(p.started_at for p in parts),
        finished_at=max(p.finished_at for p in parts),
        accounts=tuple(a for p in parts for a in p.accounts),
        skipped=tuple(s for p in parts for s in p.skipped),
        integrations=tuple(integrations),
    )


def collect_distributed(config: Config, scheduler: str | object, shards: int | None = None) -> Snapshot:
    """Collect ``config`` on a Dask cluster: ``scheduler`` is an address (``tcp://host:8786``) or a Client."""
    try:
        from distributed import Client
    except ImportError:
        raise AuditorError("distributed scans need Dask: pip install 'auditor[distributed]'") from None
    if config.organization is not None:
        raise AuditorError("[organization] accounts are listed at scan time; list them under [[accounts]] "
                           "to shard them, or scan the organization in one process")
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        if shards is None:
            shards = max(1, len(client.scheduler_info().get("workers", {})))
        futures = client.map(collect_shard, shard_accounts(config, shards), pure=False)
        return merge_snapshots(client.gather(futures), config.integrations)
    finally:
        if client is not scheduler:
            client.close()
