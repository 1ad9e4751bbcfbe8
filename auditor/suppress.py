"""Suppressions from ``[[suppress]]``: accepted risks stay in every report, marked, and stop counting.

An expired suppression no longer applies, and is itself reported so it gets renewed or removed.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Sequence

from auditor.config import Suppression
from auditor.model import Finding, Severity, Status

EXPIRED_RULE = "baseline.suppression-expired"


def _matches(s: Suppression, f: Finding) -> bool:
    if not fnmatch.fnmatchcase(f.rule_id, s.rule):
        return False
    return fnmatch.fnmatchcase(f.resource, s.resource) or (f.bucket is not None and fnmatch.fnmatchcase(f.bucket, s.resource))


def apply_suppressions(findings: Sequence[Finding], suppressions: Sequence[Suppression], today: str,
                       source: str = "auditor.toml") -> tuple[Finding, ...]:
    """Mark findings matched by a live suppression; add one finding per expired suppression that matched."""
    if not suppressions:
        return tuple(findings)
    out: list[Finding] = []
    expired: dict[tuple[int, str], Finding] = {}
    for f in findings:
        match = next((s for s in suppressions if _matches(s, f)), None)
        if match is None or f.status == Status.PASS:
            out.append(f)
            continue
        info = {"reason": match.reason, "until": match.until, "rule": match.rule, "resource": match.resource}
        if match.until is None or today <= match.until:
            out.append(dataclasses.replace(f, suppression=info))
        else:
            out.append(f)
            expired.setdefault((match.index, f.resource), f)
    for (index, _), f in expired.items():
        s = suppressions[index]
        out.append(Finding(
            rule_id=EXPIRED_RULE, vendor="baseline", status=Status.FAIL, severity=Severity.LOW,
            account_id=f.account_id, region=f.region, bucket=f.bucket, resource=f.resource, inferred=False,
            title="A suppression has expired",
            message=(f"Suppression [[suppress]] #{index + 1} ({s.rule} on {s.resource}: {s.reason!r}) expired on "
                     f"{s.until}; {f.rule_id} counts again."),
            evidence={"suppression": {"rule": s.rule, "resource": s.resource, "reason": s.reason, "until": s.until},
                      "finding": f.rule_id},
            remediation=f"Fix {f.rule_id}, or renew the suppression in {source} with a new `until` date.",
            reference="auditor.toml [[suppress]]: a suppression with `until` stops applying after that date.",
            kind="exposure",
        ))
    return tuple(out)
