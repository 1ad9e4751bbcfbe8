"""The terminal view: the summary first, then one block per rule with the buckets it fails on.

Laid out for the terminal's width (80 columns and up): ids, bucket names and ARNs are never broken
mid-token (an ARN is shortened to the part that differs; a token wider than the line ends in "…"),
and each message is capped at two lines, with the report that holds the rest named at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from auditor.model import Finding, ScanResult, Severity, Status
from auditor.textsafe import terminal

STATUS_STYLE = {Status.FAIL: "bold red", Status.UNKNOWN: "bold yellow", Status.PASS: "green"}
SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
_STATUS_ORDER = {Status.FAIL: 0, Status.UNKNOWN: 1, Status.PASS: 2}
INDENT = "    "
MAX_MESSAGE_LINES = 2
MAX_RESOURCE_LINES = 2


def sort_key(f: Finding) -> tuple:
    return (_STATUS_ORDER[f.status], -f.severity.rank, f.vendor, f.bucket or "", f.rule_id, f.resource)


def summary_line(result: ScanResult) -> str:
    """``12 buckets in 1 account · fail: 2 critical, 1 high · unknown: 1 medium · pass: 30``."""
    counts = result.counts()
    parts = [f"{result.buckets} bucket{'s' if result.buckets != 1 else ''} in "
             f"{len(result.accounts)} account{'s' if len(result.accounts) != 1 else ''}"]
    for status in (Status.FAIL, Status.UNKNOWN):
        by_sev = [f"{n} {sev}" for sev, n in counts[status.value].items() if n]
        parts.append(f"{status.value}: {', '.join(by_sev) if by_sev else '0'}")
    parts.append(f"pass: {sum(counts['pass'].values())}")
    required = sum(1 for f in result.findings if f.status == Status.FAIL and f.required_by and not f.suppressed)
    if required:  # reported, but what the vendor's own guide asks for is not a violation
        parts.append(f"required by a vendor's guide: {required}")
    if result.suppressed:
        parts.append(f"suppressed: {result.suppressed}")
    if result.skipped:
        parts.append(f"skipped accounts: {len(result.skipped)}")
    if getattr(result, "failed_calls", ()):
        parts.append(f"failed calls: {len(result.failed_calls)}")
    return " · ".join(parts)


# ----------------------------------------------------------------------------- layout helpers


def wrap(words: Sequence[str], width: int, *, sep: str = " ", max_lines: int | None = None,
         more: str = "…") -> tuple[list[str], bool]:
    """Words packed into lines of at most ``width`` cells, never split; a word wider than a line is cut with "…".

    Returns (lines, truncated). With ``max_lines``, the last line ends with ``more`` when words are left.
    """
    width = max(width, 8)
    lines: list[str] = []
    line = ""
    for word in words:
        if cell_len(word) > width:
            word = _cut(word, width)
        candidate = f"{line}{sep}{word}" if line else word
        if cell_len(candidate) <= width:
            line = candidate
            continue
        lines.append(line + (sep.rstrip() if sep.strip() else ""))  # " · " separators end the line
        line = word
    if line:
        lines.append(line)
    if max_lines is None or len(lines) <= max_lines:
        return lines, False
    kept = lines[:max_lines]
    last = kept[-1]
    while last and cell_len(last + more) > width:
        cut = last.rstrip().rsplit(" ", 1)
        last = cut[0] if len(cut) > 1 else _cut(last, width - cell_len(more))
    kept[-1] = last.rstrip(" ,") + more
    return kept, True


def list_lines(items: Sequence[str], width: int, max_lines: int) -> list[str]:
    """``a, b, c`` packed into at most ``max_lines`` lines; what does not fit becomes ``… +N more``."""
    def words(k: int) -> list[str]:
        shown = [i + "," for i in items[:k - 1]] + list(items[k - 1:k])
        return shown + ([f"… +{len(items) - k} more"] if k < len(items) else [])

    lines, _ = wrap(words(len(items)), width)
    if len(lines) <= max_lines:
        return lines
    k = sum(line.count(",") for line in lines[:max_lines])  # items on the first lines: an upper bound
    while k > 1:
        lines, _ = wrap(words(k), width)
        if len(lines) <= max_lines:
            return lines
        k -= 1
    return wrap(words(1), width, max_lines=max_lines)[0]


def _cut(token: str, width: int) -> str:
    out = ""
    for ch in token:
        if cell_len(out + ch + "…") > width:
            break
        out += ch
    return out + "…"


def short_resource(f: Finding, many_accounts: bool = False) -> str:
    """The part of the resource that differs between findings: the bucket, ``bucket/key``, or ``role/NAME``."""
    r = f.resource
    if r.startswith("arn:aws:s3:::") or r.startswith("arn:aws-us-gov:s3:::") or r.startswith("arn:aws-cn:s3:::"):
        return r.split(":::", 1)[1]
    parts = r.split(":", 5)
    if r.startswith("arn:") and len(parts) == 6:
        tail = parts[5]
        if many_accounts and parts[4]:
            tail = f"{parts[4]}:{tail}"
        if f.bucket and parts[2] != "s3":
            return f"{tail} ({f.bucket})"
        return tail
    return r or (f.bucket or "-")


_ARN = re.compile(r"\barn:aws[\w-]*:([\w-]+):([\w-]*):(\d{12})?:")


def shorten_arns(text: str, accounts: Sequence[str]) -> str:
    """ARNs in ``text`` without the prefix every one of them shares in a one-account scan
    (``arn:aws:iam::123456789012:role/x`` → ``role/x``); another account's ARNs stay whole."""
    if len(accounts) != 1:
        return text
    return _ARN.sub(lambda m: "" if m.group(3) == accounts[0] else m.group(0), text)


KIND_HEADINGS = (("readiness", "Readiness: will the integrations work (the vendors' requirements)"),
                 ("exposure", "Exposure: is access wider than needed (advisories)"))


def _groups(findings: Iterable[Finding]) -> list[list[Finding]]:
    groups: dict[tuple, list[Finding]] = {}
    for f in sorted(findings, key=sort_key):
        groups.setdefault((f.status, f.rule_id, f.severity, f.suppressed, f.required_by is not None), []).append(f)
    return sorted(groups.values(), key=lambda g: (_STATUS_ORDER[g[0].status], g[0].suppressed,
                                                   -g[0].severity.rank, g[0].rule_id))


def _noun(resources: Sequence[str], group: Sequence[Finding]) -> str:
    n = len(resources)
    if all(f.resource == f"arn:aws:s3:::{f.bucket}" for f in group if f.bucket):
        if all(f.bucket for f in group):
            return f"{n} bucket{'s' if n != 1 else ''}"
    return f"{n} resource{'s' if n != 1 else ''}"


# ----------------------------------------------------------------------------- rendering


def render_table(result: ScanResult, console: Console, *, show_passes: bool = False,
                 report_path: str | None = None) -> None:
    """Summary, then fails and unknowns (and passes when asked) grouped by rule, worst first."""
    width = max(40, console.width)
    many_accounts = len(result.accounts) > 1
    for line in wrap(terminal(summary_line(result), one_line=True).split(" · "), width - 1, sep=" · ")[0]:
        console.print(Text(line, style="bold"), no_wrap=True, crop=True)
    from auditor.credentials import explain

    for s in result.skipped:
        known = explain(s.reason)
        fix = f" — {known[1]}" if known else ""
        for line in wrap(terminal(f"skipped account {s.name}: {s.reason}{fix}", one_line=True).split(" "), width - 1,
                         max_lines=MAX_MESSAGE_LINES)[0]:
            console.print(Text(line, style="yellow"), no_wrap=True, crop=True)
    shown = [f for f in result.findings if show_passes or f.status != Status.PASS]
    truncated_any = False
    if not shown and result.findings:
        console.print(Text("Every check passed.", style="green"))
    # Two answers, apart: will the integration work (the vendors' requirements), and is anything wider than
    # it needs to be (baseline hygiene and least privilege: advisories with their severity).
    for kind, heading in KIND_HEADINGS:
        part = [f for f in shown if f.kind == kind]
        if not part:
            continue
        console.print()
        for line in wrap(heading.split(" "), width - 1, max_lines=2)[0]:
            console.print(Text(line, style="bold underline"), no_wrap=True, crop=True)
        for group in _groups(part):
            truncated_any |= _render_group(console, group, width, many_accounts, tuple(result.accounts))
    passes = sum(1 for f in result.findings if f.status == Status.PASS)
    tail = []
    if not show_passes and passes:
        tail.append(f"{passes} passing checks not shown (use --show-passes).")
    if truncated_any or report_path:
        where = report_path or "the JSON or HTML report (--format json,html)"
        tail.append(f"Full messages, evidence and remediation: {where}")
    if shown:
        console.print()
    for line in tail:
        for piece in wrap(line.split(" "), width - 1)[0]:
            console.print(Text(piece, style="dim"), no_wrap=True, crop=True)


def _render_group(console: Console, group: list[Finding], width: int, many_accounts: bool,
                  accounts: Sequence[str] = ()) -> bool:
    first = group[0]
    resources = list(dict.fromkeys(terminal(short_resource(f, many_accounts), one_line=True) for f in group))
    console.print()
    head = Text()
    label = first.status.value.upper()
    head.append(f"{label:<7}", style="dim" if first.suppressed else STATUS_STYLE[first.status])
    head.append(" ")
    head.append(f"{first.severity.value:<8}", style=SEVERITY_STYLE[first.severity])
    head.append(" ")
    rule_id = terminal(first.rule_id, one_line=True)
    rest = [rule_id] + (["(inferred)"] if any(f.inferred for f in group) else []) \
        + (["(suppressed)"] if first.suppressed else []) \
        + (["(guide requires)"] if first.required_by else []) + ["·", _noun(resources, group)]
    used = cell_len(head.plain)
    pieces, _ = wrap(rest, width - used - 1, max_lines=1)
    rule_text = pieces[0]
    if rule_text.startswith(rule_id):
        head.append(rule_id, style="bold")
        head.append(rule_text[len(rule_id):], style="dim")
    else:  # an id wider than the line: cut, never broken onto the next line
        head.append(rule_text, style="bold")
    console.print(head, no_wrap=True, crop=True)
    inner = width - len(INDENT) - 1
    for line in list_lines(resources, inner, MAX_RESOURCE_LINES):
        console.print(Text(INDENT + line, style="cyan"), no_wrap=True, crop=True)
    messages = list(dict.fromkeys(f.message for f in group))
    message = messages[0] if len(messages) == 1 else f"{short_resource(first, many_accounts)}: {messages[0]}"
    if first.suppressed and first.suppression:
        message += f" Suppressed: {first.suppression.get('reason')}" + (
            f" (until {first.suppression['until']})" if first.suppression.get("until") else "")
    message = " ".join(terminal(shorten_arns(message, accounts)).split())  # controls escaped first, then lines joined
    lines, cut = wrap(message.split(" "), inner, max_lines=MAX_MESSAGE_LINES)
    for line in lines:
        console.print(Text(INDENT + line), no_wrap=True, crop=True)
    return cut or len(messages) > 1

