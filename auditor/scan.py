"""collect → snapshot → evaluate: the scan as a function, for the CLI, the demo and tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from auditor import __version__
from auditor.config import Config
from auditor.engine import bucket_count
from auditor.model import ApiError, Finding, Integration, ScanResult, Severity, Snapshot, Status
from auditor.rulepack import RulePack, load_packs
from auditor.spread import evaluate

if TYPE_CHECKING:  # the collectors (aioboto3) load only when something is collected, not for --from-snapshot
    from auditor.collect import ProgressSink

FAIL_ON = ("critical", "high", "medium", "low", "never")


def collect_snapshot(config: Config, *, progress: ProgressSink | None = None) -> Snapshot:
    from auditor.collect import collect

    return collect(config, progress=progress)


def evaluate_snapshot(snapshot: Snapshot, packs: Sequence[RulePack] | None = None,
                      integrations: Sequence[Integration] | None = None, *, workers: int = 1) -> ScanResult:
    """Findings for ``snapshot``; ``integrations`` replaces the ones recorded in it when given.

    With ``workers`` other than 1 (0: one per core, as ``[scan] workers``), a large snapshot is
    evaluated by that many processes, with the same findings. They are spawned: a script that asks
    for them runs its scan under ``if __name__ == "__main__":``, as ``multiprocessing`` requires."""
    if integrations is not None:
        from dataclasses import replace

        snapshot = replace(snapshot, integrations=tuple(integrations))
    findings = evaluate(snapshot, packs if packs is not None else load_packs(), workers)
    return ScanResult(
        started_at=snapshot.started_at,
        finished_at=snapshot.finished_at,
        accounts=tuple(dict.fromkeys(a.account_id for a in snapshot.accounts)),
        buckets=bucket_count(snapshot),
        findings=findings,
        skipped=snapshot.skipped,
        tool_version=__version__,
        failed_calls=failed_calls(snapshot),
    )


def failed_calls(snapshot: Snapshot) -> tuple[dict, ...]:
    """Every failed call recorded in ``snapshot`` (providers' NotSupported excluded), once per place and code."""
    out: dict[tuple, dict] = {}

    def add(account, bucket, err) -> None:
        if err.code == "NotSupported":
            return
        key = (account.account_id, bucket, err.api, err.code)
        if key not in out:
            out[key] = {"account_id": account.account_id, "bucket": bucket, "api": err.api, "code": err.code,
                        "message": err.message}

    for account in snapshot.accounts:
        for err in account.errors:
            add(account, None, err)
        for u in account.users:
            for err in u.errors:
                add(account, None, err)
        for k in account.keys:
            for err in k.errors:
                add(account, None, err)
        for b in account.buckets:
            for err in b.errors:
                add(account, b.name, err)
            for o in b.objects:
                for err in o.errors:
                    add(account, b.name, err)
            for blob in b.blobs.values():
                failed = blob.get("error") if isinstance(blob, dict) else None
                if isinstance(failed, dict) and "api" in failed and failed.get("code") not in ("TooLarge",):
                    add(account, b.name, ApiError(str(failed["api"]), str(failed.get("code")),
                                                  str(failed.get("message", ""))))
    return tuple(out.values())


def run_scan(config: Config, *, progress: ProgressSink | None = None) -> tuple[Snapshot, ScanResult]:
    snapshot = collect_snapshot(config, progress=progress)
    return snapshot, evaluate_snapshot(snapshot, config.rule_packs(), workers=config.scan.workers)


def exit_status(findings: Sequence[Finding], fail_on: str = "high", skipped: int = 0) -> int:
    """PRODUCT.md §3: 1 if any fail at or above ``fail_on``; else 3 if anything is unknown (or an account was skipped); else 0.

    Suppressed findings, and findings about what the vendor's own guide requires, do not count.
    """
    counted = [f for f in findings if f.counted]
    if fail_on != "never":
        threshold = Severity(fail_on).rank
        if any(f.status == Status.FAIL and f.severity.rank >= threshold for f in counted):
            return 1
    if skipped or any(f.status == Status.UNKNOWN for f in counted):
        return 3
    return 0
