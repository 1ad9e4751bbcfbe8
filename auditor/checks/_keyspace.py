"""Representative keys for every region of a zone's key space that the applicable policies cut out
(:mod:`auditor.policy.keyspace`), so a grant on "every object in scope" is not decided by which
keys happened to be sampled."""

from __future__ import annotations

from collections.abc import Iterable

from auditor.checks._access import Actor, bucket_policy
from auditor.model import BucketState
from auditor.policy.keyspace import Region, regions


def policy_regions(actor: Actor, bucket: BucketState, prefix: str) -> list[Region]:
    """Regions under ``prefix`` that the bucket policy and the actor's own policies single out."""
    docs = []
    bp = bucket_policy(bucket)
    if bp is not None:
        docs.append((bp.name, bp.document))
    if not actor.cross_account:
        docs += [(p.name, p.document) for p in actor.identity]
        if actor.boundary is not None:
            docs.append((actor.boundary.name, actor.boundary.document))
    return regions(bucket.name, prefix, docs)


def region_keys(actor: Actor, bucket: BucketState, prefix: str, known: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(key, note) per region, except keys already asked; the note names the pattern and its statement."""
    seen = set(known)
    return [(r.key, f"representative key for {r.pattern} ({r.source})")
            for r in policy_regions(actor, bucket, prefix) if r.key not in seen]
