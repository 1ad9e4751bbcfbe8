"""A new user's first run: no config, credential and endpoint errors, pipes, flags, content reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from auditor.cli import main
from auditor.snapshot import load_snapshot
from tests.faultproxy import Fault, FaultProxy

V7_ROLE = "arn:aws:iam::258327614892:role/external_s3"


def _v7_bucket(aws, name: str) -> None:
    aws("s3").create_bucket(Bucket=name)
    aws("s3").put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": V7_ROLE}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*"}]}))


def _cli(args, cwd, env_extra=None, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update({"COLUMNS": "100", "AUDITOR_HISTORY": str(cwd / "history.sqlite")}, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "auditor.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180)


def test_scan_without_config_scans_the_account_with_inferred_vendors_and_aws_endpoint_url(
        moto, aws, tmp_path, monkeypatch, capsys):
    _v7_bucket(aws, "ml-images")
    aws("s3").create_bucket(Bucket="ml-thumbs")
    aws("s3").create_bucket(Bucket="logs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)  # no --endpoint-url: the variable alone
    code = main(["scan", "--quiet", "--no-history", "--save-snapshot", "snap.json"])
    out = capsys.readouterr().out
    assert code in (0, 1, 3), out
    doc = json.loads((tmp_path / "auditor-reports" / "findings.json").read_text())
    assert doc["scan"]["buckets"] == 3 and doc["scan"]["accounts"] == ["123456789012"]
    by = {(f["rule_id"], f["bucket"]): f for f in doc["findings"]}
    assert by[("v7-aws.read-grant", "ml-images")]["inferred"] is True
    assert ("baseline.tls-only", "logs") in by
    # s3control's account-level Block Public Access went to the endpoint, not to 123456789012.127.0.0.1
    # (which botocore retries for tens of seconds before giving up).
    account = load_snapshot(tmp_path / "snap.json").accounts[0]
    assert not [e for e in account.errors if e.api == "GetAccountPublicAccessBlock"], account.errors
    assert "3 buckets in 1 account" in out

    # --bucket and --vendor narrow the same zero-config scan; --verbose says what is scanned, how.
    code = main(["scan", "--quiet", "--no-history", "--bucket", "ml-*", "--vendor", "v7-aws", "--format", "json",
                 "--verbose"])
    err = capsys.readouterr().err
    assert f"account default: keys from AWS_ACCESS_KEY_ID, endpoint {moto.endpoint}, buckets ml-*" in err
    assert "collected 2 bucket(s) in" in err
    doc = json.loads((tmp_path / "auditor-reports" / "findings.json").read_text())
    assert {f["bucket"] for f in doc["findings"]} == {"ml-images", "ml-thumbs"}
    assert {f["vendor"] for f in doc["findings"]} == {"baseline", "v7-aws"}


def test_json_to_stdout_and_everything_human_to_stderr(moto, aws, tmp_path):
    _v7_bucket(aws, "piped-bucket")
    env = {"AWS_ENDPOINT_URL": moto.endpoint}
    done = _cli(["scan", "--format", "json", "-o", "-"], tmp_path, env)
    assert done.returncode in (0, 1, 3), done.stderr
    doc = json.loads(done.stdout)  # the whole of stdout is the report
    assert doc["scan"]["buckets"] == 1
    assert "1 bucket in 1 account" not in done.stdout
    assert not (tmp_path / "auditor-reports").exists()
    jq = subprocess.run(["jq", ".scan.buckets"], input=done.stdout, capture_output=True, text=True)
    assert jq.returncode != 0 or jq.stdout.strip() == "1"  # `| jq .` works where jq is installed

    # Without --format: the table goes to stderr, JSON to stdout.
    done = _cli(["scan", "-o", "-", "--no-history"], tmp_path, env)
    assert json.loads(done.stdout)["scan"]["buckets"] == 1
    assert "1 bucket in 1 account" in done.stderr

    # SARIF and CSV the same way; to a file with -o FILE.
    done = _cli(["scan", "--format", "sarif", "-o", "-", "--no-history"], tmp_path, env)
    assert json.loads(done.stdout)["version"] == "2.1.0"
    done = _cli(["scan", "--format", "csv", "-o", "-", "--no-history"], tmp_path, env)
    assert done.stdout.startswith("rule_id,vendor,status")
    done = _cli(["scan", "--format", "json", "-o", "out.json", "--no-history"], tmp_path, env)
    assert json.loads((tmp_path / "out.json").read_text())["scan"]["buckets"] == 1
    assert "wrote out.json" in done.stdout

    # One machine format only, said before any API call.
    done = _cli(["scan", "--format", "json,html", "-o", "-"], tmp_path, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--output -: takes one of json, sarif, csv" in done.stderr


def _one_error_line(done, *needles):
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditor"), done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_no_credentials_bad_profile_and_unreachable_endpoint_are_one_line_and_exit_2(tmp_path):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text("[profile prod]\nregion = us-east-1\n")
    bare = {"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials")}
    creds = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL")

    done = _cli(["scan", "--no-history"], tmp_path, bare, drop=creds)
    _one_error_line(done, "no AWS credentials found", "aws configure", "--profile", "AWS_PROFILE")
    assert done.stdout == ""

    done = _cli(["scan", "--profile", "prdo"], tmp_path, bare, drop=creds)
    _one_error_line(done, "--profile prdo", "did you mean 'prod'", "aws configure --profile prdo")
    done = _cli(["scan"], tmp_path, {**bare, "AWS_PROFILE": "nope"}, drop=creds)
    _one_error_line(done, "AWS_PROFILE nope", "known: prod")
    done = _cli(["check", "v7-aws", "s3://b", "--profile", "prdo"], tmp_path, bare, drop=creds)
    _one_error_line(done, "--profile prdo")

    done = _cli(["scan", "--no-history", "--endpoint-url", "http://127.0.0.1:9"], tmp_path)
    _one_error_line(done, "the endpoint cannot be reached", "--endpoint-url")


def test_expired_credentials_are_one_line_with_the_fix(moto, tmp_path):
    expired = Fault(match=lambda r: True, body_contains=b"Action=GetCallerIdentity", status=403,
                    code="ExpiredToken", message="The security token included in the request is expired")
    proxy = FaultProxy(moto.endpoint, [expired])
    url = proxy.start()
    try:
        done = _cli(["scan", "--no-history", "--endpoint-url", url], tmp_path)
    finally:
        proxy.stop()
    _one_error_line(done, "the AWS credentials have expired", "aws sso login", "--profile")


def test_option_typos_name_the_subcommand_and_suggest(tmp_path, capsys):
    assert main(["scan", "--formt", "json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("auditor scan: error: unknown option --formt — did you mean --format?")
    assert main(["scan", "--format", "jsn"]) == 2
    assert "did you mean 'json'" in capsys.readouterr().err
    assert main(["scan", "--fail-on", "hihg"]) == 2
    assert "did you mean 'high'" in capsys.readouterr().err
    assert main(["scna"]) == 2
    assert "did you mean 'scan'" in capsys.readouterr().err
    assert main(["scan", "--vendor", "v7"]) == 2
    assert "v7-aws" in capsys.readouterr().err


def test_debug_logs_botocore_without_credentials(moto, aws, tmp_path):
    aws("s3").create_bucket(Bucket="debug-bucket")
    secret = "s3cr3t-Value-That-Must-Not-Leak-0123456789"
    token = "Session-Token-That-Must-Not-Leak-9876543210"
    env = {"AWS_ENDPOINT_URL": moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
           "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": token}
    done = _cli(["scan", "--debug", "--no-history", "--format", "json", "-o", "-"], tmp_path, env)
    assert json.loads(done.stdout)["scan"]["buckets"] == 1
    assert "botocore" in done.stderr and "ListBuckets" in done.stderr
    for leak in (secret, token, "AKIAIOSFODNN7EXAMPLE"):
        assert leak not in done.stderr and leak not in done.stdout


def test_no_content_skips_object_reads_and_the_content_rules_are_unknown(moto, aws, tmp_path, capsys):
    from tests.content.media import jpeg

    s3 = aws("s3")
    s3.create_bucket(Bucket="nexus-images")
    s3.put_object(Bucket="nexus-images", Key="images/a.jpg", Body=jpeg(6))
    role = "arn:aws:iam::123456789012:role/datature-nexus"
    cfg = tmp_path / "auditor.toml"
    cfg.write_text(f'[[accounts]]\nname = "main"\nendpoint_url = "{moto.endpoint}"\n'
                   f'[[integrations]]\nvendor = "datature"\naccount = "main"\nbucket = "nexus-images"\n'
                   f'prefix = "images/"\nrole_arn = "{role}"\n')
    out = tmp_path / "out"
    main(["scan", "--config", str(cfg), "--quiet", "--no-history", "--format", "json", "--output-dir", str(out)])
    with_content = {f["rule_id"]: f for f in json.loads((out / "findings.json").read_text())["findings"]
                    if f["bucket"] == "nexus-images"}
    assert with_content["datature.exif-orientation"]["status"] == "fail"

    main(["scan", "--config", str(cfg), "--quiet", "--no-history", "--format", "json", "--output-dir", str(out),
          "--no-content"])
    without = {f["rule_id"]: f for f in json.loads((out / "findings.json").read_text())["findings"]
               if f["bucket"] == "nexus-images"}
    exif = without["datature.exif-orientation"]
    assert exif["status"] == "unknown" and "content reads are off" in exif["message"]

    cfg.write_text(cfg.read_text() + "[scan]\ncontent = false\n")
    main(["scan", "--config", str(cfg), "--quiet", "--no-history", "--format", "json", "--output-dir", str(out)])
    again = {f["rule_id"]: f["status"] for f in json.loads((out / "findings.json").read_text())["findings"]
             if f["bucket"] == "nexus-images"}
    assert again["datature.exif-orientation"] == "unknown"

    capsys.readouterr()
    assert main(["permissions", "--no-content"]) == 0
    assert "s3:GetObject" not in json.loads(capsys.readouterr().out)["Statement"][0]["Action"]
    assert main(["permissions"]) == 0
    assert "s3:GetObject" in json.loads(capsys.readouterr().out)["Statement"][0]["Action"]


@pytest.mark.parametrize("value", ["yes", 1])
def test_scan_content_must_be_a_boolean(value):
    from auditor.config import parse_config
    from auditor.errors import ConfigError

    with pytest.raises(ConfigError, match="content: must be true or false"):
        parse_config(f"[scan]\ncontent = {json.dumps(value)}\n")


def test_init_writes_a_commented_config_that_loads_and_scans(moto, aws, tmp_path, monkeypatch, capsys):
    from auditor.config import load_config

    _v7_bucket(aws, "radiology-scans")
    aws("s3").create_bucket(Bucket="plain-bucket")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    assert main(["init", "--quiet"]) == 0
    assert "wrote auditor.toml: 2 bucket(s), 1 vendor integration(s)" in capsys.readouterr().out
    text = (tmp_path / "auditor.toml").read_text()
    assert "#   plain-bucket" in text and "# concurrency = 16" in text
    config = load_config(tmp_path / "auditor.toml")
    assert [(i.vendor, i.bucket, i.mode) for i in config.integrations] == [("v7-aws", "radiology-scans", "read-only")]
    assert config.accounts[0].endpoint_url == moto.endpoint

    # An existing file is kept unless --force; -o - prints the same text.
    assert main(["init", "--quiet"]) == 2
    assert "already exists — pass --force" in capsys.readouterr().err
    assert main(["init", "--quiet", "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("# auditor.toml, written by `auditor init`")

    # The written config scans: the V7 rules are configured, no longer inferred.
    assert main(["scan", "--quiet", "--no-history", "--format", "json"]) in (0, 1, 3)
    doc = json.loads((tmp_path / "auditor-reports" / "findings.json").read_text())
    grant = next(f for f in doc["findings"] if f["rule_id"] == "v7-aws.read-grant")
    assert grant["inferred"] is False


def test_init_marks_what_it_cannot_read_and_the_file_still_loads():
    from auditor.config import AccountConfig, parse_config
    from auditor.init import render_config
    from auditor.model import Integration, Snapshot

    snap = Snapshot(started_at="2026-01-01T00:00:00Z", finished_at="2026-01-01T00:00:01Z", accounts=(), skipped=())
    datature = Integration(vendor="datature", account="default", bucket="nexus", mode="read-only",
                           options={"prefix": "images/"}, inferred=True)
    text = render_config(snap, [datature], AccountConfig(name="default", profile="prod"))
    assert "# FILL IN role_arn" in text and '# role_arn = "FILL IN"' in text
    config = parse_config(text)
    assert config.integrations == () and config.accounts[0].profile == "prod"
    filled = text.replace('# role_arn = "FILL IN"', 'role_arn = "arn:aws:iam::123456789012:role/datature-nexus"')
    filled = "\n".join(line[2:] if line.startswith("# ") and any(
        line[2:].startswith(k) for k in ("[[integrations]]", "vendor =", "account =", "bucket =", "mode =", "prefix =",
                                         "role_arn =")) else line for line in filled.splitlines())
    assert parse_config(filled).integrations[0].options["role_arn"].endswith("datature-nexus")


def test_from_snapshot_and_help_load_no_aws_client_or_pandas(moto, aws, tmp_path):
    aws("s3").create_bucket(Bucket="offline-bucket")
    snap = tmp_path / "snap.json"
    env = {"AWS_ENDPOINT_URL": moto.endpoint}
    assert _cli(["scan", "-q", "--no-history", "--format", "json", "--save-snapshot", str(snap)], tmp_path, env).returncode in (0, 1, 3)
    probe = ("import sys, runpy; sys.argv = ['auditor'] + sys.argv[1:]\n"
             "from auditor.cli import main\n"
             "code = main(sys.argv[1:])\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'aioboto3', 'aiobotocore', "
             "'pandas', 'moto', 'numpy', 'jinja2'})\n"
             "print('LOADED', heavy, code)\n"
             "print('CATALOGUE', 'policyuniverse' in sys.modules)\n")
    for args in (["scan", "--from-snapshot", str(snap), "--no-history", "--format", "json,sarif", "--output-dir", "o"],
                 ["--help"], ["scan", "--help"]):
        done = subprocess.run([sys.executable, "-c", probe, *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED"))
        assert line.startswith("LOADED []"), (args, line, done.stderr)
        if "--help" in args:  # policyuniverse's catalogue of actions (80 ms, 20 MiB) waits for the first ARN
            assert "CATALOGUE False" in done.stdout, (args, done.stdout)


def test_history_counts_equal_the_scans_own_counts(moto, aws, tmp_path, monkeypatch, capsys):
    for name in ("count-a", "count-b"):
        aws("s3").create_bucket(Bucket=name)
    _v7_bucket(aws, "count-v7")
    cfg = tmp_path / "auditor.toml"
    cfg.write_text(f'[[accounts]]\nname = "main"\nendpoint_url = "{moto.endpoint}"\n'
                   '[[suppress]]\nrule = "baseline.tls-only"\nresource = "arn:aws:s3:::count-a"\nreason = "accepted"\n')
    history = tmp_path / "h.sqlite"
    main(["scan", "--config", str(cfg), "--quiet", "--format", "json", "--output-dir", str(tmp_path),
          "--history", str(history)])
    findings = json.loads((tmp_path / "findings.json").read_text())["findings"]
    capsys.readouterr()
    assert main(["history", "--history", str(history), "--format", "json"]) == 0
    recorded = json.loads(capsys.readouterr().out)[-1]["counts"]
    own = {s: sum(1 for f in findings if f["status"] == s and not f.get("suppressed")) for s in ("fail", "unknown", "pass")}
    assert recorded == own
    assert any(f.get("suppressed") for f in findings)


def test_redaction_of_what_botocore_logs():
    from auditor.credentials import redact

    samples = {
        "Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=abcdef0123456789'": ("AKIAIOSFODNN7EXAMPLE", "abcdef0123456789"),
        "'X-Amz-Security-Token': b'FwoGZXIvYXdzEJr//////////wEaDAnother'": ("FwoGZXIvYXdzEJr",),
        "<Credentials><AccessKeyId>ASIAQWERTYUIOPASDFGH</AccessKeyId><SecretAccessKey>wJalrXUtnFEMI/K7MDENG"
        "</SecretAccessKey><SessionToken>IQoJb3JpZ2luX2VjE</SessionToken>": ("ASIAQWERTYUIOPASDFGH", "wJalrXUtnFEMI",
                                                                             "IQoJb3JpZ2luX2VjE"),
        '{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG", "SessionToken": "IQoJb3JpZ2luX2VjE"}': ("wJalrXUtnFEMI",
                                                                                            "IQoJb3JpZ2luX2VjE"),
        "https://s3/?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F2026&X-Amz-Signature=0a1b2c3d": ("AKIAIOSFODNN7EXAMPLE",
                                                                                            "0a1b2c3d"),
    }
    for text, secrets in samples.items():
        clean = redact(text)
        for secret in secrets:
            assert secret not in clean, (secret, clean)


def test_an_endpoint_that_is_not_a_url_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "--endpoint-url", "localhost:9000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--endpoint-url localhost:9000: not an http(s) URL" in err
    monkeypatch.setenv("AWS_ENDPOINT_URL", "minio:9000")
    assert main(["scan"]) == 2
    assert "AWS_ENDPOINT_URL minio:9000: not an http(s) URL" in capsys.readouterr().err


def test_per_service_endpoint_variables_work_like_one_endpoint(moto, aws, tmp_path, monkeypatch, capsys):
    aws("s3").create_bucket(Bucket="per-service")
    monkeypatch.chdir(tmp_path)
    for service in ("S3", "S3_CONTROL", "STS", "IAM", "KMS"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", moto.endpoint)
    assert main(["scan", "--quiet", "--no-history", "--format", "json", "--save-snapshot", "snap.json"]) in (0, 1, 3)
    account = load_snapshot(tmp_path / "snap.json").accounts[0]
    assert [b.name for b in account.buckets] == ["per-service"]
    assert not [e for e in account.errors if e.api == "GetAccountPublicAccessBlock"], account.errors


def test_a_wasabi_endpoint_without_a_config_is_scanned_as_wasabi():
    import argparse

    from auditor.cli import _apply_account_flags, _zero_config

    def account(url):
        ns = argparse.Namespace(endpoint_url=url, profile=None, region=None, bucket=["ml-*"], no_content=False)
        return _apply_account_flags(_zero_config(ns), ns).accounts[0]

    assert account("https://s3.eu-central-1.wasabisys.com").provider == "wasabi"
    assert account("https://s3.wasabisys.com").buckets == ("ml-*",)
    assert account("http://127.0.0.1:9000").provider == "aws"
    assert account("https://wasabisys.com.example.org").provider == "aws"
