"""The fault matrix: every API the scanner calls × every way an answer can go wrong.

One estate (the demo's: every vendor, two accounts, KMS, IAM, content probes) is scanned once
cleanly through the fault proxy, then once per (API, fault). For each case:
- the scan finishes and every report is written (JSON, CSV, HTML, SARIF);
- the exit status is 3 (something could not be verified), never 1 for a crash, never 0;
- every finding that changed compared with the clean run is ``unknown`` and names the API;
- nothing else changed; the rules known to depend on the API did change;
- nothing printed carries a traceback.
Retries are off and timeouts are one second, so a case costs about one scan.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import defaultdict
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.demo import seed
from tests.faultproxy import KINDS, PAGINATED, FaultProxy, fault_for

pytestmark = pytest.mark.slow

# Every operation a scan of the demo estate makes (checked against the clean run below).
APIS = ("GetCallerIdentity", "ListBuckets", "GetBucketLocation", "GetBucketPolicy", "GetBucketCors",
        "GetBucketEncryption", "GetPublicAccessBlock", "GetBucketOwnershipControls", "GetBucketVersioning",
        "ListObjectsV2", "HeadObject", "GetObject", "GetAccountPublicAccessBlock",
        "GetAccountAuthorizationDetails", "ListAccessKeys", "DescribeKey", "GetKeyPolicy", "ListAliases",
        "ListGrants")

# A body fault on an answer that has no body, or whose body is the data itself (an object's bytes,
# which the scanner reads as content, not as a protocol answer), cannot be told from a real answer.
NOT_DETECTABLE = {("HeadObject", "truncated"), ("HeadObject", "garbled"), ("HeadObject", "short"),
                  ("GetObject", "truncated"), ("GetObject", "garbled")}

# Rules that must turn unknown when the API fails (a sample of what depends on it; the general
# property — whatever changed is unknown and names the API — is checked for every case).
MUST_CHANGE = {
    "ListBuckets": {"baseline.bucket-inventory"},
    "GetBucketPolicy": {"baseline.public-policy", "baseline.tls-only"},
    "GetBucketCors": {"baseline.cors-wildcard-origin"},
    "GetBucketEncryption": {"v7-aws.kms-key-type"},
    "GetPublicAccessBlock": {"baseline.block-public-access"},
    "GetBucketVersioning": {"baseline.versioning-with-delete"},
    "ListObjectsV2": {"v7-aws.mrxs-companion", "tenyks.coco-format"},
    "HeadObject": {"baseline.object-kms", "v7-aws.object-kms"},
    "GetObject": {"datature.exif-orientation"},
    "GetAccountAuthorizationDetails": {"tenyks.read-grant"},
    "DescribeKey": {"v7-aws.kms-key-type"},
    "GetKeyPolicy": {"v7-aws.kms-key-policy"},
}


def cases():
    for api in APIS:
        for kind in KINDS:
            if kind == "repeated-token" and api not in PAGINATED:
                continue
            if (api, kind) in NOT_DETECTABLE:
                continue
            yield pytest.param(api, kind, id=f"{api}-{kind}")


@pytest.fixture(scope="module")
def estate(moto_server, tmp_path_factory):
    moto_server.reset()
    text = seed(moto_server.endpoint)
    text = text.replace("[scan]\n", "[scan]\nmax_attempts = 1\ntimeout = 1\n", 1)
    root = tmp_path_factory.mktemp("matrix")
    clean = _scan(moto_server.endpoint, text, root / "clean", [])
    assert clean["exit"] == 0, clean["stderr"]
    assert set(APIS) <= set(clean["apis"]), sorted(set(APIS) - set(clean["apis"]))
    return {"endpoint": moto_server.endpoint, "text": text, "root": root, "clean": clean}


def _scan(endpoint: str, text: str, out: Path, faults) -> dict:
    proxy = FaultProxy(endpoint, list(faults))
    url = proxy.start()
    out.mkdir(parents=True, exist_ok=True)
    config = out / "auditor.toml"
    config.write_text(text.replace(endpoint, url))
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["scan", "--config", str(config), "--format", "json,csv,html,sarif", "--output-dir",
                         str(out / "reports"), "--fail-on", "never", "--no-history", "-q"])
    finally:
        proxy.stop()
    doc = json.loads((out / "reports" / "findings.json").read_text()) if (out / "reports" / "findings.json").exists() else None
    return {"exit": code, "doc": doc, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(),
            "apis": dict(proxy.apis), "hits": [f.hits for f in faults], "out": out}


def _groups(doc: dict) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for f in doc["findings"]:
        out[(f["rule_id"], f["vendor"], f["account_id"], f["bucket"])].append(f)
    return out


def _shape(findings: list[dict]) -> list[tuple]:
    return sorted((f["status"], f["message"], f["resource"], f["principal"] or "") for f in findings)


@pytest.mark.parametrize("api,kind", list(cases()))
def test_fault(estate, api, kind):
    fault = fault_for(api, kind, timeout=1)
    run = _scan(estate["endpoint"], estate["text"], estate["root"] / f"{api}-{kind}", [fault])
    assert fault.hits >= 1, f"the fault never fired: {run['apis']}"
    assert "Traceback" not in run["stderr"] + run["stdout"], run["stderr"]
    assert run["exit"] == 3, (run["exit"], run["stderr"][-2000:])
    reports = run["out"] / "reports"
    for name in ("findings.json", "findings.csv", "report.html", "findings.sarif"):
        assert (reports / name).stat().st_size > 0, name
    json.loads((reports / "findings.sarif").read_text())
    doc = run["doc"]
    assert doc is not None

    skipped = {s["name"]: s["reason"] for s in doc["scan"]["skipped_accounts"]}
    # Accounts whose bucket list failed: their buckets were not seen, and say so.
    uninventoried = {f["account_id"] for f in doc["findings"]
                     if f["rule_id"] == "baseline.bucket-inventory" and f["status"] == "unknown"}
    before, after = _groups(estate["clean"]["doc"]), _groups(doc)
    changed = set()
    for key in before.keys() | after.keys():
        old, new = before.get(key, []), after.get(key, [])
        if _shape(old) == _shape(new):
            continue
        changed.add(key[0])
        if not new:
            # Gone: only when the bucket list failed (the account says so), or the account could not
            # be scanned at all, for this API's reason.
            if key[2] in uninventoried:
                continue
            assert skipped, (key, "disappeared without a skipped account")
            assert any(api in r for r in skipped.values()), skipped
            continue
        was = {f["status"] for f in old}
        for f in new:
            if f["status"] == "fail" and was == {"fail"}:
                continue  # a fail found in the data that did arrive stands (its wording may name less)
            assert f["status"] == "unknown", (key, f["status"], f["message"], "was", was)
            said = f["message"] + json.dumps(f["evidence"])
            assert api in said or "collecting this resource failed" in said, (key, f["message"])
    if skipped:
        assert all(api in r for r in skipped.values()), skipped
    # The failed call is recorded in the report, with a reason.
    failed = doc["scan"]["failed_calls"]
    assert skipped or any(c["api"] == api for c in failed), failed
    assert all(c["code"] for c in failed)
    for rule in MUST_CHANGE.get(api, ()):
        if skipped:
            break
        assert rule in changed, (rule, sorted(changed))

