"""Command line: the only module that imports every layer and picks exit codes."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from auditor import __version__
from auditor.errors import AuditorError, ConfigError
from auditor.model import ScanResult
from auditor.redact import redact
from auditor.textsafe import terminal

FORMATS = ("table", "json", "csv", "html", "sarif")
EXIT_USAGE = 2

EPILOG_SCAN = """\
examples:
  auditor scan                                   # ./auditor.toml if present, else every bucket of the
                                                 # default credentials' account (baseline + inferred vendors)
  auditor scan --profile prod --bucket 'ml-*'    # no config: one profile, some buckets
  auditor scan --format json -o - | jq .         # JSON on stdout, everything else on stderr
  auditor scan --config prod.toml --format table,json,html,sarif --output-dir out/
  auditor scan --save-snapshot evidence.json     # keep what was collected
  auditor scan --from-snapshot evidence.json     # re-evaluate offline, no credentials
  auditor scan --fail-on critical                # CI gate: exit 1 only on critical fails

exit status: 0 all checks pass · 1 a fail at or above --fail-on · 2 config or usage error, or nothing
could be scanned (credentials, profile, endpoint) · 3 something could not be verified (unknown) or an
account was skipped
"""

def _description(packs) -> str:
    """The top-level help's opening: the vendors come from the loaded packs (a pack of your own included)."""
    import textwrap

    # A vendor's name is not broken across lines: its spaces are held as NUL while the text is wrapped.
    names = ", ".join(p.vendor.name.replace(" ", "\0") for p in packs if p.vendor.access is not None)
    text = textwrap.fill(
        f"Check S3 buckets that feed ML data platforms ({names}, or any other you describe in a vendor pack): "
        "will the vendor's integration work, and does the vendor get nothing more than it needs? "
        "Start with `auditor demo`.", width=95, break_on_hyphens=False)
    return text.replace("\0", " ") + "\n"


class UsageError(AuditorError):
    pass


# Per invocation (set by main): colour, and whether human output goes to stderr (stdout carries a report).
_OUT = {"color": True, "human_to_stderr": False}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that name the subcommand and suggest the nearest option or value."""

    def error(self, message: str) -> NoReturn:
        import difflib
        import re

        m = re.search(r"invalid choice: '([^']*)' \(choose from (.+)\)", message)
        if m:
            options = [o.strip(" '") for o in m.group(2).split(",")]
            near = difflib.get_close_matches(m.group(1), options, n=1)
            if near:
                message += f" — did you mean '{near[0]}'?"
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")

    def unrecognized(self, extras: Sequence[str]) -> None:
        import difflib

        options = [o for a in self._actions for o in a.option_strings]
        first = extras[0]
        flag = first.split("=", 1)[0]
        near = difflib.get_close_matches(flag, options, n=1, cutoff=0.6) if flag.startswith("-") else []
        what = "unknown option" if flag.startswith("-") else "unexpected argument"
        hint = f" — did you mean {near[0]}?" if near else ""
        self.error(f"{what} {first}{hint}")


class _Progress:
    """A rich progress bar fed by the collectors (buckets done / buckets found)."""

    def __init__(self, progress: Progress, accounts: int = 1):
        self._p = progress
        self._pending = accounts
        # No number until every account has listed its buckets: "0/0" then "3/3" would be a guess.
        self._task = progress.add_task(f"Listing buckets in {accounts} account{'s' if accounts != 1 else ''}", total=None)
        self._total = 0

    def add(self, total: int) -> None:
        self._total += total
        self._pending -= 1
        if self._pending <= 0:
            self._p.update(self._task, total=self._total, description="Collecting buckets")

    def advance(self, n: int = 1) -> None:
        self._p.advance(self._task, n)


class _Count(ProgressColumn):
    """``done/total`` once the total is known; nothing before (never ``0/?``)."""

    def render(self, task) -> Text:
        return Text("" if task.total is None else f"{int(task.completed)}/{int(task.total)}", style="progress.download")


def _formats(value: str) -> tuple[str, ...]:
    import difflib

    items = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    bad = [v for v in items if v not in FORMATS]
    if bad or not items:
        near = difflib.get_close_matches(bad[0], FORMATS, n=1) if bad else []
        hint = f" — did you mean '{near[0]}'?" if near else ""
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(bad) or '(empty)'}; choose from "
                                         f"{','.join(FORMATS)}{hint}")
    return items


def _global_options(p: argparse.ArgumentParser, default) -> None:
    g = p.add_argument_group("output and diagnostics (before or after the command)")
    g.add_argument("--no-color", action="store_true", default=default,
                   help="no colours (also when NO_COLOR is set)")
    g.add_argument("--verbose", "-v", action="store_true", default=default,
                   help="say what is scanned with which credentials source and endpoint, and how long it took")
    g.add_argument("--debug", action="store_true", default=default,
                   help="log every AWS request and answer (botocore) to stderr, credentials redacted")


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


def _vendor_ids(packs) -> list[str]:
    return [p.vendor.id for p in packs if p.vendor.access is not None]


def build_parser(packs=None) -> _Parser:
    """The command line; ``packs`` (default: the built-in ones) give the vendors and their integration flags."""
    if packs is None:
        from auditor.rulepack import load_packs

        packs = load_packs()
    vendors = _vendor_ids(packs)
    integration_keys = _integration_keys(packs)
    parser = _Parser(prog="auditor", description=_description(packs), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"auditor {__version__}")
    _global_options(parser, False)
    common = _Parser(add_help=False)
    _global_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_parser = sub.add_parser

    def add_parser(name: str, **kw):
        return _add_parser(name, parents=[common], **kw)

    sub.add_parser = add_parser  # type: ignore[method-assign]

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
        p.set_defaults(default_formats=default_formats)
        p.add_argument("--format", type=_formats, default=None,
                       help=f"comma list of {','.join(FORMATS)} (default {default_formats}); table goes to the terminal, the others to --output-dir")
        p.add_argument("--output-dir", type=Path, default=Path("auditor-reports"),
                       help="where findings.json, findings.csv, report.html, findings.sarif go (default ./auditor-reports; created if missing)")
        p.add_argument("--output", "-o", metavar="FILE", default=None,
                       help="write the one machine format asked for (json, sarif or csv) to FILE instead; "
                            "'-' is stdout, and then the table, progress and messages go to stderr")
        p.add_argument("--fail-on", choices=("critical", "high", "medium", "low", "never"), default="high",
                       help="exit 1 when a fail at or above this severity exists (default high)")
        p.add_argument("--show-passes", action="store_true", help="list passing checks in the terminal table too")
        p.add_argument("--csv-excel", action="store_true", help="write findings.csv as UTF-8 with BOM for Excel")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    scan = sub.add_parser("scan", help="scan every bucket of the configured accounts",
                          description="Collect bucket, IAM and KMS state read-only, evaluate every rule, write reports.",
                          epilog=EPILOG_SCAN, formatter_class=argparse.RawDescriptionHelpFormatter)
    scan.add_argument("--config", type=Path, default=None,
                      help="config file (default ./auditor.toml; without one, the default credentials' account)")
    acct = scan.add_argument_group("account (without a config file; with one, they apply to every account)")
    acct.add_argument("--profile", help="shared-config profile (default: AWS_PROFILE, else the default credential chain)")
    acct.add_argument("--region", help="region of the account-wide clients (default us-east-1; each bucket is read in its own region)")
    acct.add_argument("--endpoint-url", help="one endpoint for every service (Wasabi, an emulator); "
                                             "AWS_ENDPOINT_URL does the same")
    acct.add_argument("--bucket", action="append", metavar="GLOB",
                      help="only buckets whose name matches GLOB (repeatable), e.g. --bucket 'ml-*'")
    acct.add_argument("--vendor", metavar="VENDOR",
                      help="only this vendor's rules, with the baseline: " + " | ".join(vendors))
    scan.add_argument("--no-content", action="store_true",
                      help="do not read object headers or the first bytes of sampled objects (no s3:GetObject); "
                           "the content rules are then unknown. Same as [scan] content = false")
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

    init = sub.add_parser(
        "init", help="write a commented auditor.toml from what a scan of your account finds",
        description="Scan the default credentials' account (or --profile) read-only and write a commented "
                    "auditor.toml: the account, every bucket found, and an [[integrations]] entry for each bucket "
                    "whose policy names a vendor (V7, Datature), with the keys still to fill in marked FILL IN.",
        epilog="examples:\n  auditor init                      # ./auditor.toml\n"
               "  auditor init --profile prod -o prod.toml\n  auditor init -o -                 # print it",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ia = init.add_argument_group("account")
    ia.add_argument("--profile", help="shared-config profile (default: AWS_PROFILE, else the default credential chain)")
    ia.add_argument("--region", help="region of the clients")
    ia.add_argument("--endpoint-url", help="one endpoint for every service; AWS_ENDPOINT_URL does the same")
    ia.add_argument("--bucket", action="append", metavar="GLOB", help="only buckets matching GLOB (repeatable)")
    init.add_argument("--output", "-o", default="auditor.toml", metavar="FILE",
                      help="where to write it (default ./auditor.toml; '-' prints it)")
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    init.set_defaults(func=cmd_init, no_content=False, vendor=None)

    demo = sub.add_parser("demo", help="scan sample buckets in an embedded emulator (no credentials, no network)",
                          description="Start an embedded S3/IAM/KMS emulator on 127.0.0.1, create sample buckets for "
                                      "every vendor (some set up right, some wrong), scan them and write every report.",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    output_options(demo, ",".join(FORMATS))
    demo.set_defaults(func=cmd_demo)

    from auditor.onboard import EXAMPLES

    check = sub.add_parser("check", help="is one bucket ready for one vendor? (no config file needed)",
                           description="Run the scan's collectors, rules and reporters on one bucket for one vendor "
                                       "(plus the baseline rules) and end with READY or NOT READY. Read-only. "
                                       "NOT READY: a requirement of the vendor's guide fails (at or above --fail-on) "
                                       "on the bucket or the integration's role or user, or the bucket is publicly "
                                       "exposed (a critical exposure); other exposure findings are listed under the "
                                       "verdict as warnings. Exit status follows the verdict: 0 READY, 1 NOT READY "
                                       "(blocking findings), 3 NOT READY (could not be verified) or READY with "
                                       "something unknown, 2 usage error.",
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
        description="Stream RedBrick AI's items list (RedBrick AI, 'Configuring AWS s3', section 'Items Path': paths as "
                    "root-folder/sub-folder/datapoint.dcm) for every object under the root folder, page by page, "
                    "in constant memory. Take the bucket and root folder from a redbrick integration in the config, "
                    "or give them with --bucket/--prefix.",
        epilog="examples:\n  auditor items-list --config auditor.toml                 # the redbrick integration\n"
               "  auditor items-list --bucket dicom-studies --prefix studies/ --output items.json\n"
               "  auditor items-list --bucket dicom-studies --group-by folder --ext .dcm  # one datapoint per series",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    items.add_argument("--config", type=Path, help="take bucket, prefix and account from a redbrick integration")
    items.add_argument("--bucket", help="bucket (with --config: which redbrick integration, if several)")
    items.add_argument("--prefix", help="root folder: 'studies' is the folder studies/ (default: the integration's "
                                        "prefix, else the whole bucket; 'studies*' lists every key starting so)")
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
                    "never writes to an account. It does read data: s3:GetObject is used for the headers "
                    "(HeadObject) and the first bytes of a bounded sample of objects in buckets a vendor uses "
                    "(image orientation, video headers, COCO files) — never a whole large object. "
                    "With --no-content the scan makes no such read and s3:GetObject (and kms:Decrypt) are left out.",
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
    perms.add_argument("--no-content", action="store_true",
                       help="the policy for `auditor scan --no-content`: without s3:GetObject")
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
    """Where people read: stdout, or stderr when stdout carries a report (``--output -``)."""
    return Console(stderr=_OUT["human_to_stderr"], highlight=False, no_color=not _OUT["color"])


def _err_console() -> Console:
    return Console(stderr=True, highlight=False, no_color=not _OUT["color"])


def _verbose(args: argparse.Namespace, text: str) -> None:
    if getattr(args, "verbose", False) or getattr(args, "debug", False):
        _err_console().print(text, style="dim", markup=False, highlight=False, soft_wrap=True)


def _progress_enabled(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _zero_config(args: argparse.Namespace):
    """No auditor.toml: the default credential chain's account, every bucket (or --bucket), baseline + inferred."""
    from auditor.config import AccountConfig, Config

    return Config(path="(no config file)", accounts=(AccountConfig(name="default"),))


def _apply_account_flags(config, args: argparse.Namespace):
    """--profile/--region/--endpoint-url/--bucket (and AWS_ENDPOINT_URL) on every account of ``config``."""
    import dataclasses

    from auditor.credentials import endpoint_from_env

    endpoint = args.endpoint_url or None
    for url, where in ((endpoint, "--endpoint-url"), (endpoint_from_env(), "AWS_ENDPOINT_URL")):
        if url and not url.startswith(("http://", "https://")):
            raise UsageError(f"{where} {url}: not an http(s) URL — write e.g. https://s3.wasabisys.com "
                             "or http://127.0.0.1:9000")
    changes = {}
    if args.profile:
        changes["profile"] = args.profile
    if args.region:
        changes["regions"] = (args.region,)
    if args.bucket:
        changes["buckets"] = tuple(args.bucket)
    accounts = []
    for a in config.accounts:
        extra = dict(changes)
        url = endpoint or (None if a.endpoint_url else endpoint_from_env())
        if url:
            extra["endpoint_url"] = url
            if a.provider == "aws" and re.match(r"^https?://([\w.-]+\.)?wasabisys\.com(:\d+)?(/|$)", url):
                extra["provider"] = "wasabi"  # no KMS or S3 Control there: recorded as unsupported, not failed
        accounts.append(dataclasses.replace(a, **extra) if extra else a)
    scan = dataclasses.replace(config.scan, content=False) if args.no_content else config.scan
    return dataclasses.replace(config, accounts=tuple(accounts), scan=scan)


def _check_vendor(args: argparse.Namespace) -> None:
    from auditor.rulepack import load_packs

    VENDORS = _vendor_ids(load_packs(dirs=args.rules_dir))  # noqa: N806

    if args.vendor and args.vendor not in VENDORS:
        import difflib

        near = difflib.get_close_matches(args.vendor, VENDORS, n=1)
        raise UsageError(f"scan --vendor {args.vendor}: unknown vendor — use one of {', '.join(VENDORS)}"
                         + (f" (did you mean '{near[0]}'?)" if near else ""))


def cmd_scan(args: argparse.Namespace) -> int:
    import time

    from auditor.config import load_config
    from auditor.scan import evaluate_snapshot
    from auditor.snapshot import load_snapshot

    _check_vendor(args)
    config_path = args.config or Path("auditor.toml")
    have_config = args.config is not None or config_path.exists()
    t0 = time.monotonic()
    if args.from_snapshot:
        snapshot = load_snapshot(args.from_snapshot)
        config = load_config(config_path, args.rules_dir) if have_config else None
        from auditor.rulepack import load_packs

        packs = config.rule_packs() if config else load_packs(dirs=args.rules_dir)
        with _evaluating(args):
            result = evaluate_snapshot(snapshot, packs, integrations=config.integrations if config else None,
                                       workers=config.scan.workers if config else 0)
    else:
        from auditor.credentials import check_profiles
        from auditor.snapshot import save_snapshot

        config = load_config(config_path, args.rules_dir) if have_config else _zero_config(args)  # a bad config exits 2 here
        if not config.accounts and config.organization is None:
            raise ConfigError(str(config_path), "accounts", "no [[accounts]] to scan",
                              'add [[accounts]] with name = "..." (and profile or role_arn)')
        config = _apply_account_flags(config, args)
        check_profiles([(a.profile, "--profile" if args.profile else f"{config.path}: accounts.{a.name}.profile")
                        for a in config.accounts]
                       + ([(config.organization.profile, f"{config.path}: organization.profile")]
                          if config.organization and config.organization.profile else []))
        for a in config.accounts:
            _verbose(args, f"account {a.name}: {_describe_account(a)}"
                           + ("" if have_config else f" (no {config_path}: every bucket, baseline and inferred vendor rules)"))
        snapshot = _collect(config, args)
        _verbose(args, f"collected {sum(len(a.buckets) for a in snapshot.accounts)} bucket(s) in "
                       f"{time.monotonic() - t0:.1f} s")
        if args.save_snapshot:
            save_snapshot(snapshot, args.save_snapshot)
        with _evaluating(args):
            result = evaluate_snapshot(snapshot, config.rule_packs(), workers=config.scan.workers)
    if args.vendor:
        import dataclasses

        result = dataclasses.replace(result, findings=tuple(f for f in result.findings
                                                            if f.vendor in (args.vendor, "baseline")))
    if config is not None and config.suppressions:
        import dataclasses

        from auditor.suppress import apply_suppressions

        findings = apply_suppressions(result.findings, config.suppressions, result.finished_at[:10], config.path)
        result = dataclasses.replace(result, findings=findings)
    _verbose(args, f"evaluated in {time.monotonic() - t0:.1f} s")
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


def _describe_account(a) -> str:
    """Where the account's credentials come from, for --verbose (never the credentials themselves)."""
    if a.role_arn:
        source = f"role {a.role_arn}"
    elif a.profile:
        source = f"profile {a.profile}"
    elif os.environ.get("AWS_PROFILE"):
        source = f"profile {os.environ['AWS_PROFILE']} (AWS_PROFILE)"
    elif os.environ.get("AWS_ACCESS_KEY_ID"):
        source = "keys from AWS_ACCESS_KEY_ID"
    else:
        source = "the default credential chain"
    parts = [source]
    if a.endpoint_url:
        parts.append(f"endpoint {a.endpoint_url}")
    if a.regions:
        parts.append(f"region {', '.join(a.regions)}")
    if a.buckets:
        parts.append(f"buckets {', '.join(a.buckets)}")
    return ", ".join(parts)


def _evaluating(args: argparse.Namespace):
    """A spinner while the rules run (thousands of buckets take seconds), where a progress bar would show."""
    import contextlib

    if not _progress_enabled(args):
        return contextlib.nullcontext()
    return _err_console().status("Evaluating rules…")


def _collect(config, args):
    """The snapshot; when no account at all could be scanned, the reason and its fix (exit 2)."""
    from auditor.credentials import nothing_scanned

    snapshot = _collect_snapshot(config, args)
    failed = nothing_scanned(snapshot.accounts, snapshot.skipped)
    if failed is not None:
        raise failed
    return snapshot


def _collect_snapshot(config, args):
    from auditor.collect import collect

    if getattr(args, "dask_scheduler", None):
        from auditor.distributed import collect_distributed

        return collect_distributed(config, args.dask_scheduler, args.shards)
    if not _progress_enabled(args):
        return collect(config)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _Count(), TimeElapsedColumn())
    with Progress(*columns, console=_err_console(), transient=True) as progress:
        return collect(config, progress=_Progress(progress, max(1, len(config.accounts))))


MACHINE_FORMATS = ("json", "sarif", "csv")


def _renderers() -> dict[str, Callable[..., Path]]:
    """Render functions by format, imported when asked for (jinja2 only for HTML)."""

    def json_(result, out_dir):
        from auditor.report.json import render_json

        return render_json(result, out_dir)

    def csv_(result, out_dir, *, excel=False):
        from auditor.report.csv import render_csv

        return render_csv(result, out_dir, excel=excel)

    def html_(result, out_dir, *, previous_changes=None):
        from auditor.report.html import render_html

        return render_html(result, out_dir, previous_changes=previous_changes)

    def sarif_(result, out_dir):
        from auditor.report.sarif import render_sarif

        return render_sarif(result, out_dir)

    return {"json": json_, "csv": csv_, "html": html_, "sarif": sarif_}


def _write_machine(fmt: str, result: ScanResult, target: str, *, excel: bool = False) -> None:
    """One machine format to ``target`` (a file, or ``-`` for standard output), as a stream."""
    if fmt == "csv":
        from auditor.report.csv import write_csv

        write_csv(result, target, excel=excel)
    elif fmt == "sarif":
        from auditor.report.sarif import write_sarif

        write_sarif(result, target)
    else:
        from auditor.report.json import write_findings

        write_findings(result, target)


def _output_formats(args: argparse.Namespace) -> tuple[str, ...]:
    """The files/streams to write; with --output, exactly one machine format (checked before any API call)."""
    out = getattr(args, "output", None)
    if out is None:
        return tuple(f for f in args.format if f != "table")
    files = tuple(f for f in args.format if f != "table")
    if len(files) != 1 or files[0] not in MACHINE_FORMATS:
        got = ",".join(files) or "table"
        raise UsageError(f"{args.command} --output {out}: takes one of {', '.join(MACHINE_FORMATS)}, got --format {got} — "
                         f"e.g. --format json -o {out}, or --output-dir DIR for several formats")
    return files


def _report(result: ScanResult, args: argparse.Namespace, changes: dict | None = None) -> int:
    from auditor.report.table import render_table
    from auditor.scan import exit_status

    console = _console()
    renderers = _renderers()
    formats = _output_formats(args)
    out = getattr(args, "output", None)
    written: list[str] = []
    if out is not None:
        _write_machine(formats[0], result, out, excel=args.csv_excel)
        if out != "-":
            written.append(str(out))
    if "table" in args.format:
        report = (written[0] if written else
                  str(Path(args.output_dir) / ("report.html" if "html" in formats else "findings.json"))
                  if formats and out is None else None)
        render_table(result, console, show_passes=args.show_passes, report_path=report)
    if out is None:
        for fmt in formats:
            if fmt == "csv":
                written.append(str(renderers[fmt](result, args.output_dir, excel=args.csv_excel)))
            elif fmt == "html":
                written.append(str(renderers[fmt](result, args.output_dir, previous_changes=changes)))
            else:
                written.append(str(renderers[fmt](result, args.output_dir)))
    for path in written:
        console.print(terminal(f"wrote {path}"), style="dim", markup=False, highlight=False)
    return exit_status(result.findings, args.fail_on, len(result.skipped) + len(result.failed_calls))


def cmd_init(args: argparse.Namespace) -> int:
    from auditor.config import parse_config
    from auditor.credentials import check_profiles
    from auditor.infer import infer_integrations
    from auditor.init import render_config
    from auditor.rulepack import load_packs

    target = None if args.output == "-" else Path(args.output)
    if target is not None and target.exists() and not args.force:
        raise UsageError(f"init: {target} already exists — pass --force to replace it, or -o OTHER.toml")
    config = _apply_account_flags(_zero_config(args), args)
    check_profiles([(a.profile, "--profile") for a in config.accounts])
    snapshot = _collect(config, args)
    integrations = infer_integrations(snapshot, load_packs())
    text = render_config(snapshot, integrations, config.accounts[0])
    parse_config(text, str(target or "auditor.toml"))  # what we write loads as written
    if target is None:
        sys.stdout.write(text)
        return 0
    from auditor.report.files import write_atomic

    write_atomic(target, text)
    todo = text.count("\n# FILL IN ")
    buckets = sum(len(a.buckets) for a in snapshot.accounts)
    _console().print(f"wrote {target}: {buckets} bucket(s), {len(integrations)} vendor integration(s)"
                     + (f", {todo} with keys to fill in (marked FILL IN)" if todo else "")
                     + ". Next: review it and run `auditor scan`.", markup=False, highlight=False)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        import moto.server  # noqa: F401 — the emulator ships in the demo extra
    except ImportError:
        raise UsageError("demo: the embedded emulator is not installed — pip install 'auditor[demo]' "
                         "(from a checkout: pip install '.[demo]')") from None
    from auditor.demo import run_demo

    console = _console()
    console.print("Starting the embedded emulator and creating sample buckets for every vendor…", style="dim")
    result = run_demo(progress=None)
    status = _report(result, args)
    console.print(
        f"\nDemo done. A real scan of these buckets would exit {status} "
        f"(--fail-on {args.fail_on}). Next: `auditor scan` checks your own account with your default AWS "
        "credentials, and `auditor init` writes an auditor.toml from what it finds.",
        style="bold")
    return 0 if status in (0, 1, 3) else status


def _onboard_config(args: argparse.Namespace):
    from auditor.credentials import check_profiles, endpoint_from_env
    from auditor.onboard import config_from_flags

    check_profiles([(args.profile, "--profile")])
    args.endpoint_url = args.endpoint_url or endpoint_from_env()  # AWS_ENDPOINT_URL acts as --endpoint-url
    from auditor.rulepack import load_packs

    keys = _integration_keys(load_packs(dirs=args.rules_dir))
    return config_from_flags(args.vendor, args.bucket, args.mode, {k: getattr(args, k, None) for k in keys},
                             profile=args.profile, endpoint_url=args.endpoint_url, provider=args.provider,
                             region=args.region, rule_dirs=args.rules_dir)


def cmd_check(args: argparse.Namespace) -> int:
    from auditor.onboard import blocking, limit_to, verdict, warnings
    from auditor.scan import evaluate_snapshot

    config = _onboard_config(args)
    integ = config.integrations[0]
    snapshot = _collect(config, args)
    result = limit_to(evaluate_snapshot(snapshot, config.rule_packs()), integ)
    _report(result, args)
    unknown = sum(1 for f in result.findings if f.status.value == "unknown")
    console = _console()
    if unknown:
        console.print(f"{unknown} check(s) could not be verified (see the unknown findings above).", style="yellow")
    line = verdict(result, args.fail_on)
    console.print(terminal(line), style="bold green" if line == "READY" else "bold red", soft_wrap=True, markup=False)  # one line, for grep
    _print_warnings(console, warnings(result.findings, args.fail_on))
    # The exit status is the verdict's: exposure warnings do not fail a READY bucket in CI.
    if blocking(result.findings, args.fail_on):
        return 1
    counted_unknown = any(f.status.value == "unknown" and f.counted for f in result.findings)
    return 3 if line != "READY" or counted_unknown or result.failed_calls else 0


def _print_warnings(console, found) -> None:
    """Exposure findings under the verdict: they do not decide it, but the reader should see them."""
    if not found:
        return
    console.print(f"{len(found)} exposure warning{'s' if len(found) != 1 else ''} (not blocking):", style="yellow",
                  markup=False)
    for f in found:
        # What was found (the message), not the rule's title, which names the state it checks for; about
        # the bucket or the role or user it concerns, not the vendor principal named in its evidence.
        where = f.bucket or f.resource or f.principal
        text = f"{f.rule_id} [{f.severity.value}] {where}: {f.message}"
        if f.required_by and f.required_by not in f.message:
            text += f" (required by {f.required_by})"
        # Wrapped at the terminal's width, every line indented by two; no line padded out with spaces.
        body = Text(terminal(text), style="dim" if f.required_by else "yellow")
        for line in body.wrap(console, max(20, console.width - 2)):
            line.rstrip()
            console.print(Text("  ") + line, soft_wrap=True)


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


def _items_account(config, name: str, source: str):
    """The account an integration names: one of [[accounts]], or an organization member (a 12-digit id),
    reached as scans reach it, through the organization's role."""
    from auditor.config import AccountConfig

    found = config.account(name)
    if found is not None:
        return found
    org = config.organization
    if org is not None and re.fullmatch(r"\d{12}", name):
        return AccountConfig(name=name, profile=org.profile, role_arn=f"arn:aws:iam::{name}:role/{org.role_name}",
                             external_id=org.external_id, endpoint_url=org.endpoint_url, regions=org.regions)
    raise ConfigError(source, "integrations.account", f"account '{name}' is not one of [[accounts]]",
                      "add it to [[accounts]], or an [organization] whose member it is")


def cmd_items_list(args: argparse.Namespace) -> int:
    from auditor.collect import items_list
    from auditor.config import AccountConfig, load_config
    from auditor.onboard import parse_bucket
    from auditor.prefixes import norm_prefix
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
        assert integ.profile is not None  # candidates have a profile
        account, bucket = _items_account(config, integ.account, str(args.config)), integ.bucket
        first_zone = integ.profile.needs[integ.mode].objects[0][0] if integ.profile.needs[integ.mode].objects else None
        prefix = norm_prefix(args.prefix) if args.prefix is not None else (integ.zone(first_zone).prefix if first_zone else "")
        settings = config.scan
    elif args.bucket:
        from auditor.validate import endpoint_problem

        if args.endpoint_url and endpoint_problem(args.endpoint_url):
            raise UsageError(f"--endpoint-url: {endpoint_problem(args.endpoint_url)} — write e.g. https://s3.wasabisys.com")
        bucket = parse_bucket(args.bucket)
        account = AccountConfig(name="target", profile=args.profile, endpoint_url=args.endpoint_url)
        prefix = norm_prefix(args.prefix)  # a folder: "studies" is studies/, not studies-old/ too
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
        print(json.dumps([{"id": r.id, "vendor": r.vendor, "kind": r.kind, "severity": r.severity.value, "title": r.title,
                           "check": r.check, "modes": list(r.modes), "reference": r.reference,
                           "guide": dict(r.guide) if r.guide else None,
                           "source": r.source, "replaces": v.replaces or None}
                          for v, r in rows], indent=2))
        return 0
    for p in packs:
        if p.replaces:
            _console().print(f"{p.source} replaces the built-in {p.vendor.id} pack ({p.replaces})", markup=False,
                             soft_wrap=True)
    console = _console()
    if console.width < 120:  # a list: ids whole, text wrapped at words
        for _, r in rows:
            console.print(Text.assemble((terminal(r.id, one_line=True), "bold"), f" · {r.severity.value} · {r.kind}"),
                          no_wrap=True, crop=True)
            console.print(Text(terminal(r.title)), overflow="ellipsis")
            console.print(Text(terminal(r.reference), style="dim"), overflow="ellipsis")
            console.print()
        return 0
    table = Table(title="auditor rules", show_lines=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Answer", no_wrap=True)
    table.add_column("Title", overflow="ellipsis", ratio=1)
    table.add_column("Reference", overflow="ellipsis", ratio=2)
    for _, r in rows:  # rule packs are data: shown like any other text
        table.add_row(*(Text(terminal(v)) for v in (r.id, r.severity.value, r.kind, r.title, r.reference)))
    console.print(table)
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
        table.add_column("Rule · bucket", ratio=2, overflow="ellipsis")  # ids and names whole, or cut with …
        table.add_column("Finding", ratio=3, overflow="ellipsis")
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

    print(json.dumps(scanner_policy(content=not args.no_content), indent=2))
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
    if getattr(args, "default_formats", None) and args.format is None:
        # With --output and no --format: the table (to stderr when -o -) and JSON.
        args.format = ("table", "json") if getattr(args, "output", None) else _formats(args.default_formats)
    if args.command == "init" and args.output != "-" and not (Path(args.output).exists() and not args.force):
        _writable_file(Path(args.output), "--output")
    elif getattr(args, "output", None) is not None and getattr(args, "default_formats", None):
        _output_formats(args)
        if args.output == "-":
            _OUT["human_to_stderr"] = True
        else:
            _writable_file(Path(args.output), "--output")
    out = getattr(args, "output_dir", None)
    if out is not None and getattr(args, "output", None) is None and (
            args.command == "plan" or any(f != "table" for f in args.format)):
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
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:
            sub = parser._subparsers._group_actions[0].choices.get(args.command) if args.command else None  # type: ignore[union-attr]
            (sub or parser).unrecognized(extras)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else EXIT_USAGE
    _OUT.update(color=not args.no_color and not os.environ.get("NO_COLOR"), human_to_stderr=False)
    if args.debug:
        from auditor.credentials import enable_debug_logging

        enable_debug_logging()
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    previous = _on_sigterm()
    try:
        _check_outputs(args)
        status: int = args.func(args)
        return status
    except AuditorError as e:  # config, usage, snapshot, credentials: one line, exit 2
        _error(f"auditor: error: {e}")
        return EXIT_USAGE
    except OSError as e:  # writing a report or snapshot failed (disk full, permissions changed)
        if e.errno == errno.EPIPE:  # `| head`: the reader went away; as a shell reports a writer killed by SIGPIPE
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            except OSError:
                pass
            return 128 + 13
        where = e.filename2 or e.filename or "output"
        _error(f"auditor: error: {where}: cannot write ({e.strerror or e}) — check the path and free space; "
               "files already written are complete, none is left half-written")
        return EXIT_USAGE
    except _Terminated:
        return 143
    except KeyboardInterrupt:
        return 130
    except RecursionError:
        _error("auditor: error: an input is nested too deeply to be read (over the recursion limit) — "
               "check the snapshot, config or answer it came from")
        return EXIT_USAGE
    except Exception as e:  # noqa: BLE001 — never a traceback (it could quote a credential), never exit 1
        from auditor.credentials import explain

        known = explain(f"{type(e).__name__} {e}")
        if known:  # a credential or endpoint problem botocore raised outside a call: the fix
            _error(f"auditor: error: {known[0]} — {known[1]} [{type(e).__name__}: {e}]")
            return EXIT_USAGE
        _error(f"auditor: internal error: {type(e).__name__}: {e} — nothing was left half-written; "
               "please report this (with the command line)")
        return EXIT_USAGE
    finally:
        if previous is not None:
            with contextlib.suppress(Exception):
                signal.signal(signal.SIGTERM, previous)


class _Terminated(KeyboardInterrupt):
    """SIGTERM: unwinds like Ctrl-C, so temporary files are removed and nothing is left half-written.

    A KeyboardInterrupt, because event loops pass that on from a callback and log any other
    BaseException there instead; uvloop runs Python's signal handlers inside such a callback."""


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
