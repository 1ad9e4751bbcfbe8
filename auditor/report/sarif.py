"""findings.sarif: SARIF 2.1.0 for code-scanning dashboards and CI.

One reporting descriptor per rule id, one result per fail or unknown finding (passes are not
results in SARIF). Suppressed findings carry a SARIF suppression.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.model import Finding, ScanResult, Severity, Status
from auditor.report.files import write_atomic

FILENAME = "findings.sarif"
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
         Severity.LOW: "note", Severity.INFO: "note"}
# GitHub code scanning reads properties.security-severity (CVSS-like, 0.0-10.0).
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "3.0", Severity.INFO: "0.0"}


def _rule(f: Finding) -> dict[str, Any]:
    help_text = f"{f.reference}\n\nRemediation: see each result's fix." if f.reference else f.title
    return {
        "id": f.rule_id,
        "name": "".join(part.capitalize() for part in f.rule_id.replace(".", "-").split("-")),
        "shortDescription": {"text": f.title},
        "fullDescription": {"text": f"{f.title} ({f.vendor})"},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": LEVEL[f.severity]},
        "properties": {"security-severity": SECURITY_SEVERITY[f.severity], "tags": ["security", f.vendor],
                       "precision": "high"},
    }


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    text = f.message if f.status == Status.FAIL else f"Could not be verified: {f.message}"
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[f.severity] if f.status == Status.FAIL else "note",
        "kind": "fail" if f.status == Status.FAIL else "review",
        "message": {"text": text},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": f.resource}},
            "logicalLocations": [{"name": f.bucket or f.resource, "fullyQualifiedName": f.resource,
                                  "kind": "resource"}],
        }],
        "partialFingerprints": {"auditorFinding/v1": f.fingerprint},
        "properties": {"status": f.status.value, "severity": f.severity.value, "vendor": f.vendor,
                       "account_id": f.account_id, "region": f.region, "inferred": f.inferred,
                       "evidence": json.loads(json.dumps(f.to_json()["evidence"]))},
    }
    if f.remediation:
        # SARIF "fixes" describe byte edits to files; a cloud fix is a command, so it travels as a property
        # and in the message's markdown.
        result["properties"]["remediation"] = f.remediation
        result["message"]["markdown"] = f"{text}\n\n**Remediation**\n\n```\n{f.remediation}\n```"
    if f.suppressed:
        result["suppressions"] = [{"kind": "external", "justification": str(f.suppression.get("reason", ""))}]
    return result


def to_document(result: ScanResult) -> dict[str, Any]:
    reported = [f for f in result.findings if f.status != Status.PASS]
    rules: dict[str, int] = {}
    descriptors = []
    for f in sorted(reported, key=lambda x: x.rule_id):
        if f.rule_id not in rules:
            rules[f.rule_id] = len(descriptors)
            descriptors.append(_rule(f))
    notifications = [{"level": "warning", "message": {"text": f"Account {s.name} was skipped: {s.reason}"}}
                     for s in result.skipped]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "auditor", "version": result.tool_version,
                                "informationUri": "https://pypi.org/project/auditor/", "rules": descriptors}},
            "invocations": [{"executionSuccessful": True, "startTimeUtc": result.started_at,
                             "endTimeUtc": result.finished_at, "toolExecutionNotifications": notifications}],
            "results": [_result(f, rules[f.rule_id]) for f in reported],
        }],
    }


def render_sarif(result: ScanResult, out_dir: Path) -> Path:
    path = Path(out_dir) / FILENAME
    write_atomic(path, json.dumps(to_document(result), indent=2, ensure_ascii=False) + "\n")
    return path
