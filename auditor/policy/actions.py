"""Action expansion through policyuniverse's catalogue of AWS actions."""

from __future__ import annotations

from functools import lru_cache

from policyuniverse.expander_minimizer import _expand_wildcard_action


@lru_cache(maxsize=1024)
def expand_actions(pattern: str) -> frozenset[str]:
    """``s3:Get*`` → every concrete action it covers, as AWS spells them (e.g. ``s3:GetObject``).

    policyuniverse returns lowercase names; they are mapped back to AWS's casing from its catalogue.
    """
    lowered = {a.lower() for a in _expand_wildcard_action(pattern)}
    proper = _proper_names()
    return frozenset(proper.get(a, a) for a in lowered)


@lru_cache(maxsize=1)
def _proper_names() -> dict[str, str]:
    import policyuniverse

    names = {}
    for data in policyuniverse.service_data.values():
        prefix = data.get("prefix")
        for action in data.get("actions", {}):
            names[f"{prefix}:{action}".lower()] = f"{prefix}:{action}"
    return names
