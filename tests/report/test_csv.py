"""findings.csv: documented columns, one row per finding, no cell a spreadsheet would run."""

from __future__ import annotations

import csv
import dataclasses
import json

import pandas as pd
import pytest

from auditor.report.csv import COLUMNS, neutralise, render_csv
from tests.report.sample import FORMULA_USER, sample_result

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_USERS = ('=HYPERLINK("http://x","y")', "+1", "-1", "@SUM(1)", "\tcmd|' /C calc'!A0", "\r=1+1", FORMULA_USER)


def hostile_result():
    """One finding per hostile IAM user name, in the principal, the message and the remediation."""
    base = sample_result()
    template = base.findings[0]
    findings = tuple(
        dataclasses.replace(template, principal=name, message=name, remediation=name, title=name,
                            resource=f"arn:aws:iam::123456789012:user/{name}", evidence={"user": name})
        for name in HOSTILE_USERS)
    return dataclasses.replace(base, findings=findings)


def test_header_is_the_documented_column_order(tmp_path):
    with render_csv(sample_result(), tmp_path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == COLUMNS
    assert COLUMNS[:9] == ("rule_id", "vendor", "status", "severity", "account_id", "region", "bucket", "resource",
                           "inferred")
    assert COLUMNS[-1] == "evidence"
    assert len(rows) == 1 + len(sample_result().findings)


def test_one_row_per_finding_with_compact_json_evidence(tmp_path):
    frame = pd.read_csv(render_csv(sample_result(), tmp_path), dtype=str, keep_default_na=False)
    findings = sample_result().findings
    assert list(frame["rule_id"]) == [f.rule_id for f in findings]
    assert list(frame["status"]) == [f.status.value for f in findings]
    cors = frame[frame["rule_id"] == "v7-aws.cors"].iloc[0]
    assert json.loads(cors["evidence"]) == {"cors_rules": [{"AllowedMethods": ["GET"],
                                                             "AllowedOrigins": ["<script>window.__pwned=1</script>"]}]}
    assert ": " not in cors["evidence"] and ", " not in cors["evidence"]  # compact
    account_level = frame[frame["rule_id"] == "baseline.trust-external-id"].iloc[0]
    assert account_level["bucket"] == "" and account_level["region"] == ""


@pytest.mark.parametrize("reader", ["csv", "pandas"])
def test_no_cell_starts_with_a_formula_character(tmp_path, reader):
    path = render_csv(hostile_result(), tmp_path)
    if reader == "csv":
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))[1:]
        cells = [cell for row in rows for cell in row]
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        rows = list(frame.itertuples())
        cells = [cell for col in frame.columns for cell in frame[col]]
    assert len(rows) == len(HOSTILE_USERS)  # an embedded CR or LF never starts a row of its own
    assert cells
    for cell in cells:
        assert not cell.startswith(FORMULA_START), repr(cell)
    principals = [r for r in cells if r.startswith("'")]
    for name in HOSTILE_USERS:
        assert "'" + name in principals, name  # kept, readable, only prefixed


def test_neutralise_leaves_ordinary_values_alone():
    assert neutralise("radiology-scans") == "radiology-scans"
    assert neutralise("a=b") == "a=b"
    assert neutralise(True) is True and neutralise(None) is None
    assert neutralise("-1") == "'-1"


def test_csv_for_excel_has_a_bom(tmp_path):
    raw = render_csv(sample_result(), tmp_path, excel=True).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert not render_csv(sample_result(), tmp_path / "plain").read_bytes().startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(tmp_path / "findings.csv", encoding="utf-8-sig", dtype=str)
    assert tuple(frame.columns) == COLUMNS
