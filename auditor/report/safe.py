"""A copy of a scan result fit for human-facing documents (HTML, CSV).

Every string a finding carries — message, resource, evidence (keys too), suppression — and
every skipped account's name and reason has its bidi controls and control characters shown
as escapes (:func:`auditor.textsafe.document`), and numbers that are not finite (``NaN``,
``Infinity``, which no JSON reader accepts) become strings.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from auditor.model import Finding, ScanResult, plain_data
from auditor.textsafe import document


def finite(value: Any, fn=lambda s: s) -> Any:
    """``value`` with non-finite floats as strings and ``fn`` applied to every string."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {(fn(k) if isinstance(k, str) else k): finite(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v, fn) for v in value]
    return value


def _finding(f, fn, evidence: bool = True):
    changes = {}
    for field in ("rule_id", "vendor", "account_id", "region", "bucket", "resource", "title", "message",
                  "remediation", "reference", "principal", "required_by"):
        v = getattr(f, field)
        if isinstance(v, str):
            changes[field] = fn(v)
    if evidence:
        changes["evidence"] = finite(f.evidence, fn)
    if f.suppression is not None:
        changes["suppression"] = finite(f.suppression, fn)
    return dataclasses.replace(f, shown_fingerprint=f.fingerprint, **changes)


def displayable(result: ScanResult, fn=document, *, evidence: bool = True) -> ScanResult:
    """``result`` with every string passed through ``fn`` and every number finite. With
    ``evidence=False`` the evidence is left as it is, for a reader that cleans it when it shows it
    (``shown_evidence``): in a large scan it is most of the findings' size."""
    findings = tuple(_finding(f, fn, evidence) for f in result.findings)
    skipped = tuple(dataclasses.replace(s, name=fn(s.name), reason=fn(s.reason)) for s in result.skipped)
    return dataclasses.replace(result, findings=findings, skipped=skipped)


def shown_evidence(evidence: Any, fn=document) -> Any:
    """Evidence as ``displayable`` would have made it."""
    return finite(evidence, fn)


def plain_finding(f: Any) -> Any:
    """One finding with only non-finite numbers replaced (reports written a finding at a time)."""
    return _finding(f, lambda s: s)


def plain(result: ScanResult) -> ScanResult:
    """``result`` with only non-finite numbers replaced (for machine formats: JSON, SARIF)."""
    return displayable(result, fn=lambda s: s)


def json_data(value: Any) -> Any:
    """``finite(plain_data(value))`` in one walk: mappings, tuples and sets as dicts and lists,
    ``StrEnum`` as its value, non-finite floats as strings."""
    if isinstance(value, str):
        return value.value if isinstance(value, StrEnum) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): json_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_data(v) for v in value]
    if isinstance(value, (set, frozenset)):  # in plain_data's order
        return [json_data(v) for v in sorted((plain_data(v) for v in value), key=str)]
    return value


def json_finding(f: Finding) -> dict[str, Any]:
    """``plain_finding(f).to_json()``, its evidence converted in one walk instead of two."""
    return f.to_json(json_data)
