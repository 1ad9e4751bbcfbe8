"""The command line under bad conditions: history that cannot be written, SIGTERM, policies that
are JSON but not policies, pagination that repeats itself, bad regions and endpoints."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor import machine
from auditor.cli import _on_sigterm, _Terminated, main
from auditor.collect import collect
from auditor.config import parse_config
from auditor.errors import ConfigError
from auditor.scan import evaluate_snapshot
from auditor.snapshot import save_snapshot
from tests.checks.snap import account, bucket, policy, snapshot
from tests.faultproxy import Fault, FaultProxy, fault_for, on_api

PUBLIC = {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
          "Resource": "arn:aws:s3:::hist-bucket/*"}


def _snapshot_file(tmp_path: Path) -> Path:
    path = tmp_path / "snap.json"
    save_snapshot(snapshot(account(bucket("hist-bucket", policy=policy(PUBLIC)))), path)
    return path


# ----------------------------------------------------------------------------- history


def test_history_that_cannot_be_written_costs_one_line_and_exit_2_after_the_reports(tmp_path, monkeypatch, capsys):
    snap = _snapshot_file(tmp_path)

    def full(self, result):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("auditor.history.History.record", full)
    code = main(["scan", "--from-snapshot", str(snap), "--format", "json,csv", "--output-dir", str(tmp_path / "out"),
                 "--history", str(tmp_path / "h.sqlite"), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert "disk is full" in err and "the reports were written" in err and len(err.strip().splitlines()) == 1
    assert json.loads((tmp_path / "out" / "findings.json").read_text())["findings"]
    assert (tmp_path / "out" / "findings.csv").exists()


def test_history_that_is_not_a_database_still_lets_the_reports_out(tmp_path, capsys):
    snap = _snapshot_file(tmp_path)
    bad = tmp_path / "h.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    code = main(["scan", "--from-snapshot", str(snap), "--format", "json", "--output-dir", str(tmp_path / "out"),
                 "--history", str(bad), "-q"])
    assert code == 2
    assert "not a usable history database" in capsys.readouterr().err
    assert (tmp_path / "out" / "findings.json").exists()


def test_auditor_history_is_checked_before_any_api_call(tmp_path, monkeypatch, capsys):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("AUDITOR_HISTORY", str(tmp_path / "a-file" / "history.sqlite"))
    (tmp_path / "auditor.toml").write_text('[[accounts]]\nname = "x"\nendpoint_url = "http://127.0.0.1:9"\n')
    started = time.monotonic()
    code = main(["scan", "--config", str(tmp_path / "auditor.toml"), "--format", "json",
                 "--output-dir", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "$AUDITOR_HISTORY" in err and "is a file" in err
    assert not (tmp_path / "out").exists() and time.monotonic() - started < 10


# ----------------------------------------------------------------------------- SIGTERM


def test_items_list_leaves_nothing_after_sigterm(moto, aws, tmp_path):
    aws("s3").create_bucket(Bucket="slow-bucket")
    aws("s3").put_object(Bucket="slow-bucket", Key="studies/a.dcm", Body=b"x")
    proxy = FaultProxy(moto.endpoint, [Fault(match=on_api("ListObjectsV2"), status=0, delay=6)])
    url = proxy.start()
    try:
        target = tmp_path / "new" / "deeper" / "items.json"
        proc = subprocess.Popen([sys.executable, "-m", "auditor.cli", "items-list", "--bucket", "slow-bucket",
                                 "--endpoint-url", url, "--output", str(target), "-q"], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while proxy.apis["ListObjectsV2"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proxy.apis["ListObjectsV2"] >= 1
        assert any((tmp_path / "new" / "deeper").glob(".items.json.*.tmp"))  # the write was under way
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proxy.stop()
    assert proc.returncode == 143, err
    assert b"Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [], list(tmp_path.rglob("*"))


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_scan_stopped_while_its_requests_are_in_flight_exits_cleanly(moto, aws, tmp_path, sent, code):
    """The signal reaches the scan while the event loop waits on slow answers (uvloop runs Python's
    signal handlers inside one of its callbacks): it stops with the signal's code, no traceback and
    no report."""
    for name in ("stop-a", "stop-b", "stop-c"):
        aws("s3").create_bucket(Bucket=name)
    proxy = FaultProxy(moto.endpoint, [Fault(match=on_api("GetBucketPolicy"), status=0, delay=6)])
    url = proxy.start()
    try:
        (tmp_path / "auditor.toml").write_text(f'[[accounts]]\nname = "main"\nendpoint_url = "{url}"\n')
        proc = subprocess.Popen([sys.executable, "-m", "auditor.cli", "scan", "--config", "auditor.toml",
                                 "--output-dir", "out", "-q"], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while proxy.apis["GetBucketPolicy"] < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proxy.apis["GetBucketPolicy"] == 3  # all three waiting on their answers
        proc.send_signal(sent)
        out, err = proc.communicate(timeout=60)
    finally:
        proxy.stop()
    assert proc.returncode == code, err
    assert err == b""  # no traceback, no warning about calls left unsent
    assert not (tmp_path / "out").exists()


def test_items_list_with_a_repeating_page_token_fails_in_one_line_and_writes_nothing(moto, aws, tmp_path):
    aws("s3").create_bucket(Bucket="loop-bucket")
    aws("s3").put_object(Bucket="loop-bucket", Key="a.dcm", Body=b"x")
    proxy = FaultProxy(moto.endpoint, [fault_for("ListObjectsV2", "repeated-token")])
    url = proxy.start()
    try:
        done = subprocess.run([sys.executable, "-m", "auditor.cli", "items-list", "--bucket", "loop-bucket",
                               "--endpoint-url", url, "--output", "items.json"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
    finally:
        proxy.stop()
    assert done.returncode == 2 and "RepeatedPageToken" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "items.json").exists()
    assert proxy.apis["ListObjectsV2"] == 2  # stopped at the first repeat


# ----------------------------------------------------------------------------- policies that are not policies


@pytest.mark.parametrize("body", ["null", "{}", "[]", '"text"', '{"Statement": 5}'])
def test_policy_json_that_is_not_a_policy_is_unknown_not_no_policy(moto, aws, body):
    s3 = aws("s3")
    s3.create_bucket(Bucket="odd-policy")
    s3.put_bucket_policy(Bucket="odd-policy", Policy=json.dumps({"Version": "2012-10-17", "Statement": [PUBLIC]}))
    other = "other-bucket"
    s3.create_bucket(Bucket=other)
    # The answer's body is the policy text itself: replace it.
    proxy = FaultProxy(moto.endpoint, [Fault(match=lambda r: on_api("GetBucketPolicy")(r) and r.path == "/odd-policy",
                                             status=0, rewrite=lambda d: body.encode())])
    url = proxy.start()
    try:
        snap = collect(parse_config(f'[[accounts]]\nname = "m"\nendpoint_url = "{url}"\n'))
    finally:
        proxy.stop()
    assert not snap.skipped
    found = {(f.rule_id, f.bucket): f for f in evaluate_snapshot(snap).findings}
    f = found[("baseline.public-policy", "odd-policy")]
    assert f.status.value == "unknown" and "MalformedPolicy" in f.message, f.message
    assert found[("baseline.public-policy", other)].status.value == "pass"  # the other bucket is unaffected


# ----------------------------------------------------------------------------- config values


@pytest.mark.parametrize("key,value,needle", [
    ("regions", '["us-east-1; rm -rf /"]', "not a region name"),
    ("regions", '["US_EAST_1"]', "not a region name"),
    ("endpoint_url", '"https://user:hunter2@s3.example.com"', "must not carry a user name or password"),
    ("endpoint_url", '"http://host:99999"', "Port out of range"),
    ("endpoint_url", '"http:///nohost"', "has no host name"),
    ("endpoint_url", '"ftp://s3.example.com"', "not an http(s) URL"),
])
def test_regions_and_endpoint_url_are_validated_at_load(key, value, needle):
    with pytest.raises(ConfigError) as e:
        parse_config(f'[[accounts]]\nname = "a"\n{key} = {value}\n')
    assert needle in str(e.value) and "hunter2" not in str(e.value)
    parse_config('[[accounts]]\nname = "a"\nregions = ["eu-west-1", "us-gov-west-1"]\nendpoint_url = "http://127.0.0.1:9000"\n')


def test_a_crafted_snapshot_ends_in_one_line_and_exit_2(tmp_path):
    cases = {
        "deep.json": '{"schema_version": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "nan.json": '{"schema_version": 1, "started_at": "a", "finished_at": "b", "accounts": [], "x": NaN}',
        "surrogate.json": '{"schema_version": 1, "started_at": "\\ud800", "finished_at": "b"}',
        "type.json": '{"schema_version": 1, "started_at": "a", "finished_at": "b", "accounts": [{"name": 1, "account_id": "1"}]}',
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "bytes.json").write_bytes(b'{"schema_version": 1, "started_at": "\xff\xfe"}')
    for name in [*cases, "bytes.json"]:
        done = subprocess.run([sys.executable, "-m", "auditor.cli", "scan", "--from-snapshot", name, "--no-history",
                               "--format", "json", "--output-dir", "out"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2, (name, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, (name, done.stderr)
        assert name in done.stderr
        assert not (tmp_path / "out").exists()


def test_diff_shows_a_fail_that_could_not_be_verified_not_resolved(tmp_path, capsys):
    from tests.checks.snap import ApiError

    first = _snapshot_file(tmp_path)
    second = tmp_path / "snap2.json"
    save_snapshot(snapshot(account(bucket("hist-bucket", errors=(ApiError("GetBucketPolicy", "AccessDenied", "no"),)))),
                  second)
    history = ["--history", str(tmp_path / "h.sqlite")]
    for snap in (first, second):
        assert main(["scan", "--from-snapshot", str(snap), "--format", "json", "--output-dir", str(tmp_path / "o"),
                     "-q", *history]) in (1, 3)
    capsys.readouterr()
    assert main(["diff", *history]) == 0
    shown = capsys.readouterr().out
    assert "Resolved: none" in shown and "Could not be verified" in shown and "baseline.public-policy" in shown
    assert main(["diff", "--format", "json", *history]) == 0
    changes = json.loads(capsys.readouterr().out)
    assert [u["rule_id"] for u in changes["unverified"] if u["rule_id"] == "baseline.public-policy"]
    assert not [r for r in changes["resolved"] if r["rule_id"] == "baseline.public-policy"]


def test_a_crafted_config_ends_in_one_line_and_exit_2(tmp_path):
    cases = {
        "deep.toml": ("x = " + "[" * 100_000 + "]" * 100_000).encode(),
        "nan.toml": b'[scan]\nconcurrency = nan\n[[accounts]]\nname = "a"\n',
        "surrogate.toml": b'[[accounts]]\nname = "a\\ud800"\n',
        "bytes.toml": b'[[accounts]]\nname = "\xff\xfe"\n',
        "types.toml": b'[[accounts]]\nname = 5\n',
        "inf.toml": b'[scan]\ntimeout = inf\n[[accounts]]\nname = "a"\n',
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        done = subprocess.run([sys.executable, "-m", "auditor.cli", "scan", "--config", name, "--no-history",
                               "--format", "json", "--output-dir", "out"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2, (name, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, (name, done.stderr)
        assert name in done.stderr
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("target", ["-", "/dev/stdout"])
def test_items_list_to_standard_output_writes_the_json_alone(moto, aws, tmp_path, target):
    aws("s3").create_bucket(Bucket="out-bucket")
    aws("s3").put_object(Bucket="out-bucket", Key="studies/a.dcm", Body=b"x")
    out = tmp_path / "captured.json"
    with open(out, "wb") as fh:
        done = subprocess.run([sys.executable, "-m", "auditor.cli", "items-list", "--bucket", "out-bucket",
                               "--endpoint-url", moto.endpoint, "--output", target], cwd=tmp_path, stdout=fh,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text()) == [{"name": "studies/a.dcm", "items": ["studies/a.dcm"]}]
    assert "wrote 1 datapoint" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["captured.json"]  # no temp file, nothing replaced


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000,
                                  b'{"images": [{"id": [1], "file_name": "a.png"}], "annotations": [], "categories": []}'])
def test_a_hostile_coco_file_fails_coco_format_and_touches_nothing_else(moto, aws, body):
    s3 = aws("s3")
    s3.create_bucket(Bucket="coco-bucket")
    s3.put_object(Bucket="coco-bucket", Key="cats/images/a.png", Body=b"x")
    s3.put_object(Bucket="coco-bucket", Key="cats/annotations.json", Body=body)
    s3.put_object(Bucket="coco-bucket", Key="cats/predictions.json", Body=b"[]")
    snap = collect(parse_config(f"""
[[accounts]]
name = "m"
endpoint_url = "{moto.endpoint}"

[[integrations]]
vendor = "tenyks"
account = "m"
bucket = "coco-bucket"
user = "tenyks-reader"
dataset = "cats"
images_dir = "images"
"""))
    (b,) = snap.accounts[0].buckets
    assert not [e for e in b.errors if e.api == "collector"], b.errors
    found = {f.rule_id: f for f in evaluate_snapshot(snap).findings}
    assert found["tenyks.coco-format"].status.value == "fail", found["tenyks.coco-format"].message
    assert found["baseline.public-policy"].status.value == "pass"


@pytest.mark.parametrize("kind", ["garbled", "short", "truncated"])
def test_one_bad_answer_about_one_bucket_stays_with_that_bucket(moto, aws, kind):
    s3 = aws("s3")
    for name in ("good-one", "bad-one", "good-two"):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    fault = fault_for("GetBucketVersioning", kind)
    aimed = Fault(match=lambda r: fault.match(r) and r.path == "/bad-one", status=fault.status,
                  rewrite=fault.rewrite, transport=fault.transport)
    proxy = FaultProxy(moto.endpoint, [aimed])
    url = proxy.start()
    try:
        snap = collect(parse_config(f'[scan]\nmax_attempts = 1\n[[accounts]]\nname = "m"\nendpoint_url = "{url}"\n'))
    finally:
        proxy.stop()
    assert aimed.hits >= 1 and not snap.skipped
    buckets = {b.name: b for b in snap.accounts[0].buckets}
    assert [e.api for e in buckets["bad-one"].errors] == ["GetBucketVersioning"]
    assert buckets["good-one"].errors == () and buckets["good-two"].errors == ()
    assert buckets["good-one"].versioning == "Enabled" and buckets["bad-one"].versioning is None


@pytest.mark.parametrize("run", [asyncio.run, machine.run], ids=["asyncio", "scan-loop"])
def test_sigterm_inside_an_event_loop_callback_stops_the_run(run):
    """A signal handler runs wherever the main thread is, often inside one of the loop's callbacks
    (answers arriving, timers; uvloop runs every handler inside one). What it raises must stop the
    run there, not be logged by the loop while the scan goes on."""
    previous = _on_sigterm()

    def callback() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(10_000))  # the handler runs here, inside the callback

    async def scan() -> str:
        asyncio.get_running_loop().call_soon(callback)
        await asyncio.sleep(5)
        return "went on"

    started = time.monotonic()
    try:
        with pytest.raises(_Terminated):
            run(scan())
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert time.monotonic() - started < 4
