"""findings.json (PRODUCT.md §4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.model import ScanResult
from auditor.report.files import write_atomic
from auditor.textsafe import json_text
from auditor.report.safe import plain

FILENAME = "findings.json"


def to_document(result: ScanResult) -> dict[str, Any]:
    """The findings.json document (never NaN or Infinity, which JSON does not have)."""
    result = plain(result)
    return {
        "schema_version": 1,
        "tool": {"name": "auditor", "version": result.tool_version},
        "scan": {
            "started_at": result.started_at,
            "finished_at": result.finished_at,
            "accounts": list(result.accounts),
            "buckets": result.buckets,
            "skipped_accounts": [
                {"name": s.name, "account_id": s.account_id, "reason": s.reason} for s in result.skipped
            ],
            "failed_calls": [dict(c) for c in result.failed_calls],
        },
        "findings": [f.to_json() for f in result.findings],
    }


def render_json(result: ScanResult, out_dir: Path) -> Path:
    path = Path(out_dir) / FILENAME
    write_atomic(path, json_text(json.dumps(to_document(result), indent=2, ensure_ascii=False, allow_nan=False)) + "\n")
    return path
