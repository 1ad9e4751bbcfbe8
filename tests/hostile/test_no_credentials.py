"""No credential reaches any output: planted in answers the scanner cannot read, through every
command and every output (terminal, reports, snapshot, history, items list)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.faultproxy import Fault, FaultProxy, on_api

SECRET = "PLANTEDsecretACCESSkey/0123456789abcdefXYZ"
TOKEN = "PLANTEDsessionTOKEN0123456789abcdefghijklmnopqrstuvwxyzPLANTED"
KEY_ID = "ASIAPLANTED000000001"
PLANTED = (SECRET, TOKEN, "PLANTEDsecret", "PLANTEDsession", KEY_ID)


def _cut_assume_role(data: bytes) -> bytes:
    """Moto's AssumeRole answer with the planted credentials, cut short right after the token."""
    data = re.sub(rb"<SecretAccessKey>[^<]*</SecretAccessKey>", f"<SecretAccessKey>{SECRET}</SecretAccessKey>".encode(), data)
    data = re.sub(rb"<SessionToken>[^<]*</SessionToken>", f"<SessionToken>{TOKEN}</SessionToken>".encode(), data)
    data = re.sub(rb"<AccessKeyId>[^<]*</AccessKeyId>", f"<AccessKeyId>{KEY_ID}</AccessKeyId>".encode(), data)
    return data[: data.index(b"</SessionToken>") + len(b"</SessionToken>")]


GARBLED_WITH_CREDENTIALS = (
    b"<<<garbled <Credentials><AccessKeyId>" + KEY_ID.encode() + b"</AccessKeyId><SecretAccessKey>"
    + SECRET.encode() + b"</SecretAccessKey><SessionToken>" + TOKEN.encode() + b"</SessionToken>"
    + b" {'SecretAccessKey': '" + SECRET.encode() + b"'} aws_session_token=" + TOKEN.encode())


def _faults() -> list[Fault]:
    return [
        Fault(match=lambda r: True, body_contains=b"Action=AssumeRole", status=0, rewrite=_cut_assume_role),
        Fault(match=on_api("GetBucketPolicy"), status=0, rewrite=lambda d: GARBLED_WITH_CREDENTIALS),
        Fault(match=on_api("ListObjectsV2"), status=0, rewrite=lambda d: GARBLED_WITH_CREDENTIALS),
        Fault(match=lambda r: True, body_contains=b"Action=GetAccountAuthorizationDetails", status=0,
              rewrite=lambda d: GARBLED_WITH_CREDENTIALS),
        Fault(match=on_api("GetBucketCors"), status=403, code="AccessDenied",
              message=f"denied; SecretAccessKey={SECRET} SessionToken: {TOKEN}"),
    ]


def _run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor.cli", *args], cwd=cwd, env=env, capture_output=True,
                          timeout=300)


def _assert_clean(text: bytes, where: str) -> None:
    for secret in PLANTED:
        assert secret.encode() not in text, f"{secret!r} leaked into {where}"
    assert b"Traceback" not in text, where


def test_planted_credentials_reach_no_output(moto, aws, tmp_path):
    s3 = aws("s3")
    s3.create_bucket(Bucket="cred-bucket")
    s3.put_object(Bucket="cred-bucket", Key="a.jpg", Body=b"x")
    proxy = FaultProxy(moto.endpoint, _faults())
    url = proxy.start()
    # The scanner's own credentials are planted too: they must not be printed either.
    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": TOKEN,
           "AUDITOR_HISTORY": str(tmp_path / "history.sqlite"), "COLUMNS": "120"}
    (tmp_path / "auditor.toml").write_text(f"""
[scan]
max_attempts = 1
timeout = 2

[[accounts]]
name = "assumed"
role_arn = "arn:aws:iam::123456789012:role/audit"
endpoint_url = "{url}"

[[accounts]]
name = "plain"
endpoint_url = "{url}"

[[integrations]]
vendor = "redbrick"
account = "plain"
bucket = "cred-bucket"
user = "redbrick-user"
""")
    runs = []
    try:
        everything = ["--format", "table,json,csv,html,sarif", "--output-dir", "out"]
        runs.append(("scan", _run(["scan", *everything, "--save-snapshot", "snap.json"], tmp_path, env)))
        runs.append(("scan again", _run(["scan", *everything], tmp_path, env)))
        runs.append(("from snapshot", _run(["scan", "--from-snapshot", "snap.json", *everything], tmp_path, env)))
        runs.append(("history", _run(["history"], tmp_path, env)))
        runs.append(("diff", _run(["diff"], tmp_path, env)))
        runs.append(("diff json", _run(["diff", "--format", "json"], tmp_path, env)))
        runs.append(("check", _run(["check", "v7-aws", "s3://cred-bucket", "--endpoint-url", url,
                                    "--format", "table,json,csv,html,sarif", "--output-dir", "check-out"], tmp_path, env)))
        runs.append(("plan", _run(["plan", "v7-aws", "s3://cred-bucket", "--endpoint-url", url,
                                   "--output-dir", "plan-out"], tmp_path, env)))
        runs.append(("items-list (config, assumed role)", _run(
            ["items-list", "--config", "auditor.toml", "--output", "items.json"], tmp_path, env)))
        runs.append(("items-list", _run(["items-list", "--bucket", "cred-bucket", "--endpoint-url", url,
                                         "--output", "items2.json"], tmp_path, env)))
    finally:
        proxy.stop()
    assert proxy.apis["AssumeRole"] >= 1 and proxy.apis["GetBucketPolicy"] >= 1
    for name, run in runs:
        _assert_clean(run.stdout, f"{name} stdout")
        _assert_clean(run.stderr, f"{name} stderr")
        assert run.returncode != 1 or b"fail" in run.stdout.lower(), (name, run.stderr)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {"findings.json", "findings.csv", "report.html", "findings.sarif", "snap.json", "history.sqlite",
            "plan.json"} <= {p.name for p in written}
    for path in written:
        if path.name == "auditor.toml":
            continue
        _assert_clean(path.read_bytes(), str(path.relative_to(tmp_path)))
    # The failures are still reported, with their reasons.
    scan_out = runs[0][1].stdout.decode()
    assert "skipped account assumed" in scan_out and "[REDACTED]" in (tmp_path / "out" / "findings.json").read_text()
