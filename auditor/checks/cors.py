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


def _header_allowed(rule: Mapping[str, Any], header: str) -> bool:
    """S3 AllowedHeader: ``*`` allows every header; a header name may carry one ``*`` wildcard (case-insensitive).
    ``header`` ``*`` asks for the rule to allow every header."""
    allowed = _lower(rule.get("AllowedHeaders"))
    if "*" in allowed:
        return True
    if header == "*":
        return False
    return any(fnmatch.fnmatchcase(header.lower(), p) for p in allowed)


def _sentence(text: str) -> str:
    """``text`` with its first letter upper-cased and nothing else changed (origins, methods, headers keep their case)."""
    return text[:1].upper() + text[1:]


@check("cors_allows", needs=("GetBucketCors",), reads=("s3:GetBucketCORS",), params={
    "origin": Param(str, "*", "the origin the vendor's web app requests from; '*' (the default) means the guide "
                              "asks for every origin: a rule must allow AllowedOrigin '*'"),
    "any_origin": Param(bool, False, "the guide leaves the origin to you: a rule for any origin will do"),
    "methods": Param(list, ["GET"]),
    "allowed_headers": Param(list, [], "request headers a matching rule must allow ('*': every header)"),
    "expose_headers": Param(list, []),
    "max_age": Param(int, 0, "the guide's MaxAgeSeconds; advisory: a rule without it (or with less) is reported, "
                             "never failed"),
    "zone": Param(str, "", "a zone of the profile whose bucket is checked (e.g. a separate metadata bucket); "
                           "default the integration's bucket", kind="zone"),
})
def cors_allows(target: Target, *, origin: str, methods: list, expose_headers: list, zone: str,
                any_origin: bool = False, allowed_headers: list | None = None, max_age: int = 0) -> Outcome:
    """Some CORS rule lets ``origin`` use each of ``methods`` with ``allowed_headers`` and exposes ``expose_headers``."""
    allowed_headers = list(allowed_headers or [])
    bucket = target.bucket
    where = target.integration.zone(zone).bucket if zone and target.integration else bucket.name
    if where != bucket.name:
        other = target.account.bucket(where)
        if other is None:
            return Outcome(Status.UNKNOWN, f"Bucket {where!r} was not collected.", {"bucket": where},
                           resource=f"arn:aws:s3:::{where}", missing=f"arn:aws:s3:::{where}")
        cors_err = other.error("GetBucketCors")
        if cors_err is not None:
            return Outcome(Status.UNKNOWN, f"Could not verify: {cors_err.describe()}.", resource=other.arn)
        bucket = other
    rules = bucket.cors or ()
    wanted_methods = [m.upper() for m in methods]
    if any_origin:
        matching = [r for r in rules if r.get("AllowedOrigins")]
    elif origin == "*":  # every origin: only the rule for AllowedOrigin "*" answers a request from any page
        matching = [r for r in rules if "*" in [str(o) for o in r.get("AllowedOrigins", ())]]
    else:
        matching = [r for r in rules if any(origin_matches(str(p), origin) for p in r.get("AllowedOrigins", ()))]
    missing_methods = [m for m in wanted_methods if not any(m in _upper(r.get("AllowedMethods")) for r in matching)]
    exposing = [r for r in matching if _upper(r.get("AllowedMethods")) & set(wanted_methods)]
    missing_allowed = [h for h in allowed_headers if not any(_header_allowed(r, h) for r in exposing)]
    missing_headers = [h for h in expose_headers
                       if not any(h.lower() in _lower(r.get("ExposeHeaders")) for r in exposing)]
    evidence: dict[str, Any] = {
        "origin": "(any origin the bucket's rules name)" if any_origin else origin,
        "required_methods": wanted_methods,
        "cors_rules": [dict(r) for r in rules],
        "matched_rules": [dict(r) for r in matching],
    }
    if allowed_headers:
        evidence["required_allowed_headers"] = allowed_headers
    if expose_headers:
        evidence["required_expose_headers"] = list(expose_headers)
    wanted_rule: dict[str, Any] = {"AllowedHeaders": allowed_headers, "AllowedMethods": wanted_methods,
                                   "AllowedOrigins": [origin], "ExposeHeaders": list(expose_headers)}
    if max_age:
        wanted_rule["MaxAgeSeconds"] = max_age
    # The guide's own CORS rule, as `auditor plan` proposes it, when the vendor's pack has one that answers this
    # requirement: the finding and the plan then propose the same change.
    profile = target.integration.profile if target.integration else None
    planned = profile.plan.cors if profile else None
    if planned and _answers(planned, origin, any_origin, wanted_methods, allowed_headers, expose_headers):
        wanted_rule = dict(planned)
    if any_origin:
        who = "any origin"
    elif origin == "*":
        who = "any origin ('*')"
    else:
        who = origin
    if bucket.cors is None:
        return Outcome(Status.FAIL, f"Bucket {bucket.name} has no CORS configuration; a browser cannot "
                       f"{'/'.join(wanted_methods)} its objects from {who}.",
                       evidence, cors_remediation(bucket.name, (), wanted_rule), resource=bucket.arn)
    if missing_methods or missing_allowed or missing_headers:
        parts = []
        if missing_methods:
            parts.append(f"no CORS rule allows {', '.join(missing_methods)} from {who}")
        if missing_allowed:
            parts.append(f"no matching rule has AllowedHeaders {', '.join(repr(h) for h in missing_allowed)}")
        if missing_headers:
            parts.append(f"matching rules do not expose {', '.join(missing_headers)}")
        others = sorted({str(o) for r in rules for o in r.get("AllowedOrigins", ())} - {"*"} if origin == "*"
                        and not any_origin else set())
        text = _sentence("; ".join(parts))
        if missing_methods and others:
            text += f" (the bucket's rules allow {', '.join(others)} only)"
        evidence["missing_methods"] = missing_methods
        evidence["missing_allowed_headers"] = missing_allowed
        evidence["missing_expose_headers"] = missing_headers
        return Outcome(Status.FAIL, text + ".", evidence, cors_remediation(bucket.name, rules, wanted_rule),
                       resource=bucket.arn)
    if any_origin:  # the guide names no origin: say which ones the matching rules allow
        who = ", ".join(sorted({str(o) for r in exposing for o in r.get("AllowedOrigins", ())})) or who
    text = f"CORS allows {', '.join(wanted_methods)} from {who}"
    if allowed_headers:
        text += f" with AllowedHeaders {', '.join(repr(h) for h in allowed_headers)}"
    if expose_headers:
        text += f" and exposes {', '.join(expose_headers)}"
    text += "."
    if max_age:
        ages = [r.get("MaxAgeSeconds") for r in exposing]
        configured = max((a for a in ages if isinstance(a, int) and not isinstance(a, bool)), default=None)
        evidence["max_age"] = {"guide": max_age, "configured": configured}
        if configured is None or configured < max_age:
            have = "is not set" if configured is None else f"is {configured}"
            text += (f" Advisory: MaxAgeSeconds {have}; the guide sets {max_age}, so browsers may send a "
                     "preflight request before more of their requests (it works, only slower).")
    return Outcome(Status.PASS, text, evidence, resource=bucket.arn)


def _answers(rule: Mapping[str, Any], origin: str, any_origin: bool, methods: Sequence[str],
             allowed_headers: Sequence[str], expose_headers: Sequence[str]) -> bool:
    """Whether one CORS rule satisfies a cors_allows requirement on its own."""
    origins = [str(o) for o in rule.get("AllowedOrigins") or ()]
    if not origins or not (any_origin or ("*" in origins if origin == "*"
                                          else any(origin_matches(o, origin) for o in origins))):
        return False
    return (set(methods) <= _upper(rule.get("AllowedMethods"))
            and all(_header_allowed(rule, h) for h in allowed_headers)
            and {h.lower() for h in expose_headers} <= _lower(rule.get("ExposeHeaders")))


@check("cors_wildcard_origin", needs=("GetBucketCors",), reads=("s3:GetBucketCORS",))
def cors_wildcard_origin(target: Target) -> Outcome:
    """No CORS rule allows every origin; one that also allows writes is worse."""
    rules = target.bucket.cors or ()
    wild = [dict(r) for r in rules if "*" in r.get("AllowedOrigins", ())]
    if not wild:
        return Outcome(Status.PASS, "No CORS rule allows origin '*'.", {"cors_rules": [dict(r) for r in rules]})
    writes = sorted({m for r in wild for m in _upper(r.get("AllowedMethods"))} & set(WRITE_METHODS))
    fixed = [dict(r) for r in rules if "*" not in r.get("AllowedOrigins", ())]
    # The origins of the vendors on this bucket, where their profiles name them; else a placeholder to fill in.
    origins = list(dict.fromkeys(o for i in target.integrations if i.profile for o in i.profile.origins))
    fixed += [{**r, "AllowedOrigins": origins or ["https://REPLACE-WITH-YOUR-APP-ORIGIN"]} for r in wild]
    remediation = ("Replace '*' with the exact origins that need access"
                   + (f" ({', '.join(origins)}, from the vendor's guide)" if origins else "") + ":\n"
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
