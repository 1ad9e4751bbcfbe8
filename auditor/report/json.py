"""findings.json (PRODUCT.md §4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.model import ScanResult
from auditor.report.safe import finite, json_finding
from auditor.report.stream import LazyList, write_json

FILENAME = "findings.json"


def to_document(result: ScanResult, *, stream: bool = False) -> dict[str, Any]:
    """The findings.json document (never NaN or Infinity, which JSON does not have). With ``stream``,
    its findings are made only while ``write_json`` writes it (a ``LazyList``: for that writer only,
    other encoders see an empty list)."""
    def made():
        return (json_finding(f) for f in result.findings)

    findings = LazyList(made, len(result.findings)) if stream else list(made())
    return {
        "schema_version": 1,
        "tool": {"name": "auditor", "version": result.tool_version},
        "scan": {
            "started_at": result.started_at,
            "finished_at": result.finished_at,
            "accounts": list(result.accounts),
            "buckets": result.buckets,
            "skipped_accounts": [
                finite({"name": s.name, "account_id": s.account_id, "reason": s.reason}) for s in result.skipped
            ],
            "failed_calls": [finite(dict(c)) for c in result.failed_calls],
        },
        "findings": findings,
    }


def render_json(result: ScanResult, out_dir: Path) -> Path:
    return write_findings(result, Path(out_dir) / FILENAME)


def write_findings(result: ScanResult, path: Path | str) -> Path:
    """Write findings.json to ``path`` as a stream (``-``: standard output)."""
    write_json(path, to_document(result, stream=True))
    return Path(path)
