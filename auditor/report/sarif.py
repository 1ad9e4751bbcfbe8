"""findings.sarif: SARIF 2.1.0 for code-scanning dashboards and CI.

One reporting descriptor per rule id that has a result, one result per fail or unknown finding
(passes are not results here). A fail is ``kind: "fail"`` at the level its severity maps to; an
unknown is ``kind: "review"`` (SARIF: "the tool could not determine whether the rule's conditions
are satisfied"), whose level must then be ``"none"`` (SARIF 2.1.0 §3.27.10). Suppressed findings
carry a SARIF suppression. The schema the output is tested against is ``auditor/schema/sarif-2.1.0.json``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from auditor.model import Finding, ScanResult, Severity, Status, plain_data
from auditor.report.safe import plain_finding
from auditor.report.stream import LazyList, write_json

FILENAME = "findings.sarif"
SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "auditorFinding/v1"  # rule id + resource + principal + vendor (Finding.fingerprint)

LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
         Severity.LOW: "note", Severity.INFO: "note"}
# GitHub code scanning reads properties.security-severity, a number 0.0-10.0 written as a string
# (> 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low).
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "3.0", Severity.INFO: "0.0"}


def _uri(resource: str) -> str:
    """An ARN as an RFC 3986 URI reference: ``arn:aws:s3:::bucket`` stays readable, anything odd is %-encoded."""
    return quote(resource, safe=":/*")


def _fenced(text: str) -> str:
    """A Markdown code block that no backtick run inside ``text`` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _rule(first: Finding, example: Finding | None) -> dict[str, Any]:
    """The descriptor of ``first.rule_id``; ``example`` is its first reported finding with a remediation."""
    text = [first.title, f"Reference: {first.reference}" if first.reference else ""]
    markdown = [f"**{first.title}**", f"Reference: {first.reference}" if first.reference else ""]
    if example is not None:
        where = example.bucket or example.resource
        text.append(f"Remediation (for {where}; each result carries the fix for its own resource):\n"
                    f"{example.remediation}")
        markdown.append(f"**Remediation** (for `{where}`; each result carries the fix for its own resource)\n\n"
                        f"{_fenced(example.remediation or '')}")
    return {
        "id": first.rule_id,
        "name": "".join(part.capitalize() for part in re.split(r"[.\-]", first.rule_id)),
        "shortDescription": {"text": first.title},
        "fullDescription": {"text": f"{first.title} ({first.vendor})"},
        "help": {"text": "\n\n".join(t for t in text if t), "markdown": "\n\n".join(m for m in markdown if m)},
        "defaultConfiguration": {"level": LEVEL[first.severity]},
        "properties": {"security-severity": SECURITY_SEVERITY[first.severity], "severity": first.severity.value,
                       "tags": ["security", first.vendor, first.kind], "precision": "high", "kind": first.kind},
        **({"helpUri": first.guide["url"]} if first.guide and first.guide.get("url") else {}),
    }


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    failed = f.status == Status.FAIL
    text = f.message if failed else f"Could not be verified: {f.message}"
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "kind": "fail" if failed else "review",
        "level": LEVEL[f.severity] if failed else "none",
        "message": {"text": text},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": _uri(f.resource)}},
            "logicalLocations": [{"name": f.bucket or f.resource, "fullyQualifiedName": f.resource,
                                  "kind": "resource"}],
        }],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {"status": f.status.value, "severity": f.severity.value, "vendor": f.vendor,
                       "account_id": f.account_id, "region": f.region, "bucket": f.bucket,
                       "principal": f.principal, "inferred": f.inferred, "reference": f.reference,
                       "kind": f.kind, "required_by": f.required_by, "evidence": plain_data(f.evidence)},
    }
    if f.required_by and failed:  # what the vendor's guide requires: a note, never a violation
        result["kind"], result["level"] = "informational", "note"
    if f.remediation:
        # SARIF "fixes" are byte edits to files; a cloud fix is a policy or a command, so it travels
        # as a property and in the message's Markdown.
        result["properties"]["remediation"] = f.remediation
        result["message"]["markdown"] = f"{text}\n\n**Remediation**\n\n{_fenced(f.remediation)}"
    if f.suppressed:
        assert f.suppression is not None
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": str(f.suppression.get("reason", ""))}]
    return result


def to_document(result: ScanResult, *, stream: bool = False) -> dict[str, Any]:
    """The SARIF log: one run, rules sorted by id, results in the findings' order (no NaN/Infinity).
    With ``stream``, results are made only while ``write_json`` writes the log (see
    ``report.json.to_document``)."""
    reported = [plain_finding(f) for f in result.findings if f.status != Status.PASS]
    by_rule: dict[str, list[Finding]] = {}
    for f in sorted(reported, key=lambda x: x.rule_id):
        by_rule.setdefault(f.rule_id, []).append(f)
    index = {rule_id: i for i, rule_id in enumerate(by_rule)}
    descriptors = [_rule(items[0], next((f for f in items if f.remediation), None)) for items in by_rule.values()]
    notifications = [{"level": "warning",
                      "message": {"text": f"Account {s.name}{f' ({s.account_id})' if s.account_id else ''} "
                                          f"was skipped: {s.reason}"}}
                     for s in result.skipped]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "auditor", "version": result.tool_version, "rules": descriptors}},
            "invocations": [{"executionSuccessful": True, "startTimeUtc": result.started_at,
                             "endTimeUtc": result.finished_at, "toolExecutionNotifications": notifications}],
            "results": (LazyList(lambda: (_result(f, index[f.rule_id]) for f in reported), len(reported)) if stream
                        else [_result(f, index[f.rule_id]) for f in reported]),
            "properties": {"accounts": list(result.accounts), "buckets": result.buckets},
        }],
    }


def render_sarif(result: ScanResult, out_dir: Path) -> Path:
    """Write findings.sarif into ``out_dir`` (temporary file + rename)."""
    return write_sarif(result, Path(out_dir) / FILENAME)


def write_sarif(result: ScanResult, path: Path | str) -> Path:
    """Write the SARIF log to ``path`` as a stream (``-``: standard output)."""
    write_json(path, to_document(result, stream=True))
    return Path(path)
