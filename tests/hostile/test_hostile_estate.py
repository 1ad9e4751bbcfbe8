"""A hostile estate — HTML/JS, spreadsheet formulas, ANSI/OSC escapes, bidi overrides, huge and
deep documents in object keys, policy statements, server error messages and skip reasons —
checked in every output format, the terminal included (under a pseudo-terminal, 80 and 120 columns)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.content.media import jpeg
from tests.faultproxy import Fault, FaultProxy, on_api
from tests.ptyrun import run_on_pty

ESC = "\x1b"
CLEAR = "\x1b[2J\x1b[H"
TITLE = "\x1b]0;owned\x07"
LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
BIDI = "\u202egpj.exe\u202c"
C1 = "\x9b31m"
HTML = "<script>alert(1)</script><img src=x onerror=alert(2)>"
FORMULA = '=HYPERLINK("https://evil.example","x")'
HOSTILE = f"{HTML}{CLEAR}{TITLE}{LINK}{BIDI}{C1}"

ROTATED_KEY = f"images/{FORMULA}{CLEAR}{TITLE}{BIDI}{HTML}.jpg"
# The bidi override early: the terminal shows two lines of a message at 80 columns, and both kinds of
# escape must be among what it shows.
SID = f"Public{BIDI}{CLEAR}{TITLE}{LINK}"


def _deep(n: int):
    doc: object = "leaf"
    for _ in range(n):
        doc = [doc]
    return doc


def _estate(aws) -> None:
    s3 = aws("s3")
    s3.create_bucket(Bucket="hostile-bucket")
    s3.put_object(Bucket="hostile-bucket", Key=ROTATED_KEY, Body=jpeg(orientation=6))
    huge = [{"Sid": f"Filler{i}", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
             "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::hostile-bucket/{'x' * 200}{i}/*"} for i in range(200)]
    public = {"Sid": SID, "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": "arn:aws:s3:::hostile-bucket/*",
              "Condition": {"StringLike": {"aws:Referer": [f"{HOSTILE}", json.dumps(_deep(40))]}}}
    s3.put_bucket_policy(Bucket="hostile-bucket", Policy=json.dumps({"Version": "2012-10-17",
                                                                     "Statement": [public, *huge]}))


def _faults() -> list[Fault]:
    return [
        # A server error message full of escapes.
        Fault(match=on_api("GetBucketCors"), status=500, code="InternalError", message=f"boom {HOSTILE}"),
        # An account that cannot be opened: its skip reason carries the escapes.
        Fault(match=lambda r: True, body_contains=b"Action=AssumeRole", status=403, code="AccessDenied",
              message=f"not allowed {HOSTILE}"),
    ]


def _config(url: str) -> str:
    return f"""
[scan]
max_attempts = 1
timeout = 2

[[accounts]]
name = "main"
endpoint_url = "{url}"

[[accounts]]
name = "other"
role_arn = "arn:aws:iam::123456789012:role/audit"
endpoint_url = "{url}"

[[integrations]]
vendor = "datature"
account = "main"
bucket = "hostile-bucket"
prefix = "images/"
role_arn = "arn:aws:iam::123456789012:role/datature"
"""


def _pty_run(args: list[str], cwd: Path, columns: int) -> tuple[int, str]:
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("COLUMNS", None)
    return run_on_pty(args, cwd, env, columns=columns)


# What rich itself writes: SGR (colours, bold), and for the progress display cursor hide/show, erase
# line and cursor moves. Anything else — clear screen, titles, hyperlinks (OSC), C1 — would be an injection.
SGR = re.compile(r"\x1b\[(?:[0-9;]*m|\?25[lh]|2K|[0-9]*[ABCDG])")


def _assert_terminal_safe(shown: str) -> None:
    rest = SGR.sub("", shown)
    assert ESC not in rest, repr(rest[max(0, rest.find(ESC) - 80):rest.find(ESC) + 80])
    assert "\x07" not in rest and "\x9b" not in rest and "\u202e" not in rest and "\u202c" not in rest
    # Shown, visibly, instead.
    assert "\\x1b" in rest and "\\u202e" in rest


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@pytest.fixture
def scanned(moto, aws, tmp_path):
    _estate(aws)
    proxy = FaultProxy(moto.endpoint, _faults())
    url = proxy.start()
    (tmp_path / "auditor.toml").write_text(_config(url))
    yield tmp_path
    proxy.stop()


@pytest.mark.parametrize("columns", [80, 120])
def test_terminal_shows_no_raw_control_character(scanned, columns):
    code, shown = _pty_run(["scan", "--format", "table", "--no-history", "--show-passes"], scanned, columns)
    assert code in (1, 3), shown[-3000:]
    assert "Traceback" not in shown
    _assert_terminal_safe(shown)
    assert "skipped account other" in shown
    assert "exif-orientation" in shown and "public-policy" in shown


def test_every_file_format_shows_the_data_safely(scanned):
    out = scanned / "out"
    done = subprocess.run([sys.executable, "-m", "auditor.cli", "scan", "--format", "json,csv,html,sarif",
                           "--output-dir", str(out), "--no-history"], cwd=scanned, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode in (1, 3) and "Traceback" not in done.stderr, done.stderr
    _assert_terminal_safe(done.stdout + done.stderr + "\\x1b \\u202e")  # nothing raw in a pipe either

    # JSON and SARIF: the data exactly (a machine reads it), but nothing raw in the file's text.
    for name in ("findings.json", "findings.sarif"):
        text = (out / name).read_text(encoding="utf-8")
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), name
        assert "NaN" not in text and "Infinity" not in text
        assert any(ROTATED_KEY in s for s in _strings(json.loads(text))), name  # the data, exactly, once parsed
    findings = json.loads((out / "findings.json").read_text())["findings"]
    exif = next(f for f in findings if f["rule_id"] == "datature.exif-orientation")
    assert exif["status"] == "fail" and ROTATED_KEY in exif["message"]
    cors = next(f for f in findings if f["rule_id"] == "baseline.cors-wildcard-origin")
    assert cors["status"] == "unknown" and "GetBucketCors" in cors["message"]

    # HTML: markup escaped, bidi and controls shown as escapes.
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html and "onerror=alert" not in html.replace("onerror=alert(2)&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\u202e" not in html and "\x1b" not in html and "\x07" not in html and "\x9b" not in html
    assert "\\u202e" in html and "\\x1b" in html

    # CSV: formulas neutralised, bidi escaped, no cell over Excel's limit.
    text = (out / "findings.csv").read_text(encoding="utf-8")
    assert "\u202e" not in text and "\x1b" not in text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows
    for row in rows:
        for value in row.values():
            assert len(value) <= 32767
            assert not value.startswith(("=", "+", "-", "@")), value[:80]
    public = next(r for r in rows if r["rule_id"] == "baseline.public-policy")
    assert public["status"] == "fail"


def test_csv_cell_over_excel_limit_is_cut_with_a_marker(tmp_path):
    import dataclasses

    from auditor.report.csv import CELL_LIMIT, render_csv
    from tests.report.sample import sample_result

    result = sample_result()
    big = dataclasses.replace(result.findings[0], message="=" + "y" * 100_000)
    result = dataclasses.replace(result, findings=(big,) + result.findings[1:])
    rows = list(csv.DictReader(io.StringIO(render_csv(result, tmp_path).read_text(encoding="utf-8"), newline="")))
    cell = rows[0]["message"]
    assert len(cell) == CELL_LIMIT and cell.startswith("'=") and cell.endswith("characters in all]")


@pytest.mark.parametrize("fmt", ["json", "sarif", "csv"])
def test_a_machine_format_on_stdout_is_as_safe_as_its_file(scanned, fmt):
    done = subprocess.run([sys.executable, "-m", "auditor.cli", "scan", "--format", fmt, "-o", "-", "--no-history"],
                          cwd=scanned, capture_output=True, text=True, timeout=300)
    assert done.returncode in (1, 3) and "Traceback" not in done.stderr, done.stderr
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", done.stdout.replace("\r\n", "\n"))
    if fmt != "csv":
        assert any(ROTATED_KEY in s for s in _strings(json.loads(done.stdout)))  # the data, exactly, once parsed
