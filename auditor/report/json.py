"""findings.json (PRODUCT.md §4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.model import ScanResult
from auditor.report.files import write_atomic

FILENAME = "findings.json"


def to_document(result: ScanResult) -> dict[str, Any]:
    """The findings.json document."""
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
        },
        "findings": [f.to_json() for f in result.findings],
    }


def render_json(result: ScanResult, out_dir: Path) -> Path:
    path = Path(out_dir) / FILENAME
    write_atomic(path, json.dumps(to_document(result), indent=2, ensure_ascii=False) + "\n")
    return path
