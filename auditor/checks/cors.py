"""CORS checks: does a rule let the vendor's web app fetch objects, and is any rule open to every origin."""

from __future__ import annotations

import fnmatch
import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from auditor.checks._guide import guide_requirements
from auditor.checks.registry import Outcome, Param, Target, check
from auditor.model import Severity, Status

WRITE_METHODS = ("PUT", "POST", "DELETE")


def origin_matches(pattern: str, origin: str) -> bool:
    """S3 AllowedOrigin: exact, or with one ``*`` wildcard (S3 CORS docs)."""
    return pattern == "*" or pattern == origin or ("*" in pattern and fnmatch.fnmatchcase(origin, pattern))


def _upper(values: Any) -> set[str]:
    return {str(v).upper() for v in (values or ())}


def _lower(values: Any) -> set[str]:
    return {str(v).lower() for v in (values or ())}


def cors_remediation(bucket: str, existing: Sequence[Mapping[str, Any]], rule: Mapping[str, Any]) -> str:
    """The merged CORS configuration (existing rules kept, the vendor rule appended) and the CLI command."""
    merged = {"CORSRules": [dict(r) for r in existing] + [dict(rule)]}
    doc = json.dumps(merged, indent=2)
    return (f"Add this rule to the bucket's CORS configuration (existing rules kept):\n{doc}\n\n"
            f"aws s3api put-bucket-cors --bucket {bucket} --cors-configuration {shlex.quote(json.dumps(merged))}")


@check("cors_allows", needs=("GetBucketCors",), reads=("s3:GetBucketCORS",), params={
    "origin": Param(str, "*", "the vendor web app's origin; '*' means any origin is acceptable"),
    "methods": Param(list, ["GET"]),
    "expose_headers": Param(list, []),
    "zone": Param(str, "", "a zone of the profile whose bucket is checked (e.g. a separate metadata bucket); "
                           "default the integration's bucket", kind="zone"),
})
def cors_allows(target: Target, *, origin: str, methods: list, expose_headers: list, zone: str) -> Outcome:
    """Some CORS rule lets ``origin`` use each of ``methods`` and exposes ``expose_headers``."""
    bucket = target.bucket
    where = target.integration.zone(zone).bucket if zone and target.integration else bucket.name
    if where != bucket.name:
        other = target.account.bucket(where)
        if other is None:
            return Outcome(Status.UNKNOWN, f"Bucket {where!r} was not collected.", {"bucket": where})
        cors_err = other.error("GetBucketCors")
        if cors_err is not None:
            return Outcome(Status.UNKNOWN, f"Could not verify: {cors_err.describe()}.", resource=other.arn)
        bucket = other
    rules = bucket.cors or ()
    wanted_methods = [m.upper() for m in methods]
    matching = [r for r in rules if any(origin_matches(p, origin) for p in r.get("AllowedOrigins", ()))
                or (origin == "*" and r.get("AllowedOrigins"))]
    missing_methods = [m for m in wanted_methods if not any(m in _upper(r.get("AllowedMethods")) for r in matching)]
    exposing = [r for r in matching if _upper(r.get("AllowedMethods")) & set(wanted_methods)]
    missing_headers = [h for h in expose_headers
                       if not any(h.lower() in _lower(r.get("ExposeHeaders")) for r in exposing)]
    evidence: dict[str, Any] = {
        "origin": origin,
        "required_methods": wanted_methods,
        "cors_rules": [dict(r) for r in rules],
        "matched_rules": [dict(r) for r in matching],
    }
    if expose_headers:
        evidence["required_expose_headers"] = list(expose_headers)
    wanted_rule = {"AllowedHeaders": ["*"], "AllowedMethods": wanted_methods,
                   "AllowedOrigins": [origin], "ExposeHeaders": list(expose_headers)}
    who = "any origin" if origin == "*" else origin
    if bucket.cors is None:
        return Outcome(Status.FAIL, f"Bucket {bucket.name} has no CORS configuration; {who} cannot {'/'.join(wanted_methods)} objects from a browser.",
                       evidence, cors_remediation(bucket.name, (), wanted_rule), resource=bucket.arn)
    if missing_methods or missing_headers:
        parts = []
        if missing_methods:
            parts.append(f"no CORS rule allows {', '.join(missing_methods)} from {who}")
        if missing_headers:
            parts.append(f"matching rules do not expose {', '.join(missing_headers)}")
        evidence["missing_methods"] = missing_methods
        evidence["missing_expose_headers"] = missing_headers
        return Outcome(Status.FAIL, "; ".join(parts).capitalize() + ".", evidence,
                       cors_remediation(bucket.name, rules, wanted_rule), resource=bucket.arn)
    if origin == "*":  # any origin is acceptable: say which ones the matching rules allow, not "any origin"
        allowed = sorted({str(o) for r in exposing for o in r.get("AllowedOrigins", ())})
        who = ", ".join(allowed) or who
    return Outcome(Status.PASS, f"CORS allows {', '.join(wanted_methods)} from {who}.", evidence, resource=bucket.arn)


@check("cors_wildcard_origin", needs=("GetBucketCors",), reads=("s3:GetBucketCORS",))
def cors_wildcard_origin(target: Target) -> Outcome:
    """No CORS rule allows every origin; one that also allows writes is worse."""
    rules = target.bucket.cors or ()
    wild = [dict(r) for r in rules if "*" in r.get("AllowedOrigins", ())]
    if not wild:
        return Outcome(Status.PASS, "No CORS rule allows origin '*'.", {"cors_rules": [dict(r) for r in rules]})
    writes = sorted({m for r in wild for m in _upper(r.get("AllowedMethods"))} & set(WRITE_METHODS))
    fixed = [dict(r) for r in rules if "*" not in r.get("AllowedOrigins", ())]
    fixed += [{**r, "AllowedOrigins": ["https://REPLACE-WITH-YOUR-APP-ORIGIN"]} for r in wild]
    remediation = ("Replace '*' with the exact origins that need access (e.g. https://darwin.v7labs.com):\n"
                   + json.dumps({"CORSRules": fixed}, indent=2)
                   + f"\n\naws s3api put-bucket-cors --bucket {target.bucket.name} --cors-configuration "
                   + shlex.quote(json.dumps({"CORSRules": fixed})))
    msg = f"{len(wild)} CORS rule(s) allow origin '*'"
    evidence: dict[str, Any] = {"wildcard_rules": wild, "write_methods": writes}
    required = [r for r in guide_requirements(target, "baseline.cors-wildcard-origin")
                if all(_upper(w.get("AllowedMethods")) <= r.requirement.methods for w in wild)]
    if required:
        # Every '*' rule is what the integration's own guide asks for: not a violation; say so, and what is narrower.
        cited = "; ".join(dict.fromkeys(r.cited for r in required))
        narrower = " ".join(dict.fromkeys(r.narrower for r in required if r.narrower))
        methods = ", ".join(sorted({m for w in wild for m in _upper(w.get("AllowedMethods"))}))
        evidence["required_by"] = cited
        return Outcome(Status.FAIL, f"{msg} ({methods}), as required by {cited}." + (f" {narrower}" if narrower else ""),
                       evidence, remediation if narrower else None, required_by=cited)
    msg += f" including {', '.join(writes)}: any web page can write with a presigned URL." if writes else "."
    return Outcome(Status.FAIL, msg, evidence, remediation, severity=Severity.HIGH if writes else None)
