"""The terminal view under a pseudo-terminal at 80 and 120 columns: summary first, one block per rule,
nothing broken mid-token, messages capped at two lines, colours only when wanted."""

from __future__ import annotations

import json
import os
import re

import pytest
from rich.cells import cell_len

from auditor.rulepack import load_packs
from tests.ptyrun import run_on_pty

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
RULE_TOKEN = re.compile(r"(?<![\w.-])((?:baseline|v7-aws|v7-wasabi|datature|tenyks|redbrick)\.[A-Za-z0-9-]*)(…?)")
HEADER = re.compile(r"^(FAIL|UNKNOWN|PASS)\s+(critical|high|medium|low|info)\s+(\S+)(?: \(inferred\))?"
                    r"(?: \(suppressed\))?(?: \(guide requires\))? · (\d+) (bucket|resource)s?$")


def run_in_terminal(args, cwd, columns: int) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal of ``columns`` columns; return (status, screen)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    code, shown = run_on_pty(args, cwd, env, columns=columns)
    return code, shown.replace("\r\n", "\n")


@pytest.fixture(scope="module")
def known_ids():
    return {r.id for p in load_packs() for r in p.rules}


@pytest.mark.parametrize("columns", [80, 120])
def test_demo_table_layout(columns, tmp_path, known_ids):
    code, raw = run_in_terminal(["demo", "--format", "table,json", "--output-dir", "out"], tmp_path, columns)
    assert code == 0, raw
    assert ANSI.search(raw), "a terminal gets colours"
    lines = [line.rstrip() for line in ANSI.sub("", raw).split("\n")]
    findings = json.loads((tmp_path / "out" / "findings.json").read_text())["findings"]
    fails = [f for f in findings if f["status"] == "fail"]

    # Nothing wider than the terminal (no line the terminal would have to wrap).
    too_wide = [line for line in lines if cell_len(line) > columns]
    assert not too_wide, too_wide

    # The summary comes before any finding.
    summary = next(i for i, line in enumerate(lines) if re.match(r"^8 buckets in 1 account · fail: ", line))
    # What the vendors' guides require is counted apart: reported, not a violation.
    required = sum(1 for f in findings if f["status"] == "fail" and f["required_by"])
    assert required and f"required by a vendor's guide: {required}" in " ".join(lines[summary:summary + 3])
    first_fail = next(i for i, line in enumerate(lines) if line.startswith("FAIL "))
    assert summary < first_fail

    # One block per failing rule: header, up to two lines of buckets, up to two lines of message.
    headers = [(i, HEADER.match(line)) for i, line in enumerate(lines) if HEADER.match(line)]
    fail_headers = [m for _, m in headers if m.group(1) == "FAIL"]
    assert {m.group(3) for m in fail_headers} == {f["rule_id"] for f in fails}
    assert sum(int(m.group(4)) for m in fail_headers) == len(fails)
    tls = next(m for m in fail_headers if m.group(3) == "baseline.tls-only")
    assert int(tls.group(4)) == sum(1 for f in fails if f["rule_id"] == "baseline.tls-only") == 8
    for n, (i, m) in enumerate(headers):
        end = headers[n + 1][0] if n + 1 < len(headers) else next(
            (j for j in range(i + 1, len(lines)) if lines[j].startswith("Full messages")
             or re.match(r"\d+ passing", lines[j])), len(lines))
        body = [line for line in lines[i + 1:end] if line.strip() and not line.startswith(("Readiness:", "Exposure:"))]
        assert 2 <= len(body) <= 4, (m.group(0), body)
        assert all(line.startswith("    ") for line in body)
        # The resource lines: every name whole (a bucket of the findings or a shortened ARN), or "… +N more".
        names = [x for x in re.split(r",\s*|\s(?=…)", " ".join(body[:1]).strip()) if x]
        group = [f for f in findings if f["rule_id"] == m.group(3) and f["status"] == m.group(1).lower()]
        allowed = {f["bucket"] for f in group} | {f["resource"].split(":")[-1] for f in group}
        for name in names:
            assert name.split(" (")[0] in allowed or name.startswith("…") or name.split(" (")[0].split(":")[-1] in allowed, (name, allowed)

    # Rule ids are never broken: every id-looking token is a whole id (or cut visibly with "…").
    for line in lines:
        for token, cut in RULE_TOKEN.findall(line):
            assert token.rstrip(".,;:)") in known_ids or cut, (token, line)
    # 33 fails in far fewer lines than one table row each.
    assert len(fails) == 33
    assert len([line for line in lines if line]) < 33 * 4
    # The two answers apart: the vendors' requirements, then the advisories.
    readiness = lines.index("Readiness: will the integrations work (the vendors' requirements)") if columns >= 80 else 0
    exposure = next(i for i, line in enumerate(lines) if line.startswith("Exposure: is access wider"))
    kinds = {f["rule_id"]: f["kind"] for f in findings}
    for i, m in headers:
        assert (i < exposure) == (kinds[m.group(3)] == "readiness") and i > readiness, m.group(0)

    assert "Full messages, evidence and remediation: out/findings.json" in lines


def test_no_color_under_a_terminal(tmp_path):
    code, raw = run_in_terminal(["--no-color", "demo", "--format", "table", "--output-dir", "out"], tmp_path, 100)
    assert code == 0, raw
    colours = [sgr for sgr in re.findall(r"\x1b\[([0-9;]*)m", raw)
               if any(p in {"31", "32", "33", "34", "35", "36", "41", "38", "48"} for p in sgr.split(";"))]
    assert not colours, colours[:5]
    assert "8 buckets in 1 account" in ANSI.sub("", raw)


def test_layout_helpers_never_split_a_token():
    from auditor.report.table import list_lines, shorten_arns, wrap

    names = [f"bucket-{i:03d}-with-a-long-name" for i in range(100)]
    lines = list_lines(names, 76, 2)
    assert len(lines) == 2 and all(cell_len(line) <= 76 for line in lines)
    shown = [x for x in " ".join(lines).replace(",", " ").split() if x.startswith("bucket-")]
    assert all(x in names for x in shown)
    assert lines[-1].endswith(f"… +{100 - len(shown)} more")
    assert list_lines(["a", "b"], 76, 2) == ["a, b"]

    lines, cut = wrap(("word " * 60).split(), 40, max_lines=2)
    assert cut and len(lines) == 2 and lines[-1].endswith("…") and all(cell_len(x) <= 40 for x in lines)
    long = "x" * 90
    assert wrap([long], 40)[0] == [long[:39] + "…"]  # wider than the line: cut visibly, not folded

    text = "role arn:aws:iam::123456789012:role/app may be assumed by arn:aws:iam::277710232653:root"
    assert shorten_arns(text, ["123456789012"]) == "role role/app may be assumed by arn:aws:iam::277710232653:root"
    assert shorten_arns(text, ["123456789012", "210987654321"]) == text


@pytest.mark.parametrize("columns", ["80", "140"])
def test_rules_listing_keeps_every_id_whole(columns, known_ids, monkeypatch, capsys):
    from auditor.cli import main

    monkeypatch.setenv("COLUMNS", columns)
    assert main(["rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(cell_len(line) <= int(columns) for line in lines)
    for rule_id in known_ids:
        assert any(re.search(rf"(?<![\w.-]){re.escape(rule_id)}(?![\w-])", line) for line in lines), rule_id
