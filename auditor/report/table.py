"""The terminal view: a rich table of findings and a one-line summary."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
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
    if result.suppressed:
        parts.append(f"suppressed: {result.suppressed}")
    if result.skipped:
        parts.append(f"skipped accounts: {len(result.skipped)}")
    if getattr(result, "failed_calls", ()):
        parts.append(f"failed calls: {len(result.failed_calls)}")
    return " · ".join(parts)


def render_table(result: ScanResult, console: Console, *, show_passes: bool = False) -> None:
    """Fails and unknowns (and passes when asked), worst first, then the summary line."""
    rows = sorted((f for f in result.findings if show_passes or f.status != Status.PASS), key=sort_key)
    table = Table(title="auditor findings", show_lines=True, expand=True, header_style="bold")
    table.add_column("Status", no_wrap=True, width=8)
    table.add_column("Rule · bucket", overflow="fold", ratio=2)
    table.add_column("Finding", overflow="fold", ratio=3)
    for f in rows:
        status = Text(f.status.value.upper(), style="dim" if f.suppressed else STATUS_STYLE[f.status])
        status.append("\n" + f.severity.value, style=SEVERITY_STYLE[f.severity])
        rule = Text(terminal(f.rule_id), style="bold")
        if f.inferred:
            rule.append(" (inferred)", style="dim")
        rule.append("\n" + terminal(f.bucket or "-"), style="dim")
        if f.resource != f"arn:aws:s3:::{f.bucket}":
            rule.append("\n" + terminal(f.resource), style="dim")
        message = Text(terminal(f.message))
        if f.suppressed:
            status.append("\nsuppressed", style="dim")
            message.append(terminal(f"\nSuppressed: {f.suppression.get('reason')}"
                                    + (f" (until {f.suppression['until']})" if f.suppression.get("until") else "")),
                           style="dim")
        table.add_row(status, rule, message)
    if rows:
        console.print(table)
    elif result.findings:
        console.print("[green]Every check passed.[/green]")
    for s in result.skipped:
        console.print(Text(terminal(f"skipped account {s.name}: {s.reason}"), style="yellow"))
    if not show_passes:
        passes = sum(1 for f in result.findings if f.status == Status.PASS)
        if passes:
            console.print(Text(f"{passes} passing checks not shown (use --show-passes).", style="dim"))
    console.print(Text(terminal(summary_line(result)), style="bold"))
