"""report.html: one self-contained page an auditor can hand on (no network, works as an attachment).

Rendered with Jinja2 (autoescape on) from ``reports/report.html.j2``. The inline stylesheet and
script are allowed by their SHA-256 hashes in a strict Content-Security-Policy, so nothing
else — no injected markup from a bucket name or a policy — can run.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from auditor.model import Finding, ScanResult, Severity, Status
from auditor.report.files import write_atomic

FILENAME = "report.html"
VENDORS = ("v7-aws", "v7-wasabi", "datature", "tenyks", "redbrick", "baseline")
SEVERITIES = tuple(s.value for s in Severity)
STATUS_ORDER = {Status.FAIL: 0, Status.UNKNOWN: 1, Status.PASS: 2}
SEVERITY_COLOURS = {"critical": "#8b1a1a", "high": "#d9480f", "medium": "#e8a317", "low": "#3b7dd8", "info": "#868e96"}


def _asset(name: str) -> str:
    return importlib.resources.files("auditor.reports").joinpath(name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def _chart(findings: list[Finding]) -> dict[str, Any]:
    """Grouped bars: failing findings per vendor, one bar per severity (drawn as inline SVG)."""
    counts = Counter((f.vendor, f.severity.value) for f in findings if f.status == Status.FAIL and not f.suppressed)
    vendors = [v for v in VENDORS if any(counts[(v, s)] for s in SEVERITIES)] or ["baseline"]
    top = max([counts[(v, s)] for v in vendors for s in SEVERITIES] + [1])
    bar_w, gap, group_gap, height = 14, 2, 26, 160
    bars, labels = [], []
    x = 40
    for v in vendors:
        start = x
        for s in SEVERITIES:
            n = counts[(v, s)]
            h = round(n / top * height)
            bars.append({"x": x, "y": 10 + height - h, "w": bar_w, "h": h, "n": n, "fill": SEVERITY_COLOURS[s],
                         "title": f"{v}: {n} {s}"})
            x += bar_w + gap
        labels.append({"x": (start + x - gap) / 2, "text": v})
        x += group_gap
    ticks = [{"y": 10 + height - round(t / top * height), "text": t} for t in sorted({0, top // 2, top})]
    return {"width": x + 10, "height": height + 50, "bars": bars, "labels": labels, "ticks": ticks,
            "base": 10 + height, "legend": [{"name": s, "fill": SEVERITY_COLOURS[s]} for s in SEVERITIES]}


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _view(result: ScanResult) -> dict[str, Any]:
    findings = sorted(result.findings, key=lambda f: (STATUS_ORDER[f.status], -f.severity.rank, f.vendor,
                                                      f.bucket or "", f.rule_id, f.resource))
    counts = result.counts()
    by_vendor: dict[str, Counter] = defaultdict(Counter)
    for f in findings:
        if not f.suppressed:
            by_vendor[f.vendor][f.status.value] += 1
    buckets: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        buckets[f.bucket or "(account)"].append(f)
    bucket_rows = []
    for name in sorted(buckets):
        items = buckets[name]
        c = Counter(f.status.value for f in items if not f.suppressed)
        bucket_rows.append({"name": name, "findings": items, "fail": c["fail"], "unknown": c["unknown"],
                            "pass": c["pass"], "account": items[0].account_id})
    return {
        "result": result,
        "findings": findings,
        "totals": {s: sum(counts[s].values()) for s in ("fail", "unknown", "pass")},
        "counts": counts,
        "severities": SEVERITIES,
        "vendors": [v for v in VENDORS if v in by_vendor],
        "by_vendor": by_vendor,
        "buckets": bucket_rows,
        "unknown": [f for f in findings if f.status == Status.UNKNOWN],
        "chart": _chart(findings),
        "pretty": _pretty,
    }


def render_html_text(result: ScanResult, *, previous_changes: dict[str, Any] | None = None) -> str:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                      lstrip_blocks=True)
    css, js = _asset("report.css"), _asset("report.js")
    csp = (f"default-src 'none'; style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    template = env.from_string(_asset("report.html.j2"))
    return template.render(csp=csp, css=Markup(css), js=Markup(js), changes=previous_changes, **_view(result))


def render_html(result: ScanResult, out_dir: Path, *, previous_changes: dict[str, Any] | None = None) -> Path:
    path = Path(out_dir) / FILENAME
    write_atomic(path, render_html_text(result, previous_changes=previous_changes))
    return path
