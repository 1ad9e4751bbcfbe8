"""Every report format, byte for byte, for the hand-built sample scan (timestamps are fixed)."""

from __future__ import annotations

import pytest

from auditor.report.csv import render_csv
from auditor.report.html import render_html
from auditor.report.json import render_json
from auditor.report.sarif import render_sarif
from tests.report.golden import check_golden
from tests.report.sample import sample_result

CHANGES = {
    "old_scan": 1, "new_scan": 2,
    "new": [{"rule_id": "v7-aws.cors", "status": "fail", "bucket": "radiology-scans",
             "resource": "arn:aws:s3:::radiology-scans", "message": "No CORS rule allows GET"}],
    "resolved": [{"rule_id": "baseline.tls-only", "status": "fail", "status_now": "pass", "bucket": "old-data",
                  "resource": "arn:aws:s3:::old-data", "message": "The bucket policy does not deny plain HTTP"}],
    "still_failing": [],
}


@pytest.mark.parametrize("render", [render_json, render_csv, render_sarif])
def test_golden_files(tmp_path, render):
    check_golden(render(sample_result(), tmp_path))


def test_golden_html(tmp_path):
    check_golden(render_html(sample_result(), tmp_path, previous_changes=CHANGES))


def test_reports_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from auditor.report import files

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", explode)
    for render in (render_json, render_csv, render_sarif, render_html):
        with pytest.raises(OSError):
            render(sample_result(), tmp_path)
    assert list(tmp_path.iterdir()) == []
