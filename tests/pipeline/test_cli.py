"""The command line end to end: exit codes, reports on disk, config errors, snapshots, demo."""

from __future__ import annotations

import importlib.resources
import json

import jsonschema
import pytest

from auditor.cli import main

SCHEMA = json.loads(importlib.resources.files("auditor.schema").joinpath("findings.schema.json").read_text())


def validate(document: dict) -> None:
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())


def write_config(tmp_path, endpoint, integrations=""):
    path = tmp_path / "auditor.toml"
    path.write_text(f'[[accounts]]\nname = "main"\nendpoint_url = "{endpoint}"\n{integrations}')
    return path


V7 = """
[[integrations]]
vendor = "v7-aws"
account = "main"
bucket = "{bucket}"
"""


def test_scan_against_moto_gives_the_right_statuses(moto, aws, tmp_path, capsys):
    s3 = aws("s3")
    s3.create_bucket(Bucket="good-v7-bucket")
    s3.put_bucket_cors(Bucket="good-v7-bucket", CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://darwin.v7labs.com"], "AllowedHeaders": ["*"]}]})
    s3.put_public_access_block(Bucket="good-v7-bucket", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.create_bucket(Bucket="bad.v7.bucket")
    s3.put_bucket_cors(Bucket="bad.v7.bucket", CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["*"]}]})
    config = write_config(tmp_path, moto.endpoint, V7.format(bucket="good-v7-bucket") + V7.format(bucket="bad.v7.bucket"))
    out = tmp_path / "out"
    code = main(["scan", "--config", str(config), "--format", "table,json", "--output-dir", str(out), "--quiet"])
    doc = json.loads((out / "findings.json").read_text())
    validate(doc)
    status = {(f["rule_id"], f["bucket"]): f["status"] for f in doc["findings"]}
    assert status[("v7-aws.bucket-name", "good-v7-bucket")] == "pass"
    assert status[("v7-aws.bucket-name", "bad.v7.bucket")] == "fail"
    assert status[("v7-aws.cors", "good-v7-bucket")] == "pass"
    # CORS "*" lets V7 in (vendor rule passes) but is too wide (baseline fails, high because of PUT).
    assert status[("v7-aws.cors", "bad.v7.bucket")] == "pass"
    wildcard = next(f for f in doc["findings"] if f["rule_id"] == "baseline.cors-wildcard-origin" and f["bucket"] == "bad.v7.bucket")
    assert (wildcard["status"], wildcard["severity"]) == ("fail", "high")
    assert status[("baseline.cors-wildcard-origin", "good-v7-bucket")] == "pass"
    assert status[("baseline.block-public-access", "good-v7-bucket")] == "pass"
    assert status[("baseline.block-public-access", "bad.v7.bucket")] == "fail"
    assert doc["scan"]["buckets"] == 2 and doc["scan"]["accounts"] == ["123456789012"]
    assert code == 1  # high fails, default --fail-on high
    table = capsys.readouterr().out
    assert "v7-aws.bucket-name" in table and "2 buckets in 1 account" in table

    # No grant for V7 at all: the critical read-grant fails, so even --fail-on critical exits 1;
    # --fail-on never ignores fails (0, or 3 if something could not be verified).
    assert status[("v7-aws.read-grant", "good-v7-bucket")] == "fail"
    assert main(["scan", "--config", str(config), "--format", "json", "--output-dir", str(out), "--quiet",
                 "--fail-on", "critical"]) == 1
    assert main(["scan", "--config", str(config), "--format", "json", "--output-dir", str(out), "--quiet",
                 "--fail-on", "never"]) in (0, 3)


def test_snapshot_round_trip_evaluates_offline_to_the_same_findings(moto, aws, tmp_path):
    aws("s3").create_bucket(Bucket="evidence-bucket")
    config = write_config(tmp_path, moto.endpoint, V7.format(bucket="evidence-bucket"))
    snap = tmp_path / "snap.json"
    main(["scan", "--config", str(config), "--format", "json", "--output-dir", str(tmp_path / "a"), "--quiet",
          "--save-snapshot", str(snap)])
    moto.reset()  # nothing left to call: the second run must not need the emulator
    (tmp_path / "auditor.toml").unlink()
    code = main(["scan", "--from-snapshot", str(snap), "--format", "json", "--output-dir", str(tmp_path / "b"), "--quiet"])
    first = json.loads((tmp_path / "a" / "findings.json").read_text())["findings"]
    second = json.loads((tmp_path / "b" / "findings.json").read_text())["findings"]
    assert first == second and any(f["rule_id"] == "v7-aws.cors" for f in second)
    assert code == 1


@pytest.mark.parametrize("text, needle", [
    ("[[accounts]]\nname = 'a'\nprofle = 'x'\n", "accounts[0].profle: unknown key 'profle'"),
    ("[[accounts\n", "invalid TOML"),
])
def test_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, text, needle):
    config = tmp_path / "auditor.toml"
    config.write_text(text)
    out = tmp_path / "out"
    code = main(["scan", "--config", str(config), "--output-dir", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert needle in err and str(config) in err
    assert len(err.splitlines()) == 1
    assert not out.exists()


def test_a_missing_named_config_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "--config", "auditor.toml"]) == 2
    err = capsys.readouterr().err
    assert "auditor.toml: config file not found" in err and "auditor init" in err


def test_unknown_format_is_a_usage_error(capsys):
    assert main(["scan", "--format", "table,pdf"]) == 2
    assert "unknown format pdf" in capsys.readouterr().err


def test_rules_lists_the_catalog_as_json(capsys):
    assert main(["rules", "--format", "json"]) == 0
    rules = json.loads(capsys.readouterr().out)
    ids = {r["id"] for r in rules}
    assert {"v7-aws.cors", "datature.cors", "redbrick.cors", "baseline.block-public-access"} <= ids
    assert all(r["reference"] and r["severity"] for r in rules)
    by_id = {r["id"]: r for r in rules}
    assert by_id["redbrick.cors"]["kind"] == "readiness" and by_id["baseline.public-policy"]["kind"] == "exposure"
    assert by_id["redbrick.cors"]["guide"] == {
        "title": 'RedBrick AI, "Configuring AWS s3"', "section": "S3 Bucket Settings",
        "url": "https://docs.redbrickai.com/importing-data/import-cloud-data/configuring-aws-s3"}
    assert 'section "S3 Bucket Settings"' in by_id["redbrick.cors"]["reference"]


def test_demo_runs_offline_and_writes_a_schema_valid_report(tmp_path, capsys):
    code = main(["demo", "--format", "table,json", "--output-dir", str(tmp_path)])
    assert code == 0
    doc = json.loads((tmp_path / "findings.json").read_text())
    validate(doc)
    statuses = {(f["vendor"], f["status"]) for f in doc["findings"]}
    for vendor in ("v7-aws", "v7-wasabi", "datature", "tenyks", "redbrick", "baseline"):
        assert (vendor, "fail") in statuses, vendor
        assert (vendor, "pass") in statuses, vendor
    by_rule = {(f["rule_id"], f["bucket"]): f["status"] for f in doc["findings"]}
    # Content failures the demo is built to show.
    assert by_rule[("datature.exif-orientation", "demo-datature-assets")] == "fail"
    assert by_rule[("datature.mp4-format", "demo-datature-video")] == "fail"
    assert by_rule[("tenyks.coco-format", "demo-tenyks-data")] == "fail"
    assert by_rule[("baseline.object-kms", "v7.scans.legacy")] == "fail"
    assert "Demo done" in capsys.readouterr().out


def test_an_output_that_cannot_be_written_is_a_usage_error_before_any_api_call(tmp_path, capsys):
    # An endpoint nobody listens on: any API call would end in a skipped account (exit 3), not exit 2.
    config = write_config(tmp_path, "http://127.0.0.1:9")
    (tmp_path / "afile").write_text("not a directory")
    cases = [
        (["--output-dir", str(tmp_path / "afile")], "--output-dir", "exists and is not a directory"),
        (["--output-dir", str(tmp_path / "afile" / "reports")], "--output-dir", "is a file"),
        (["--save-snapshot", str(tmp_path)], "--save-snapshot", "is a directory"),
        (["--save-snapshot", str(tmp_path / "afile" / "snap.json")], "--save-snapshot", "is a file"),
        (["--history", str(tmp_path / "afile" / "history.sqlite")], "--history", "is a file"),
    ]
    for extra, flag, problem in cases:
        history = [] if "--history" in extra else ["--no-history"]
        code = main(["scan", "--config", str(config), "--quiet", *history, *extra])
        err = capsys.readouterr().err.strip()
        assert code == 2, (extra, err)
        assert len(err.splitlines()) == 1 and err.startswith(f"auditor: error: {flag} ") and problem in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "auditor.toml"]  # nothing written


def test_a_report_that_fails_to_write_leaves_no_partial_file(moto, aws, tmp_path, capsys):
    aws("s3").create_bucket(Bucket="some-bucket")
    config = write_config(tmp_path, moto.endpoint)
    out = tmp_path / "out"
    (out / "findings.csv").mkdir(parents=True)  # the CSV cannot be renamed into place
    code = main(["scan", "--config", str(config), "--quiet", "--no-history", "--format", "json,csv",
                 "--output-dir", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and f"{out / 'findings.csv'}: cannot write" in err, err
    validate(json.loads((out / "findings.json").read_text()))  # written before, and whole
    assert sorted(p.name for p in out.iterdir()) == ["findings.csv", "findings.json"]  # no temporary file left


def test_a_damaged_snapshot_is_one_line_naming_the_file_and_the_field(tmp_path, capsys):
    snap = tmp_path / "evidence.json"
    snap.write_text(json.dumps({"schema_version": 1, "started_at": "s", "finished_at": "f",
                                "accounts": [{"name": "a", "account_id": "1", "buckets": "not-a-list"}]}))
    code = main(["scan", "--from-snapshot", str(snap), "--no-history", "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"auditor: error: {snap}: ") and "buckets: expected a list" in err and " — " in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("account, field, words", [
    ({"name": "a", "account_id": True}, "accounts[0].account_id", "expected a string, got a boolean"),
    ({"name": [1, 2], "account_id": "1"}, "accounts[0].name", "expected a string, got a list"),
    ({"name": "a", "account_id": "1", "buckets": [{"name": "b", "account_id": "1", "versioning": 3}]},
     "accounts[0].buckets[0].versioning", "expected a string, got a number"),
    ({"name": "a", "account_id": "1", "buckets": [{"name": "b", "account_id": "1",
                                                    "listings": [{"prefix": "", "keys_seen": "9", "truncated": False}]}]},
     "accounts[0].buckets[0].listings[0].keys_seen", "expected an integer, got a string"),
])
def test_a_snapshot_scalar_of_the_wrong_type_is_one_line_naming_the_field(tmp_path, capsys, account, field, words):
    snap = tmp_path / "evidence.json"
    snap.write_text(json.dumps({"schema_version": 1, "started_at": "s", "finished_at": "f", "accounts": [account]}))
    code = main(["scan", "--from-snapshot", str(snap), "--no-history", "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"auditor: error: {snap}: Snapshot.{field}: {words}"), err


def test_a_probe_fact_of_the_wrong_type_is_one_line_naming_the_field(tmp_path, capsys):
    snap = tmp_path / "evidence.json"
    obj = {"key": "a.jpg", "probes": {"exif": {"orientation": "six"}}}
    snap.write_text(json.dumps({"schema_version": 1, "started_at": "s", "finished_at": "f", "accounts": [
        {"name": "a", "account_id": "1", "buckets": [{"name": "b", "account_id": "1", "objects": [obj]}]}]}))
    code = main(["scan", "--from-snapshot", str(snap), "--no-history", "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "accounts[0].buckets[0].objects[0].probes.exif.orientation: expected an integer or null, got a string" in err
