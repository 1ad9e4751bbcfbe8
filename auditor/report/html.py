"""report.html: one self-contained page an auditor can hand on (no network, works as an attachment).

Rendered with Jinja2 (autoescape on) from ``reports/report.html.j2``. The inline stylesheet and
script are allowed by their SHA-256 hashes in a strict Content-Security-Policy, so nothing
else — no markup injected through a bucket name or a policy — can run. Data for the script
travels in a ``<script type="application/json">`` block with ``<``, ``>`` and ``&`` escaped.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined, select_autoescape
from markupsafe import Markup

from auditor.model import Finding, ScanResult, Severity, Status, plain_data
from auditor.report.files import atomic_text
from auditor.report.safe import displayable, shown_evidence
from auditor.report.stream import indented
from auditor.textsafe import deep

FILENAME = "report.html"
BASELINE = "baseline"  # baseline rules are listed after the vendors
SEVERITIES = tuple(s.value for s in Severity)
STATUSES = ("fail", "unknown", "pass")
STATUS_ORDER = {Status.FAIL: 0, Status.UNKNOWN: 1, Status.PASS: 2}
SEVERITY_COLOURS = {"critical": "#8b1a1a", "high": "#d9480f", "medium": "#e8a317", "low": "#3b7dd8", "info": "#868e96"}
CHANGE_KINDS = (("new", "New problems"), ("resolved", "Resolved"), ("still_failing", "Still failing"),
                ("unverified", "Could not be verified (failing before, unknown now)"))

# JSON inside <script> must not be able to close the element or open a comment: escape the
# characters HTML cares about as JSON \u escapes (JSON.parse reads them back unchanged).
_SCRIPT_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SCRIPT_UNSAFE = re.compile("[<>&\u2028\u2029]")


def _script_safe(text: str) -> str:
    """``text`` with ``_SCRIPT_SAFE`` applied (a regular expression: ``str.translate`` walks every
    character, and the data of a large report is tens of MB)."""
    return _SCRIPT_UNSAFE.sub(lambda m: _SCRIPT_SAFE[m.group(0)], text)


def _asset(name: str) -> str:
    return importlib.resources.files("auditor.reports").joinpath(name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    """A CSP hash source for an inline element whose content is exactly ``text``."""
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def script_json(value: Any) -> Markup:
    """``value`` as JSON that is safe inside ``<script type="application/json">``."""
    return Markup(_script_safe(json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))))


def script_json_pieces(value: Mapping[str, Any], lazy: str, items: Iterable[Any], chunk: int = 1 << 16) -> Iterator[Markup]:
    """``script_json({**value, lazy: list(items)})`` in pieces of about ``chunk`` characters, the list's items
    made one at a time: the data of a 50,000-finding report is tens of MB, never held whole."""
    whole = {**value, lazy: []}
    buffer: list[str] = []
    size = 0
    for n, key in enumerate(sorted(whole)):
        buffer.append(("{" if n == 0 else ",") + json.dumps(key, ensure_ascii=False) + ":")
        if key != lazy:
            buffer.append(json.dumps(whole[key], ensure_ascii=False, sort_keys=True, separators=(",", ":")))
            continue
        buffer.append("[")
        for i, item in enumerate(items):
            text = json.dumps(item, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            buffer.append("," + text if i else text)
            size += len(text)
            if size >= chunk:
                yield Markup(_script_safe("".join(buffer)))
                buffer, size = [], 0
        buffer.append("]")
    buffer.append("}")
    yield Markup(_script_safe("".join(buffer)))


def _nice_top(n: int) -> int:
    """The smallest 1/2/5 × 10^k at or above ``n`` (at least 1), for a chart axis."""
    if n <= 1:
        return 1
    base: int = 10 ** math.floor(math.log10(n))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= n)


def _vendor_order(present: set[str]) -> list[str]:
    """Vendors alphabetically (vendors are data: any pack may add one), the baseline last."""
    return sorted(present - {BASELINE}) + ([BASELINE] if BASELINE in present else [])


def _chart(findings: list[Finding]) -> dict[str, Any]:
    """Failing findings per vendor as horizontal bars stacked by severity (drawn as inline SVG)."""
    counts = Counter((f.vendor, f.severity.value) for f in findings if f.status == Status.FAIL and not f.suppressed)
    present = {v for v, _ in counts}
    vendors = _vendor_order(present)
    totals = {v: sum(counts[(v, s)] for s in SEVERITIES) for v in vendors}
    top = _nice_top(max(totals.values(), default=0))
    # Drawn at its natural size up to a 400 px wide screen (no scaling down), so labels stay at 11-12 px.
    left, width, row, bar_h, top_pad = 96, 200, 30, 18, 8
    rows = []
    for k, v in enumerate(vendors):
        y = top_pad + k * row
        x, segments = float(left), []
        for s in SEVERITIES:
            n = counts[(v, s)]
            if n:
                w = n / top * width
                segments.append({"x": round(x, 2), "w": round(w, 2), "n": n, "fill": SEVERITY_COLOURS[s],
                                 "severity": s, "title": f"{v}: {n} failing {s}", "label": w >= 16})
                x += w
        rows.append({"vendor": v, "y": y, "bar_y": y + (row - bar_h) / 2, "bar_h": bar_h, "total": totals[v],
                     "end": round(x, 2), "segments": segments})
    base = top_pad + len(vendors) * row
    step = top // 5 if top >= 5 and top % 5 == 0 else (top // 2 if top % 2 == 0 else top)
    ticks = [{"x": round(left + t / top * width, 2), "text": t} for t in range(0, top + 1, step)]
    return {"width": left + width + 40, "height": base + 24, "rows": rows, "ticks": ticks, "left": left,
            "top": top_pad, "base": base, "empty": not vendors,
            "legend": [{"name": s, "fill": SEVERITY_COLOURS[s]} for s in SEVERITIES]}


def headline(f: Finding) -> tuple[str, str]:
    """(title, rest of the message) for a row: a failing or unknown finding is titled as the problem
    (the first sentence of its message), a passing one as the condition that holds (the rule's title)."""
    if f.status == Status.PASS:
        return f.title, f.message
    text = " ".join(f.message.split())
    m = re.search(r"(?<=[a-z0-9)'\"]\.)\s+(?=[A-Z(])", text)  # the end of the first sentence
    first, rest = (text[:m.start()], text[m.end():]) if m else (text, "")
    if len(first) > 160:
        cut = first.rfind(" ", 0, 150)
        cut = cut if cut > 60 else 150
        first, rest = first[:cut] + " …", "… " + text[cut:].strip()
    first = first[:1].upper() + first[1:]
    return first, rest


class _Row:
    """One finding as the template shows it. Its evidence, pretty-printed (the bulk of a large
    report), is made when the template reaches it and not kept for the whole page."""

    __slots__ = ("i", "f", "headline", "rest")

    def __init__(self, i: int, f: Finding):
        self.i, self.f = i, f
        self.headline, self.rest = headline(f)

    @property
    def evidence(self) -> str:
        return _pretty(shown_evidence(plain_data(self.f.evidence))) if self.f.evidence else ""


def _pretty(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)``, faster."""
    return indented(value, sort_keys=True, default=str)


def sort_key(f: Finding) -> tuple:
    """Worst first: fail, unknown, pass; then severity, vendor, bucket, rule, resource."""
    return (STATUS_ORDER[f.status], -f.severity.rank, f.vendor, f.bucket or "", f.rule_id, f.resource)


def _changes(previous_changes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The three lists of a scan diff, each entry with the keys the template reads."""
    if previous_changes is None:
        return None
    fields = ("rule_id", "vendor", "status", "status_now", "severity", "bucket", "resource", "message")
    out: dict[str, Any] = {"old_scan": previous_changes.get("old_scan"), "new_scan": previous_changes.get("new_scan")}
    for key, _ in CHANGE_KINDS:
        out[key] = [{k: item.get(k) for k in fields} for item in previous_changes.get(key) or ()]
    return out


def _view(result: ScanResult, previous_changes: Mapping[str, Any] | None) -> dict[str, Any]:
    findings = sorted(result.findings, key=sort_key)
    counts = result.counts()
    by_vendor: dict[str, Counter] = defaultdict(Counter)
    for f in findings:
        if not f.suppressed:
            by_vendor[f.vendor][f.status.value] += 1
    buckets: dict[tuple[bool, str, str], list[int]] = defaultdict(list)  # account-level findings last
    for i, f in enumerate(findings):
        buckets[(f.bucket is None, f.bucket or "(account level)", f.account_id)].append(i)
    bucket_rows = []
    for (_, name, account), items in sorted(buckets.items()):
        c = Counter(findings[i].status.value for i in items if not findings[i].suppressed)
        bucket_rows.append({"name": name, "account": account, "items": items,
                            "fail": c["fail"], "unknown": c["unknown"], "pass": c["pass"]})
    rows = [_Row(i, f) for i, f in enumerate(findings)]
    # Written piece by piece, each finding's entry made as it is written.
    data = script_json_pieces({"generated": result.finished_at}, "findings", (
        {"i": i, "rule_id": f.rule_id, "vendor": f.vendor, "status": f.status.value, "severity": f.severity.value,
         "bucket": f.bucket, "resource": f.resource, "fingerprint": f.fingerprint, "remediation": f.remediation}
        for i, f in enumerate(findings)))
    present = set(by_vendor) | {f.vendor for f in findings}
    return {
        "result": result,
        "rows": rows,
        "totals": {s: sum(counts[s].values()) for s in STATUSES},
        # The failing findings by answer; those the vendor's own guide requires are not violations.
        "failing": {"readiness": sum(1 for f in findings if f.status == Status.FAIL and not f.suppressed
                                     and f.kind == "readiness"),
                    "exposure": sum(1 for f in findings if f.status == Status.FAIL and f.counted
                                    and f.kind == "exposure"),
                    "required": sum(1 for f in findings if f.status == Status.FAIL and not f.suppressed
                                    and f.required_by)},
        "counts": counts,
        "severities": SEVERITIES,
        "statuses": STATUSES,
        "vendors": _vendor_order(present),
        "by_vendor": by_vendor,
        "buckets": bucket_rows,
        "unknown": [r for r in rows if r.f.status == Status.UNKNOWN],
        "chart": _chart(findings),
        "changes": _changes(previous_changes),
        "change_kinds": CHANGE_KINDS,
        "data": data,
    }


def _pieces(result: ScanResult, previous_changes: Mapping[str, Any] | None) -> Iterator[str]:
    # Bidi and controls shown escaped; the evidence is escaped row by row as it is written.
    result, previous_changes = displayable(result, evidence=False), deep(previous_changes)
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                      lstrip_blocks=True, undefined=StrictUndefined, keep_trailing_newline=True)
    css, js = _asset("report.css"), _asset("report.js")
    csp = (f"default-src 'none'; style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; "
           "base-uri 'none'; form-action 'none'")
    template = env.from_string(_asset("report.html.j2"))
    return template.generate(csp=csp, css=Markup(css), js=Markup(js), **_view(result, previous_changes))


def render_html_text(result: ScanResult, *, previous_changes: Mapping[str, Any] | None = None) -> str:
    """The report page as a string (see ``render_html``)."""
    return "".join(_pieces(result, previous_changes))


def render_html(result: ScanResult, out_dir: Path, *, previous_changes: Mapping[str, Any] | None = None) -> Path:
    """Write report.html into ``out_dir`` as the template produces it (temporary file + rename).
    ``previous_changes`` is a scan diff ({"new", "resolved", "still_failing"}: lists of finding
    dicts) shown as its own section."""
    path = Path(out_dir) / FILENAME
    with atomic_text(path) as fh:
        for piece in _pieces(result, previous_changes):
            fh.write(piece)
    return path
