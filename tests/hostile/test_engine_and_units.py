"""No false pass from a failed call, no unreadable policy as "no policy", TLS for every principal,
redaction, visible control characters, special files written in place, diff of unknowns."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading

import pytest

from auditor.history import diff_findings
from auditor.model import ApiError, ObjectState, Status
from auditor.redact import redact
from auditor.report.files import atomic_text, is_special, write_atomic
from auditor.textsafe import document, json_text, terminal
from tests.checks.snap import (
    ACCT,
    V7_ROLE,
    account,
    bucket,
    integ,
    policy,
    snapshot,
)
from tests.checks.snap import (
    run as evaluate,
)

B = "radiology-scans"
OBJ = f"arn:aws:s3:::{B}/*"
TLS = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
       "Resource": [f"arn:aws:s3:::{B}", OBJ], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
V7_GRANT = {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:GetObject",
            "Resource": OBJ}
LIST_FAILED = ApiError("ListObjectsV2", "InternalError", "We encountered an internal error.")


def by_rule(snap):
    out = {}
    for f in evaluate(snap):
        out.setdefault(f.rule_id, []).append(f)
    return out


# ----------------------------------------------------------------------------- engine: failed call -> unknown


def test_failed_listing_makes_listing_rules_unknown_not_absent():
    # With the listing, the .mrxs slide has no companion folder: a fail. Without it (the call failed),
    # the rule must be unknown with the API — never "not applicable" (no finding) and never pass.
    slide = ObjectState(key="slides/a.mrxs", probes={"mirax": {"folder": "slides/a/", "files": 0, "slidedat": False}})
    from auditor.model import BucketState

    listed = BucketState(name=B, account_id=ACCT, region="us-east-1", policy=policy(V7_GRANT), objects=(slide,))
    ok = snapshot(account(listed), integrations=(integ("v7-aws", B),))
    found = by_rule(ok)
    assert found["v7-aws.mrxs-companion"][0].status == Status.FAIL
    failed = snapshot(account(bucket(B, policy=policy(V7_GRANT), keys=(), errors=(LIST_FAILED,))),
                      integrations=(integ("v7-aws", B),))
    found = by_rule(failed)
    (f,) = found["v7-aws.mrxs-companion"]
    assert f.status == Status.UNKNOWN
    assert "ListObjectsV2 failed with InternalError" in f.message
    assert f.evidence["api_error"]["api"] == "ListObjectsV2"
    # Rules that do not depend on the listing are unchanged.
    assert found["baseline.public-policy"][0].status == Status.PASS


def test_failed_listing_turns_a_would_be_pass_of_a_listing_rule_unknown():
    datature = integ("datature", B, role_arn=f"arn:aws:iam::{ACCT}:role/datature")
    snap = snapshot(account(bucket(B, keys=(), errors=(LIST_FAILED,))), integrations=(datature,))
    found = by_rule(snap)
    for rule in ("datature.exif-orientation", "datature.mp4-format"):
        (f,) = found[rule]
        assert f.status == Status.UNKNOWN and "ListObjectsV2" in f.message, (rule, f.message)


def test_collector_failure_of_a_bucket_makes_every_rule_on_it_unknown():
    broken = ApiError("collector", "CollectorError", "KeyError: 'Name'")
    snap = snapshot(account(bucket(B, policy=policy(V7_GRANT, TLS), errors=(broken,)), bucket("other-bucket")),
                    integrations=(integ("v7-aws", B),))
    findings = evaluate(snap)
    # The name is known, and that the bucket exists (ListBuckets listed it).
    on_b = [f for f in findings if f.bucket == B and f.rule_id not in ("v7-aws.bucket-name", "v7-aws.resources")]
    assert len(on_b) > 10 and all(f.status == Status.UNKNOWN for f in on_b), [(f.rule_id, f.status) for f in on_b]
    assert all("CollectorError" in f.message or "collecting this resource failed" in f.message for f in on_b)
    assert any(f.status != Status.UNKNOWN for f in findings if f.bucket == "other-bucket")


@pytest.mark.parametrize("body", [None, {}, [], "text", 3, {"Statement": []}, {"Statement": "x"},
                                  {"Statement": [1]}])
def test_a_policy_that_is_not_a_policy_document_is_unknown_not_no_policy(body):
    # A collector stores None only for NoSuchBucketPolicy; a snapshot can hold anything else.
    from auditor.engine import _readable

    snap = snapshot(account(bucket(B, policy={"Version": "x"})))
    b = snap.accounts[0].buckets[0]
    object.__setattr__(b, "policy", body)  # frozen dataclass: craft the bad value
    if body is None:
        return  # None is "not configured" by definition
    found = by_rule(snap)
    for rule in ("baseline.public-policy", "baseline.tls-only"):
        (f,) = found[rule]
        assert f.status == Status.UNKNOWN and "MalformedPolicy" in f.message, (rule, f.message)
    assert _readable(snap).accounts[0].buckets[0].policy is None


def test_tls_only_needs_the_vendor_denied_too():
    spare_v7 = {**TLS, "Principal": None, "NotPrincipal": {"AWS": V7_ROLE}}
    del spare_v7["Principal"]
    snap = snapshot(account(bucket(B, policy=policy(V7_GRANT, spare_v7))), integrations=(integ("v7-aws", B),))
    (f,) = by_rule(snap)["baseline.tls-only"]
    assert f.status == Status.FAIL, f.message
    assert V7_ROLE in f.message
    # Without the vendor integration the exempted principal is still found in the NotPrincipal.
    (f,) = by_rule(snapshot(account(bucket(B, policy=policy(V7_GRANT, spare_v7)))))["baseline.tls-only"]
    assert f.status == Status.FAIL
    (f,) = by_rule(snapshot(account(bucket(B, policy=policy(V7_GRANT, TLS))),
                            integrations=(integ("v7-aws", B),)))["baseline.tls-only"]
    assert f.status == Status.PASS


def test_permissions_include_kms_decrypt_for_sse_kms_bodies():
    from auditor.permissions import scanner_policy

    read_only, content = scanner_policy()["Statement"]
    assert "kms:Decrypt" not in read_only["Action"] and "s3:GetObject" in read_only["Action"]
    assert content["Action"] == ["kms:Decrypt"]
    assert content["Condition"] == {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}
    assert all(a.split(":")[1].startswith(("Get", "List", "Describe")) for a in read_only["Action"])


# ----------------------------------------------------------------------------- diff


def _doc(rule, status, principal=None, message="m"):
    return {"rule_id": rule, "vendor": "v7-aws", "account_id": ACCT, "bucket": B, "status": status,
            "resource": f"arn:aws:s3:::{B}", "principal": principal, "message": message, "fingerprint": rule + status}


def test_diff_calls_a_fail_that_is_unknown_now_unverified_not_resolved():
    old = {"fp1": _doc("baseline.vendor-excess-privilege", "fail", V7_ROLE), "fp2": _doc("x.y", "fail")}
    # fp1's check could not run: unknown without the principal (another fingerprint); fp2 same fingerprint.
    new = {"fp9": _doc("baseline.vendor-excess-privilege", "unknown", None, "Could not verify: GetBucketPolicy"),
           "fp2": _doc("x.y", "unknown")}
    d = diff_findings(old, new)
    assert d["resolved"] == [] and d["new"] == [] and d["still_failing"] == []
    assert sorted(u["rule_id"] for u in d["unverified"]) == ["baseline.vendor-excess-privilege", "x.y"]
    # A real fix is still "resolved".
    d = diff_findings(old, {"fp2": _doc("x.y", "pass")})
    assert sorted(r["rule_id"] for r in d["resolved"]) == ["baseline.vendor-excess-privilege", "x.y"]


# ----------------------------------------------------------------------------- redaction and text


SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzz"
TOKEN = "FwoGZXIvYXdzEBYaDzzTOKENzzAAAAAAAAAAAA"


@pytest.mark.parametrize("text", [
    f"<Credentials><AccessKeyId>ASIAABCDEFGHIJKLMNOP</AccessKeyId><SecretAccessKey>{SECRET}</SecretAccessKey>"
    f"<SessionToken>{TOKEN}</SessionToken></Credentials>",
    f"b'<AssumeRoleResult><Credentials><SecretAccessKey>{SECRET}</SecretAccessKey><SessionToken>{TOKEN}",  # cut short
    f"<SecretAccessKey>{SECRET}</SecretAccessKey><SessionToken>{TOKEN}</SessionToken>",
    f"{{'SecretAccessKey': '{SECRET}', 'SessionToken': '{TOKEN}'}}",
    f'{{"SecretAccessKey":"{SECRET}","SessionToken":"{TOKEN}"}}',
    f"aws_secret_access_key={SECRET} aws_session_token={TOKEN}",
    f"X-Amz-Security-Token={TOKEN}&Signature={SECRET}",
])
def test_redact_masks_every_form(text):
    out = redact(text)
    assert "zzSECRETzz" not in out and "zzTOKENzz" not in out and "[REDACTED]" in out


def test_terminal_text_shows_controls_and_bidi():
    text = "a\x1b[2Jb\x1b]0;owned\x07c\x1b]8;;http://evil\x1b\\d\x9b\u202ee\u2066\r\x08\nz"
    out = terminal(text)
    assert not any(ord(c) < 0x20 and c != "\n" or 0x7f <= ord(c) <= 0x9f or c in "\u202e\u2066" for c in out)
    assert "\\x1b[2J" in out and "\\u202e" in out and "\\x9b" in out and "\n" in out
    assert "\n" not in terminal("a\nb", one_line=True)
    assert document("x\u202ey\x1b\tz\n") == "x\\u202ey\\x1b\tz\n"
    import json

    dumped = json_text(json.dumps({"k": "\u202e\x9b\u2028"}, ensure_ascii=False))
    assert json.loads(dumped) == {"k": "\u202e\x9b\u2028"} and "\u202e" not in dumped


# ----------------------------------------------------------------------------- special files


def test_fifo_is_written_in_place_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    write_atomic(fifo, "hello\n")
    reader.join(10)
    assert got == [b"hello\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temp file


def test_character_device_is_written_in_place():
    assert is_special("/dev/null") and is_special("-") and is_special("/dev/stdout")
    before = os.stat("/dev/null")
    write_atomic("/dev/null", "x" * 100)
    with atomic_text("/dev/null") as fh:
        fh.write("y")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_dev_full_fails_with_one_line_and_is_not_replaced(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    proc = subprocess.run([sys.executable, "-m", "auditor.cli", "items-list", "--bucket", "b",
                           "--endpoint-url", "http://127.0.0.1:9", "--output", "/dev/full", "-q"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_dash_and_dev_stdout_write_to_standard_output(tmp_path):
    code = ("from auditor.report.files import write_atomic, atomic_text\n"
            "write_atomic('-', 'one\\n')\nwrite_atomic('/dev/stdout', 'two\\n')\n"
            "with atomic_text('-') as fh: fh.write('three\\n')\n")
    out = tmp_path / "out.txt"
    with open(out, "w") as fh:
        subprocess.run([sys.executable, "-c", code], stdout=fh, check=True, timeout=60)
    assert out.read_text() == "one\ntwo\nthree\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_finding_that_turns_unknown_keeps_its_fingerprint():
    known = snapshot(account(bucket(B, policy=policy(V7_GRANT, TLS))), integrations=(integ("v7-aws", B),))
    failed = snapshot(account(bucket(B, errors=(ApiError("GetBucketPolicy", "AccessDenied", "no"),))),
                      integrations=(integ("v7-aws", B),))
    before = {f.rule_id: f for f in evaluate(known)}
    after = {f.rule_id: f for f in evaluate(failed)}
    for rule in ("v7-aws.read-grant", "baseline.public-policy", "baseline.tls-only"):
        assert after[rule].status == Status.UNKNOWN and "GetBucketPolicy failed with AccessDenied" in after[rule].message
        assert after[rule].fingerprint == before[rule].fingerprint, rule
    assert after["v7-aws.read-grant"].principal == V7_ROLE
