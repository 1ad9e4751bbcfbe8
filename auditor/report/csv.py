"""findings.csv: one row per finding, in a stable, documented column order (``COLUMNS``).

Cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab
or carriage return) are prefixed with ``'`` (OWASP, "CSV Injection"). Rows end in CRLF (RFC 4180),
which also makes the writer quote any cell holding a bare CR, so no value can start a row of its own.
``evidence`` is compact JSON with sorted keys.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from auditor.model import ScanResult
from auditor.report.files import atomic_text
from auditor.report.safe import json_finding
from auditor.textsafe import document

FILENAME = "findings.csv"

COLUMNS = (
    "rule_id", "vendor", "status", "severity", "account_id", "region", "bucket", "resource", "inferred",
    "suppressed", "title", "message", "remediation", "reference", "principal", "fingerprint", "kind", "required_by",
    "evidence",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Excel's limit on the characters of one cell; a longer cell is cut there, with a marker.
CELL_LIMIT = 32767
CUT_MARKER = "…[cut: {n} characters in all]"


def neutralise(value: object) -> object:
    """Prefix a text cell that a spreadsheet would evaluate; show bidi and control characters as
    escapes; cut a cell longer than a spreadsheet holds."""
    if not isinstance(value, str):
        return value
    value = document(value)
    if value.startswith(_FORMULA_START):
        value = "'" + value
    if len(value) > CELL_LIMIT:
        marker = CUT_MARKER.format(n=len(value))
        value = value[:CELL_LIMIT - len(marker)] + marker
    return value


def rows(result: ScanResult) -> Iterator[list[object]]:
    """The findings as rows of ``COLUMNS``, every text cell neutralised (no NaN/Infinity in any cell)."""
    for doc in map(json_finding, result.findings):
        doc["evidence"] = json.dumps(doc["evidence"], separators=(",", ":"), ensure_ascii=False, sort_keys=True)
        yield [neutralise(doc.get(c)) for c in COLUMNS]


def render_csv(result: ScanResult, out_dir: Path, *, excel: bool = False) -> Path:
    """Write findings.csv into ``out_dir`` (see ``write_csv``)."""
    return write_csv(result, Path(out_dir) / FILENAME, excel=excel)


def write_csv(result: ScanResult, path: Path | str, *, excel: bool = False) -> Path:
    """Write the findings to ``path`` row by row (``-``: standard output); UTF-8, with ``excel``
    UTF-8 with BOM so Excel reads accents right."""
    with atomic_text(path, encoding="utf-8-sig" if excel else "utf-8", newline="") as fh:
        # newline="" is the csv module's rule; CRLF: the writer quotes a cell containing a character
        # of the line terminator, and only those; with "\n" alone a bare "\r" inside a value would
        # be written unquoted and split the row.
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows(result))
    return Path(path)
