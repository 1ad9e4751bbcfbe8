"""report.html without a browser: self-contained, strict CSP by hash, every value escaped."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from auditor.model import ScanResult
from auditor.report.html import render_html, render_html_text, script_json, script_json_pieces
from tests.report.sample import HOSTILE_BUCKET, HOSTILE_ORIGIN, sample_result


def sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_csp_allows_exactly_the_inline_script_and_style():
    page = render_html_text(sample_result())
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page).group(1)
    csp = html.unescape(csp)
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(scripts) == 1 and len(styles) == 1
    assert directives["script-src"] == f"'{sha256(scripts[0])}'"
    assert directives["style-src"] == f"'{sha256(styles[0])}'"


def test_self_contained():
    page = render_html_text(sample_result())
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page


def test_hostile_values_are_escaped_everywhere():
    page = render_html_text(sample_result())
    assert HOSTILE_BUCKET not in page and HOSTILE_ORIGIN not in page
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in page
    assert page.count("<script") == 2  # the data block and the report's own script


def test_data_block_written_in_pieces_is_the_whole_block():
    hostile = "</script><script>alert(1)</script><!-- & \u2028 \u2029 é"
    items = [{"i": i, "text": hostile * (i % 3), "z": None, "a": [i, 1.5]} for i in range(40)]
    for head in ({"generated": "2026-01-01T00:00:00Z"}, {"generated": None, "zz": {"b": 1, "a": hostile}}, {}):
        for chunk in (1, 50, 1 << 16):
            for some in (items, items[:1], []):
                pieces = list(script_json_pieces(head, "findings", iter(some), chunk=chunk))
                assert "".join(pieces) == str(script_json({**head, "findings": some})), (head, chunk, len(some))
                assert all(isinstance(p, type(script_json({}))) for p in pieces)  # already escaped: not again
    assert len(list(script_json_pieces({}, "findings", iter(items), chunk=50))) > 10  # never held whole


def test_data_block_cannot_break_out_of_its_script_element():
    value = {"x": "</script><script>alert(1)</script><!-- & \u2028"}
    text = str(script_json(value))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value
    page = render_html_text(sample_result())
    block = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1)
    data = json.loads(block)
    assert "<" not in block
    assert [f["rule_id"] for f in data["findings"]][:1] == ["redbrick.read-grant"]  # worst first
    assert any(f["bucket"] == HOSTILE_BUCKET for f in data["findings"])


def test_empty_scan_and_minimal_changes_render(tmp_path):
    empty = ScanResult(started_at="2026-01-01T00:00:00Z", finished_at="2026-01-01T00:00:01Z", accounts=(),
                       buckets=0, findings=())
    page = render_html(empty, tmp_path, previous_changes={"new": [], "resolved": [], "still_failing": []}).read_text()
    assert "No failing findings." in page and "0 new, 0 resolved, 0 still failing." in page
    assert 'id="skipped"' not in page and 'id="unknown"' not in page


def test_changes_section_lists_each_kind():
    still = {"rule_id": "datature.cors", "status": "fail", "bucket": "nexus-assets", "resource": "r", "message": "m"}
    page = render_html_text(sample_result(), previous_changes={"new": [], "resolved": [], "still_failing": [still]})
    assert "Still failing (1)" in page and "datature.cors" in page
    assert 'id="changes"' not in render_html_text(sample_result())


def test_pass_findings_carry_no_remediation_button():
    result = sample_result()
    only_pass = dataclasses.replace(result, findings=tuple(
        dataclasses.replace(f, remediation="do x") for f in result.findings if f.status.value == "pass"))
    assert 'class="copy' not in render_html_text(only_pass)


@given(text=st.text(alphabet=st.sampled_from("<>&\u2028\u2029ab\u00e9\u202e")) | st.text())
def test_script_safe_escapes_what_the_table_names(text):
    from auditor.report.html import _SCRIPT_SAFE, _script_safe

    assert _script_safe(text) == text.translate(str.maketrans(_SCRIPT_SAFE))
