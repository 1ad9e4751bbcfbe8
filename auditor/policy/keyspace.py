"""The key space of a bucket, cut into regions by the policies that apply.

"Every object in scope" cannot be decided by sampling luck: a Deny on a folder deep inside the
scope is missed when no sampled key happens to lie there. The policies themselves say where the
answer can change — at their Resource / NotResource patterns and their ``s3:prefix`` conditions —
so one representative key per pattern (inside the scope) covers every region the policies can
tell apart, besides the scope's own representative key and the real sampled keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from auditor.policy.arns import parse_arn
from auditor.policy.variables import has_variables
from auditor.policy.variables import wildcard as _glob

PROBE = "auditor-probe"


@dataclass(frozen=True, slots=True)
class Region:
    """A region of the key space: the key pattern that bounds it, and where the pattern comes from."""

    pattern: str  # key pattern inside the bucket, IAM wildcards (``data/*/private/*``)
    source: str  # e.g. "bucket policy of b statement DenyPrivate (NotResource)"
    key: str  # a representative key inside the region and inside the scope


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _statements(doc: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not isinstance(doc, Mapping):
        return []
    raw = doc.get("Statement", [])
    return [s for s in ([raw] if isinstance(raw, Mapping) else _as_list(raw)) if isinstance(s, Mapping)]


def key_pattern(resource: str, bucket: str) -> str | None:
    """The key part of an object-ARN pattern that can name keys of ``bucket`` (``arn:aws:s3:::b/data/*`` →
    ``data/*``); None for anything else (bucket ARNs, other buckets, other services, ``*``)."""
    arn = parse_arn(resource)
    if arn is None or not _glob(arn.service).fullmatch("s3") or "/" not in arn.resource:
        return None
    bucket_part, key_part = arn.resource.split("/", 1)
    if not _glob(bucket_part).fullmatch(bucket):
        return None
    return key_part


def _candidates(pattern: str, scope: str) -> Iterable[str]:
    """Keys that may match ``pattern`` and lie under ``scope``: ``*`` filled so the key reaches into the scope."""
    fill = pattern.replace("?", "x")
    yield fill.replace("*", PROBE)
    for i, ch in enumerate(fill):
        if ch != "*":
            continue
        literal = fill[:i]
        if scope.startswith(literal):  # this * can carry the rest of the scope
            rest = fill[i + 1:].replace("*", PROBE)
            yield literal + scope[len(literal):] + PROBE + rest
            yield literal + scope[len(literal):] + rest


def representative(pattern: str, scope: str) -> str | None:
    """A key matching ``pattern`` (IAM wildcards) under ``scope``; None when the two do not meet."""
    rx = _glob(pattern)
    for key in _candidates(pattern, scope):
        if key.startswith(scope) and key and not key.endswith("/") and rx.fullmatch(key):
            return key
    return None


def _prefix_patterns(st: Mapping[str, Any]) -> list[str]:
    """Key patterns of the ``s3:prefix`` values a statement's conditions compare against."""
    out: list[str] = []
    cond = st.get("Condition")
    if not isinstance(cond, Mapping):
        return out
    for op, block in cond.items():
        if not isinstance(block, Mapping):
            continue
        for key, values in block.items():
            if str(key).lower() != "s3:prefix":
                continue
            like = "Like" in str(op)
            for v in _as_list(values):
                v = str(v)
                if v:
                    out.append(v if like and ("*" in v or "?" in v) else v + "*")
    return out


def regions(bucket: str, scope: str, policies: Iterable[tuple[str, Mapping[str, Any] | None]]) -> list[Region]:
    """One representative key per region the ``policies`` ((name, document) pairs) cut inside ``scope``.

    Patterns with policy variables are left to the sampled keys (their region depends on the caller).
    """
    out: dict[str, Region] = {}
    for name, doc in policies:
        for i, st in enumerate(_statements(doc)):
            label = f"{name} statement {st.get('Sid') or '#' + str(i)}"
            found: list[tuple[str, str]] = []
            for element in ("Resource", "NotResource"):
                for r in _as_list(st.get(element)):
                    p = key_pattern(str(r), bucket)
                    if p is not None:
                        found.append((p, f"{label} ({element} {r})"))
            found += [(p, f"{label} (s3:prefix {p.rstrip('*') or p})") for p in _prefix_patterns(st)]
            for pattern, source in found:
                if has_variables(pattern) or pattern in ("*", ""):
                    continue
                key = representative(pattern, scope)
                if key is not None and key not in out:
                    out[key] = Region(pattern, source, key)
    return list(out.values())


__all__ = ["Region", "key_pattern", "regions", "representative"]
