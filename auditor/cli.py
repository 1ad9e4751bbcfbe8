"""Command line: the only module that imports every layer and picks exit codes."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from auditor import __version__
from auditor.errors import AuditorError, ConfigError, SnapshotError
from auditor.model import ScanResult
from auditor.redact import redact
from auditor.textsafe import terminal

FORMATS = ("table", "json", "csv", "html", "sarif")
EXIT_USAGE = 2

EPILOG_SCAN = """\
examples:
  auditor scan                                   # ./auditor.toml, table + findings.json
  auditor scan --config prod.toml --format table,json,html,sarif --output-dir out/
  auditor scan --save-snapshot evidence.json     # keep what was collected
  auditor scan --from-snapshot evidence.json     # re-evaluate offline, no credentials
  auditor scan --fail-on critical                # CI gate: exit 1 only on critical fails

exit status: 0 all checks pass · 1 a fail at or above --fail-on · 2 config or usage error ·
3 something could not be verified (unknown) or an account was skipped
"""

DESCRIPTION = """\
Check S3 buckets that feed ML data platforms (V7 Darwin on AWS and Wasabi, Datature Nexus,
Tenyks, RedBrick AI): will the vendor's integration work, and does the vendor get nothing
more than it needs? Start with `auditor demo`.
"""


class UsageError(AuditorError):
    pass


class _Progress:
    """A rich progress bar fed by the collectors (buckets done / buckets found)."""

    def __init__(self, progress: Progress):
        self._p = progress
        self._task = progress.add_task("Collecting buckets", total=0)

    def add(self, total: int) -> None:
        self._p.update(self._task, total=(self._p.tasks[0].total or 0) + total)

    def advance(self, n: int = 1) -> None:
        self._p.advance(self._task, n)


def _formats(value: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    bad = [v for v in items if v not in FORMATS]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(bad) or '(empty)'}; choose from {','.join(FORMATS)}")
    return items


def _integration_keys(packs) -> dict[str, list[tuple[str, str]]]:
    """Integration key → [(vendor id, help)] over every loaded vendor profile (flags come from these)."""
    keys: dict[str, list[tuple[str, str]]] = {}
    for pack in packs:
        for k in pack.vendor.keys:
            keys.setdefault(k.name, []).append((pack.vendor.id, k.help))
    return keys


def rules_dirs_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules-dir", type=Path, action="append", default=[], metavar="DIR",
                   help="also load the vendor packs (*.toml) in DIR; a pack with a built-in vendor's id replaces it "
                        "(repeatable; see docs/vendor-packs.md)")


def build_parser(packs=None) -> argparse.ArgumentParser:
    """The command line; ``packs`` (default: the built-in ones) give the vendors and their integration flags."""
    if packs is None:
        from auditor.rulepack import load_packs

        packs = load_packs()
    vendors = [p.vendor.id for p in packs if p.vendor.access is not None]
    integration_keys = _integration_keys(packs)
    parser = argparse.ArgumentParser(prog="auditor", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"auditor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def history_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--history", type=Path, metavar="PATH", default=None,
                       help="scan history database (default $AUDITOR_HISTORY, else history.sqlite in the user data dir)")

    def onboard_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("vendor", metavar="VENDOR", help=" | ".join(vendors))
        p.add_argument("bucket", metavar="s3://BUCKET", help="the bucket to connect")
        p.add_argument("--mode", choices=("read-only", "read-write"), default="read-only")
        g = p.add_argument_group("integration (as in auditor.toml [[integrations]]; from each vendor's profile)")
        for key, users in integration_keys.items():
            text = "; ".join(f"{', '.join(v for v, h in users if h == help_)}: {help_}"
                             for help_ in dict.fromkeys(h for _, h in users))
            g.add_argument("--" + key.replace("_", "-"), dest=key, help=text.replace("%", "%%"))
        rules_dirs_option(p)
        a = p.add_argument_group("account")
        a.add_argument("--profile", help="shared-config profile")
        a.add_argument("--endpoint-url", help="one endpoint for every service (Wasabi, an emulator)")
        a.add_argument("--provider", choices=("aws", "wasabi", "s3-compatible"), help="default aws (wasabi for v7-wasabi)")
        a.add_argument("--region", help="region of the bucket's account clients")

    def output_options(p: argparse.ArgumentParser, default_formats: str) -> None:
        p.add_argument("--format", type=_formats, default=_formats(default_formats),
                       help=f"comma list of {','.join(FORMATS)} (default {default_formats}); table goes to the terminal, the others to --output-dir")
        p.add_argument("--output-dir", type=Path, default=Path("auditor-reports"),
                       help="where findings.json, findings.csv, report.html, findings.sarif go (default ./auditor-reports; created if missing)")
        p.add_argument("--fail-on", choices=("critical", "high", "medium", "low", "never"), default="high",
                       help="exit 1 when a fail at or above this severity exists (default high)")
        p.add_argument("--show-passes", action="store_true", help="list passing checks in the terminal table too")
        p.add_argument("--csv-excel", action="store_true", help="write findings.csv as UTF-8 with BOM for Excel")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    scan = sub.add_parser("scan", help="scan every bucket of the configured accounts",
                          description="Collect bucket, IAM and KMS state read-only, evaluate every rule, write reports.",
                          epilog=EPILOG_SCAN, formatter_class=argparse.RawDescriptionHelpFormatter)
    scan.add_argument("--config", type=Path, default=None, help="config file (default ./auditor.toml)")
    output_options(scan, "table,json")
    snap = scan.add_mutually_exclusive_group()
    snap.add_argument("--save-snapshot", type=Path, metavar="FILE", help="also write what was collected to FILE (JSON)")
    snap.add_argument("--from-snapshot", type=Path, metavar="FILE",
                      help="evaluate a saved snapshot instead of calling any API (no credentials needed)")
    history_option(scan)
    scan.add_argument("--no-history", action="store_true", help="do not record this scan in the history")
    scan.add_argument("--dask-scheduler", metavar="ADDRESS",
                      help="shard the accounts across the workers of a Dask cluster (e.g. tcp://10.0.0.5:8786); "
                           "needs pip install 'auditor[distributed]'")
    scan.add_argument("--shards", type=int, default=None, help="with --dask-scheduler: number of shards (default: one per worker)")
    rules_dirs_option(scan)
    scan.set_defaults(func=cmd_scan)

    demo = sub.add_parser("demo", help="scan sample buckets in an embedded emulator (no credentials, no network)",
                          description="Start an embedded S3/IAM/KMS emulator on 127.0.0.1, create sample buckets for "
                                      "every vendor (some set up right, some wrong), scan them and write every report.",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    output_options(demo, ",".join(FORMATS))
    demo.set_defaults(func=cmd_demo)

    from auditor.onboard import EXAMPLES

    check = sub.add_parser("check", help="is one bucket ready for one vendor? (no config file needed)",
                           description="Run the scan's collectors, rules and reporters on one bucket for one vendor "
                                       "(plus the baseline rules) and end with READY or NOT READY. Read-only.",
                           epilog=EXAMPLES.format(cmd="check"), formatter_class=argparse.RawDescriptionHelpFormatter)
    onboard_options(check)
    output_options(check, "table")
    check.set_defaults(func=cmd_check)

    plan = sub.add_parser("plan", help="the exact, least-privilege changes that make one bucket ready for one vendor",
                          description="Scan one bucket for one vendor (like `check`), then print the changes that make it "
                                      "READY: bucket policy with the vendor statement added or tightened (every other "
                                      "statement kept verbatim), CORS rules merged, KMS key-policy statement, IAM policies, "
                                      "Datature's trust policy with sts:ExternalId, access keys — as JSON documents "
                                      "(plan.json), aws CLI commands (plan.sh) and Terraform (plan.tf), with a diff "
                                      "against the current state. Read-only: nothing is applied.",
                          epilog=EXAMPLES.format(cmd="plan"), formatter_class=argparse.RawDescriptionHelpFormatter)
    onboard_options(plan)
    plan.add_argument("--output-dir", type=Path, default=Path("auditor-plan"),
                      help="where plan.json, plan.sh and plan.tf go (default ./auditor-plan)")
    plan.add_argument("--format", choices=("text", "json"), default="text", help="what to print (files are always written)")
    plan.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    plan.set_defaults(func=cmd_plan)

    items = sub.add_parser(
        "items-list", help="write RedBrick's items-list JSON for every object under a root folder",
        description="Stream RedBrick AI's items list (004_6c1e438ca6750c28.txt, 'Items Path': paths as "
                    "root-folder/sub-folder/datapoint.dcm) for every object under the root folder, page by page, "
                    "in constant memory. Take the bucket and root folder from a redbrick integration in the config, "
                    "or give them with --bucket/--prefix.",
        epilog="examples:\n  auditor items-list --config auditor.toml                 # the redbrick integration\n"
               "  auditor items-list --bucket dicom-studies --prefix studies/ --output items.json\n"
               "  auditor items-list --bucket dicom-studies --group-by folder --ext .dcm  # one datapoint per series",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    items.add_argument("--config", type=Path, help="take bucket, prefix and account from a redbrick integration")
    items.add_argument("--bucket", help="bucket (with --config: which redbrick integration, if several)")
    items.add_argument("--prefix", help="root folder (default: the integration's prefix, else the whole bucket)")
    items.add_argument("--profile", help="shared-config profile (without --config)")
    items.add_argument("--endpoint-url", help="one endpoint for every service (without --config)")
    items.add_argument("--output", type=Path, default=Path("items.json"), help="default ./items.json")
    items.add_argument("--group-by", choices=("file", "folder"), default="file",
                       help="one datapoint per object (default) or per folder (e.g. a DICOM series)")
    items.add_argument("--ext", default="", help="only these comma-separated extensions, e.g. .dcm,.nii.gz")
    items.add_argument("--quiet", "-q", action="store_true", help="no progress")
    items.set_defaults(func=cmd_items_list)

    rules = sub.add_parser("rules", help="list every rule with severity and reference")
    rules.add_argument("--format", choices=("table", "json"), default="table")
    rules_dirs_option(rules)
    rules.set_defaults(func=cmd_rules)

    perms = sub.add_parser(
        "permissions", help="print the minimal read-only IAM policy the scanner needs",
        description="Print the IAM policy document for the scanner's audit role: every read-only action the "
                    "collectors make (Get/List/Describe), generated from the code, nothing else. The scanner "
                    "never writes to an account.",
        epilog="content reads: s3:GetObject fetches bounded byte ranges of sampled objects (EXIF orientation,\n"
               "  MP4 headers, Tenyks's COCO files); for objects under SSE-KMS, S3 also needs kms:Decrypt on the\n"
               "  object's key — granted in the second statement, only through S3 (kms:ViaService).\n\n"
               "the identity that runs auditor also needs, outside this document:\n"
               "  sts:AssumeRole on each [[accounts]] role_arn, and with [organization] on\n"
               "  arn:aws:iam::*:role/ROLE_NAME (the member accounts' audit role);\n"
               "  each of those roles' trust policy must allow that identity (with sts:ExternalId\n"
               "  when external_id is set).\n\n"
               "examples:\n  auditor permissions > auditor-readonly.json\n"
               "  aws iam create-policy --policy-name AuditorReadOnly --policy-document file://auditor-readonly.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    perms.set_defaults(func=cmd_permissions)

    hist = sub.add_parser("history", help="list recorded scans",
                          description="Every `auditor scan` is recorded (unless --no-history); this lists them.")
    history_option(hist)
    hist.add_argument("--format", choices=("table", "json"), default="table")
    hist.set_defaults(func=cmd_history)

    diff = sub.add_parser("diff", help="what changed between two scans (default: the last two)",
                          description="New, resolved and still-failing findings between two recorded scans, "
                                      "matched by fingerprint (rule id + resource + principal + vendor).",
                          epilog="examples:\n  auditor diff            # the last two scans\n  auditor diff 3 7\n"
                                 "  auditor diff --format json > changes.json",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    diff.add_argument("old", nargs="?", type=int, help="scan id (default: the one before NEW)")
    diff.add_argument("new", nargs="?", type=int, help="scan id (default: the latest)")
    history_option(diff)
    diff.add_argument("--format", choices=("table", "json"), default="table")
    diff.set_defaults(func=cmd_diff)
    return parser


# ----------------------------------------------------------------------------- commands


def _console() -> Console:
    return Console(highlight=False)


def _err_console() -> Console:
    return Console(stderr=True, highlight=False)


def _progress_enabled(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def cmd_scan(args: argparse.Namespace) -> int:
    from auditor.config import load_config
    from auditor.scan import evaluate_snapshot
    from auditor.snapshot import load_snapshot, save_snapshot

    config_path = args.config or Path("auditor.toml")
    if args.from_snapshot:
        from auditor.rulepack import load_packs

        config = load_config(config_path, args.rules_dir) if (args.config or config_path.exists()) else None
        packs = config.rule_packs() if config else load_packs(dirs=args.rules_dir)
        snapshot = load_snapshot(args.from_snapshot)
        with _evaluating(args):
            result = evaluate_snapshot(snapshot, packs, integrations=config.integrations if config else None)
    else:
        config = load_config(config_path, args.rules_dir)  # exits 2 on a bad config or pack, before any API call
        if not config.accounts:
            raise ConfigError(str(config_path), "accounts", "no [[accounts]] to scan",
                              'add [[accounts]] with name = "..." (and profile or role_arn)')
        snapshot = _collect(config, args)
        if args.save_snapshot:
            save_snapshot(snapshot, args.save_snapshot)
        with _evaluating(args):
            result = evaluate_snapshot(snapshot, config.rule_packs())
    if config is not None and config.suppressions:
        import dataclasses

        from auditor.suppress import apply_suppressions

        findings = apply_suppressions(result.findings, config.suppressions, result.finished_at[:10], config.path)
        result = dataclasses.replace(result, findings=findings)
    if args.no_history:
        return _report(result, args)
    return _report_then_record(result, args)


def _report_then_record(result: ScanResult, args: argparse.Namespace) -> int:
    """Reports first; then the history. A history that cannot be read or written costs one line and
    exit 2, never the reports."""
    import sqlite3

    from auditor.history import HistoryError, open_history

    history, changes, problem = None, None, None
    try:
        history = open_history(args.history)
        changes = history.changes_to(result)
    except (HistoryError, OSError, sqlite3.Error) as e:
        problem = e
    try:
        status = _report(result, args, changes)
        if history is not None and problem is None:
            try:
                history.record(result)
            except (OSError, sqlite3.Error) as e:
                problem = e
    finally:
        if history is not None:
            with contextlib.suppress(Exception):
                history.close()
    if problem is not None:
        where = getattr(args, "history", None) or _history_path()
        text = str(problem) if isinstance(problem, HistoryError) else f"{where}: cannot record the scan ({problem})"
        _err_console().print(terminal(f"auditor: error: {text} — the reports were written; free space or make the "
                                      "history writable, or pass --history PATH or --no-history"),
                             markup=False, highlight=False, soft_wrap=True)
        return EXIT_USAGE
    return status


def _history_path() -> Path:
    from auditor.history import default_path

    return default_path()


def _evaluating(args: argparse.Namespace):
    """A spinner while the rules run (thousands of buckets take seconds), where a progress bar would show."""
    import contextlib

    if not _progress_enabled(args):
        return contextlib.nullcontext()
    return _err_console().status("Evaluating rules…")


def _collect(config, args):
    from auditor.collect import collect

    if getattr(args, "dask_scheduler", None):
        from auditor.distributed import collect_distributed

        return collect_distributed(config, args.dask_scheduler, args.shards)
    if not _progress_enabled(args):
        return collect(config)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=_err_console(), transient=True) as progress:
        return collect(config, progress=_Progress(progress))


def _renderers() -> dict[str, Callable[..., Path]]:
    from auditor.report.json import render_json

    out: dict[str, Callable[..., Path]] = {"json": render_json}
    try:
        from auditor.report.csv import render_csv
        from auditor.report.html import render_html
        from auditor.report.sarif import render_sarif
    except ImportError:  # reporters ship together; a partial install is reported per format below
        return out
    out.update(csv=render_csv, html=render_html, sarif=render_sarif)
    return out


def _report(result: ScanResult, args: argparse.Namespace, changes: dict | None = None) -> int:
    from auditor.report.table import render_table
    from auditor.scan import exit_status

    console = _console()
    renderers = _renderers()
    missing = [f for f in args.format if f != "table" and f not in renderers]
    if missing:
        raise UsageError(f"--format: {', '.join(missing)} report is not available in this installation")
    if "table" in args.format:
        render_table(result, console, show_passes=args.show_passes)
    written = []
    for fmt in args.format:
        if fmt == "table":
            continue
        if fmt == "csv":
            written.append(renderers[fmt](result, args.output_dir, excel=args.csv_excel))
        elif fmt == "html":
            written.append(renderers[fmt](result, args.output_dir, previous_changes=changes))
        else:
            written.append(renderers[fmt](result, args.output_dir))
    for path in written:
        console.print(terminal(f"wrote {path}"), style="dim", markup=False)
    return exit_status(result.findings, args.fail_on, len(result.skipped) + len(result.failed_calls))


def cmd_demo(args: argparse.Namespace) -> int:
    from auditor.demo import run_demo

    console = _console()
    console.print("Starting the embedded emulator and creating sample buckets for every vendor…", style="dim")
    result = run_demo(progress=None)
    status = _report(result, args)
    console.print(
        f"\nDemo done. A real scan of these buckets would exit {status} "
        f"(--fail-on {args.fail_on}). Next: write an auditor.toml (see README) and run `auditor scan`.",
        style="bold")
    return 0 if status in (0, 1, 3) else status


def _onboard_config(args: argparse.Namespace):
    from auditor.onboard import config_from_flags
    from auditor.rulepack import load_packs

    keys = _integration_keys(load_packs(dirs=args.rules_dir))
    return config_from_flags(args.vendor, args.bucket, args.mode, {k: getattr(args, k, None) for k in keys},
                             profile=args.profile, endpoint_url=args.endpoint_url, provider=args.provider,
                             region=args.region, rule_dirs=args.rules_dir)


def cmd_check(args: argparse.Namespace) -> int:
    from auditor.onboard import limit_to, verdict
    from auditor.scan import evaluate_snapshot

    config = _onboard_config(args)
    integ = config.integrations[0]
    snapshot = _collect(config, args)
    result = limit_to(evaluate_snapshot(snapshot, config.rule_packs()), integ)
    status = _report(result, args)
    unknown = sum(1 for f in result.findings if f.status.value == "unknown")
    console = _console()
    if unknown:
        console.print(f"{unknown} check(s) could not be verified (see the unknown findings above).", style="yellow")
    line = verdict(result, args.fail_on)
    console.print(terminal(line), style="bold green" if line == "READY" else "bold red", soft_wrap=True, markup=False)  # one line, for grep
    return status


def cmd_plan(args: argparse.Namespace) -> int:
    from auditor.onboard import limit_to
    from auditor.plan import make_plan, render_text
    from auditor.report.files import write_atomic
    from auditor.scan import evaluate_snapshot

    config = _onboard_config(args)
    integ = config.integrations[0]
    snapshot = _collect(config, args)
    result = limit_to(evaluate_snapshot(snapshot, config.rule_packs()), integ)
    rules = [r for p in config.rule_packs() if p.vendor.id == integ.vendor for r in p.rules]
    plan = make_plan(snapshot, integ, result.findings, endpoint_url=args.endpoint_url, rules=rules)
    out = args.output_dir
    write_atomic(out / "plan.json", json.dumps(plan.to_json(), indent=2) + "\n")
    write_atomic(out / "plan.sh", plan.script())
    write_atomic(out / "plan.tf", plan.terraform())
    if args.format == "json":
        print(json.dumps(plan.to_json(), indent=2))
    else:
        console = _console()
        console.print(terminal(render_text(plan)), markup=False, highlight=False, soft_wrap=True)
        console.print(terminal(f"\nwrote {out / 'plan.json'}, {out / 'plan.sh'}, {out / 'plan.tf'}"), style="dim",
                      markup=False)
    return 0


def cmd_items_list(args: argparse.Namespace) -> int:
    from auditor.collect import items_list
    from auditor.config import AccountConfig, load_config
    from auditor.onboard import parse_bucket
    from auditor.report.files import atomic_text

    settings = None
    if args.config:
        config = load_config(args.config)
        candidates = [i for i in config.integrations if i.profile and "items-list" in i.profile.features
                      and (not args.bucket or i.bucket == parse_bucket(args.bucket))]
        offering = [p.vendor.id for p in config.rule_packs() if "items-list" in p.vendor.features]
        if len(candidates) != 1:
            raise ConfigError(str(args.config), "integrations",
                              f"{len(candidates)} {' or '.join(offering)} integrations match",
                              "name one with --bucket" if candidates
                              else f"add a {' or '.join(offering)} [[integrations]] or use --bucket")
        integ = candidates[0]
        account, bucket = config.account(integ.account), integ.bucket
        first_zone = integ.profile.needs[integ.mode].objects[0][0] if integ.profile.needs[integ.mode].objects else None
        prefix = args.prefix if args.prefix is not None else (integ.zone(first_zone).prefix if first_zone else "")
        settings = config.scan
    elif args.bucket:
        from auditor.validate import endpoint_problem

        if args.endpoint_url and endpoint_problem(args.endpoint_url):
            raise UsageError(f"--endpoint-url: {endpoint_problem(args.endpoint_url)} — write e.g. https://s3.wasabisys.com")
        bucket = parse_bucket(args.bucket)
        account = AccountConfig(name="target", profile=args.profile, endpoint_url=args.endpoint_url)
        prefix = args.prefix or ""
    else:
        raise UsageError("items-list: give --config (with a redbrick integration) or --bucket")
    extensions = tuple(e.strip().lower() for e in args.ext.split(",") if e.strip())
    console = _err_console()
    with atomic_text(args.output) as out:
        if _progress_enabled(args):
            columns = (SpinnerColumn(), TextColumn("{task.description}"), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console, transient=True) as progress:
                task = progress.add_task(terminal(f"Listing s3://{bucket}/{prefix}", one_line=True).replace("[", "\\["),
                                         total=None)
                n = items_list(account, bucket, prefix, out, settings=settings, group_by=args.group_by,
                               extensions=extensions, on_page=lambda k: progress.advance(task, k))
        else:
            n = items_list(account, bucket, prefix, out, settings=settings, group_by=args.group_by, extensions=extensions)
    from auditor.report.files import is_special

    # Written to standard output (-, /dev/stdout): the note goes to stderr, so stdout is the JSON alone.
    note = _err_console() if is_special(args.output) else _console()
    note.print(terminal(f"wrote {n} datapoint(s) from s3://{bucket}/{prefix} to {args.output}"), markup=False)
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from rich.table import Table

    from auditor.rulepack import load_packs

    packs = load_packs(dirs=args.rules_dir)
    rows = [(p.vendor, r) for p in packs for r in p.rules]
    if args.format == "json":
        print(json.dumps([{"id": r.id, "vendor": r.vendor, "severity": r.severity.value, "title": r.title,
                           "check": r.check, "modes": list(r.modes), "reference": r.reference,
                           "guide": {"title": v.guide.title, "url": v.guide.url, "section": r.section} if v.guide.url else None,
                           "source": r.source, "replaces": v.replaces or None}
                          for v, r in rows], indent=2))
        return 0
    for p in packs:
        if p.replaces:
            _console().print(f"{p.source} replaces the built-in {p.vendor.id} pack ({p.replaces})", markup=False,
                           soft_wrap=True)
    table = Table(title="auditor rules", show_lines=True)
    for col in ("Rule", "Severity", "Title", "Reference"):
        table.add_column(col, overflow="fold")
    for _, r in rows:  # rule packs are data: shown like any other text
        table.add_row(*(Text(terminal(v)) for v in (r.id, r.severity.value, r.title, r.reference)))
    _console().print(table)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from rich.table import Table

    from auditor.history import open_history

    history = open_history(args.history)
    try:
        scans = history.scans()
    finally:
        history.close()
    if args.format == "json":
        print(json.dumps([{"id": s.id, "started_at": s.started_at, "finished_at": s.finished_at,
                           "accounts": list(s.accounts), "buckets": s.buckets, "counts": s.counts,
                           "skipped_accounts": s.skipped} for s in scans], indent=2))
        return 0
    if not scans:
        _console().print("No scans recorded yet: run `auditor scan`.")
        return 0
    table = Table(title=f"auditor history ({history.path})")
    for col in ("Scan", "Started", "Accounts", "Buckets", "Fail", "Unknown", "Pass", "Skipped"):
        table.add_column(col)
    for s in scans:
        table.add_row(*(Text(terminal(v)) for v in (s.id, s.started_at, len(s.accounts), s.buckets, s.counts["fail"],
                                                     s.counts["unknown"], s.counts["pass"], s.skipped)))
    _console().print(table)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from rich.table import Table

    from auditor.history import open_history

    history = open_history(args.history)
    try:
        changes = history.diff(args.old, args.new)
    finally:
        history.close()
    if args.format == "json":
        print(json.dumps(changes, indent=2))
        return 0
    console = _console()
    console.print(f"Changes from scan {changes['old_scan']} to scan {changes['new_scan']}", style="bold", markup=False)
    for label, key, style in (("New", "new", "red"), ("Resolved", "resolved", "green"),
                              ("Still failing", "still_failing", "yellow"),
                              ("Could not be verified (failing before, unknown now)", "unverified", "yellow")):
        items = changes.get(key, [])
        table = Table(title=f"{label}: {len(items)}", title_style=style, expand=True)
        table.add_column("Status", width=9)
        table.add_column("Rule · bucket", ratio=2, overflow="fold")
        table.add_column("Finding", ratio=3, overflow="fold")
        for f in items:
            status = f.get("status_now", f["status"]) if key in ("resolved", "unverified") else f["status"]
            message = f["message"] if key != "unverified" else f"was: {f['message']}\nnow: {f.get('message_now', '')}"
            table.add_row(Text(terminal(f"{status}\n{f['severity']}")),
                          Text(terminal(f"{f['rule_id']}\n{f.get('bucket') or '-'}")), Text(terminal(message)))
        if items:
            console.print(table)
        else:
            console.print(f"{label}: none", style=style)
    return 0


def cmd_permissions(args: argparse.Namespace) -> int:
    from auditor.permissions import scanner_policy

    print(json.dumps(scanner_policy(), indent=2))
    return 0


# ----------------------------------------------------------------------------- entry point


def _creatable(path: Path, flag: str) -> None:
    """``path`` can be created: its nearest existing ancestor is a directory we may write into."""
    probe = Path(path).absolute().parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{flag} {path}: {probe} is a file, so {path} cannot be created — give another path")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: {probe} is not writable — choose a directory you can write to")


def _writable_dir(path: Path, flag: str) -> None:
    """Fail before any work if ``path`` cannot become a directory we write into (nothing is created here)."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise UsageError(f"{flag} {path}: exists and is not a directory — give a directory (created if missing)")
        if not os.access(p, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {path}: is not writable — choose a directory you can write to")
        return
    _creatable(p, flag)


def _writable_file(path: Path, flag: str) -> None:
    from auditor.report.files import is_special

    p = Path(path)
    if is_special(p):  # "-", /dev/stdout, a FIFO, a device: written in place, never replaced
        if str(p) != "-" and not os.access(p, os.W_OK):
            raise UsageError(f"{flag} {path}: is not writable — choose another file")
        return
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a directory — give a file name")
    if p.exists():
        if not os.access(p, os.W_OK) or not os.access(p.absolute().parent, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {path}: cannot be replaced (no write permission) — choose another file")
        return
    _creatable(p, flag)


def _check_outputs(args: argparse.Namespace) -> None:
    """Every file the command will write can be written: checked before any API call."""
    out = getattr(args, "output_dir", None)
    if out is not None and (args.command == "plan" or any(f != "table" for f in args.format)):
        _writable_dir(out, "--output-dir")
    if getattr(args, "save_snapshot", None):
        _writable_file(args.save_snapshot, "--save-snapshot")
    if args.command == "items-list":
        _writable_file(args.output, "--output")
    if args.command == "scan" and not args.no_history:
        if getattr(args, "history", None):
            _writable_file(args.history, "--history")
        elif os.environ.get("AUDITOR_HISTORY"):
            _writable_file(Path(os.environ["AUDITOR_HISTORY"]), "$AUDITOR_HISTORY")


def _packs_for(argv: Sequence[str] | None):
    """The vendor packs the command line asks for (built-in plus every --rules-dir), before full parsing:
    they decide which vendors and integration flags exist."""
    from auditor.rulepack import load_packs

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--rules-dir", type=Path, action="append", default=[])
    known, _ = pre.parse_known_args(argv)
    return load_packs(dirs=known.rules_dir)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        packs = _packs_for(argv)
    except AuditorError as e:  # a broken pack: one line, exit 2, before any API call
        _err_console().print(f"auditor: error: {e}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_USAGE
    parser = build_parser(packs)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    previous = _on_sigterm()
    try:
        _check_outputs(args)
        return args.func(args)
    except (ConfigError, UsageError, SnapshotError) as e:
        _error(f"auditor: error: {e}")
        return EXIT_USAGE
    except AuditorError as e:
        _error(f"auditor: error: {e}")
        return EXIT_USAGE
    except OSError as e:  # writing a report or snapshot failed (disk full, permissions changed)
        where = e.filename2 or e.filename or "output"
        _error(f"auditor: error: {where}: cannot write ({e.strerror or e}) — check the path and free space; "
               "files already written are complete, none is left half-written")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except _Terminated:
        return 143
    except RecursionError:
        _error("auditor: error: an input is nested too deeply to be read (over the recursion limit) — "
               "check the snapshot, config or answer it came from")
        return EXIT_USAGE
    except Exception as e:  # noqa: BLE001 — never a traceback (it could quote a credential), never exit 1
        _error(f"auditor: internal error: {type(e).__name__}: {e} — nothing was left half-written; "
               "please report this (with the command line)")
        return EXIT_USAGE
    finally:
        if previous is not None:
            with contextlib.suppress(Exception):
                signal.signal(signal.SIGTERM, previous)


class _Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so temporary files are removed and nothing is left half-written."""


def _on_sigterm():
    def stop(signum, frame):  # noqa: ARG001
        raise _Terminated()

    try:
        return signal.signal(signal.SIGTERM, stop)
    except (ValueError, OSError):  # not the main thread (embedded use)
        return None


def _error(text: str) -> None:
    """One line on stderr: credentials redacted, control characters shown as escapes."""
    line = terminal(redact(text), one_line=True)[:4000]
    try:
        _err_console().print(line, markup=False, highlight=False, soft_wrap=True)
    except Exception:  # noqa: BLE001 — stderr itself is broken
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main", "build_parser", "os"]
