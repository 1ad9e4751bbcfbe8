"""Scan history in SQLite: every scan's findings, listed and diffed by fingerprint.

The schema is versioned by ``PRAGMA user_version``; each migration runs once, in order.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import AuditorError
from auditor.model import ScanResult

MIGRATIONS: tuple[str, ...] = (
    # 1: scans and their findings
    """
    CREATE TABLE scans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        accounts TEXT NOT NULL,
        buckets INTEGER NOT NULL,
        tool_version TEXT NOT NULL,
        skipped TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE findings (
        scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        vendor TEXT NOT NULL,
        status TEXT NOT NULL,
        severity TEXT NOT NULL,
        account_id TEXT NOT NULL,
        bucket TEXT,
        resource TEXT NOT NULL,
        principal TEXT,
        suppressed INTEGER NOT NULL DEFAULT 0,
        document TEXT NOT NULL,
        PRIMARY KEY (scan_id, fingerprint)
    );
    CREATE INDEX findings_fingerprint ON findings(fingerprint);
    """,
)

PROBLEM = ("fail", "unknown")


class HistoryError(AuditorError):
    pass


def default_path() -> Path:
    """``$AUDITOR_HISTORY``, else ``history.sqlite`` in the user data directory."""
    if os.environ.get("AUDITOR_HISTORY"):
        return Path(os.environ["AUDITOR_HISTORY"])
    from platformdirs import user_data_dir

    return Path(user_data_dir("auditor")) / "history.sqlite"


@dataclass(frozen=True, slots=True)
class ScanRow:
    id: int
    started_at: str
    finished_at: str
    accounts: tuple[str, ...]
    buckets: int
    counts: dict[str, int]
    skipped: int


class History:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path)
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise HistoryError(f"{self.path}: not a usable history database ({e}); move it away or pass --history PATH") from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise HistoryError(f"{self.path}: written by a newer auditor (schema {version}); upgrade auditor")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.db:
                self.db.executescript(script)
                self.db.execute(f"PRAGMA user_version = {number}")

    def close(self) -> None:
        self.db.close()

    def record(self, result: ScanResult) -> int:
        with self.db:
            cur = self.db.execute(
                "INSERT INTO scans (started_at, finished_at, accounts, buckets, tool_version, skipped) VALUES (?,?,?,?,?,?)",
                (result.started_at, result.finished_at, json.dumps(list(result.accounts)), result.buckets,
                 result.tool_version, json.dumps([{"name": s.name, "reason": s.reason} for s in result.skipped])))
            scan_id = cur.lastrowid
            assert scan_id is not None  # set by every INSERT
            self.db.executemany(
                "INSERT OR REPLACE INTO findings VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(scan_id, f.fingerprint, f.rule_id, f.vendor, f.status.value, f.severity.value, f.account_id,
                  f.bucket, f.resource, f.principal, int(f.suppressed), json.dumps(f.to_json()))
                 for f in result.findings])
        return int(scan_id)

    def scans(self) -> list[ScanRow]:
        rows = self.db.execute("SELECT id, started_at, finished_at, accounts, buckets, skipped FROM scans ORDER BY id").fetchall()
        out = []
        for scan_id, started, finished, accounts, buckets, skipped in rows:
            counts = dict(self.db.execute(
                # As the scan itself counts them (summary line, report cards): suppressed findings apart.
                "SELECT status, COUNT(*) FROM findings WHERE scan_id = ? AND suppressed = 0 GROUP BY status",
                (scan_id,)).fetchall())
            out.append(ScanRow(scan_id, started, finished, tuple(json.loads(accounts)), buckets,
                               {s: counts.get(s, 0) for s in ("fail", "unknown", "pass")}, len(json.loads(skipped))))
        return out

    def _findings(self, scan_id: int) -> dict[str, dict[str, Any]]:
        if not self.db.execute("SELECT 1 FROM scans WHERE id = ?", (scan_id,)).fetchone():
            raise HistoryError(f"{self.path}: no scan {scan_id} (see `auditor history`)")
        return {fp: json.loads(doc) for fp, doc in self.db.execute(
            "SELECT fingerprint, document FROM findings WHERE scan_id = ? AND suppressed = 0", (scan_id,))}

    def diff(self, old: int | None = None, new: int | None = None) -> dict[str, Any]:
        """New, resolved and still-failing findings between two scans (default: the last two)."""
        ids = [s.id for s in self.scans()]
        if new is None:
            new = ids[-1] if ids else None
        if old is None:
            earlier = [i for i in ids if new is not None and i < new]
            old = earlier[-1] if earlier else None
        if old is None or new is None:
            raise HistoryError(f"{self.path}: need two scans to diff; {len(ids)} recorded (run `auditor scan` again)")
        return diff_findings(self._findings(old), self._findings(new), old, new)

    def changes_to(self, result: ScanResult) -> dict[str, Any] | None:
        """The diff from the last recorded scan to ``result`` (not recorded yet), or None when none is."""
        ids = [s.id for s in self.scans()]
        if not ids:
            return None
        now = {f.fingerprint: f.to_json() for f in result.findings if not f.suppressed}
        return diff_findings(self._findings(ids[-1]), now, ids[-1], None)

    def previous_changes(self, scan_id: int) -> dict[str, Any] | None:
        """The diff from the scan before ``scan_id`` to it, or None for the first scan."""
        earlier = [s.id for s in self.scans() if s.id < scan_id]
        return diff_findings(self._findings(earlier[-1]), self._findings(scan_id), earlier[-1], scan_id) if earlier else None


def diff_findings(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]],
                  old_id: int | None = None, new_id: int | None = None) -> dict[str, Any]:
    """Classify by fingerprint: a problem (fail/unknown) now and not before is new, and so on.

    A fail that is ``unknown`` now — same fingerprint, or the same rule on the same bucket and
    account when the failed call left no principal to name — is neither resolved nor still failing:
    it "could not be verified" (``unverified``), and the unknown finding is not counted as new.
    """
    def problems(d: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {fp: f for fp, f in d.items() if f["status"] in PROBLEM}

    def place(f: dict[str, Any]) -> tuple:
        return (f.get("rule_id"), f.get("vendor"), f.get("account_id"), f.get("bucket"))

    before, after = problems(old), problems(new)
    unknown_now: dict[tuple, list[str]] = {}
    for fp, f in after.items():
        if f["status"] == "unknown":
            unknown_now.setdefault(place(f), []).append(fp)
    unverified, used, done = [], set(), set()
    for fp, f in before.items():
        if f["status"] != "fail":
            continue
        if fp in after and after[fp]["status"] == "unknown":
            now = [fp]
        elif fp not in after and unknown_now.get(place(f)):
            now = unknown_now[place(f)]
        else:
            continue
        unverified.append({**f, "status_now": "unknown", "message_now": after[now[0]]["message"]})
        used.update(now)
        done.add(fp)
    key = lambda f: (f["rule_id"], f["resource"])  # noqa: E731
    return {
        "old_scan": old_id,
        "new_scan": new_id,
        "new": sorted((after[fp] for fp in after.keys() - before.keys() - used), key=key),
        "resolved": sorted(({**before[fp], "status_now": new[fp]["status"] if fp in new else "absent"}
                            for fp in before.keys() - after.keys() - done), key=key),
        "still_failing": sorted((after[fp] for fp in (after.keys() & before.keys()) - done), key=key),
        "unverified": sorted(unverified, key=key),
    }


def open_history(path: Path | None) -> History:
    return History(path or default_path())


__all__ = ["History", "HistoryError", "open_history", "default_path", "diff_findings", "ScanRow", "Sequence"]
