"""Labelbox's IAM delegated access, added as one vendor pack (rules/labelbox.toml) with no code change:
each of its rules passes on a bucket set up as the guide says and fails where the set-up departs from it."""

from __future__ import annotations

import json
import shutil

import pytest

from auditor.cli import main
from auditor.config import parse_config
from auditor.errors import ConfigError
from auditor.model import Status
from auditor.scan import run_scan
from tests.planrun import apply_plan, check_says_ready

ACCOUNT = "123456789012"  # the moto account
LABELBOX = "111122223333"  # Labelbox's account as a customer's settings would show it (an integration key)
EXTERNAL_ID = "lb-7f3c9a"
RULES = ("labelbox.trust-policy", "labelbox.external-id", "labelbox.read-grant", "labelbox.list-grant", "labelbox.cors")


def _policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _trust(account=LABELBOX, external_id: str | None = EXTERNAL_ID):
    st = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
    if external_id:
        st["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return _policy(st)


def _guide_read_policy(bucket):
    return _policy({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{bucket}/*"},
                   {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                    "Resource": f"arn:aws:s3:::{bucket}"})


def _bucket(aws, name, cors=True):
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="images/cat-1.jpg", Body=b"x")
    if cors:
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [
            {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://app.example-labelling.com"], "AllowedHeaders": ["*"]}]})


def _role(aws, name, trust, policy):
    iam = aws("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=policy)
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def _integration(bucket, role):
    return f"""
[[integrations]]
vendor = "labelbox"
account = "main"
bucket = "{bucket}"
role_arn = "{role}"
vendor_account = "{LABELBOX}"
external_id = "{EXTERNAL_ID}"
"""


def _scan(endpoint, integrations):
    config = parse_config(f'[[accounts]]\nname = "main"\nendpoint_url = "{endpoint}"\n' + integrations)
    _, result = run_scan(config)
    return {(f.rule_id, f.bucket): f for f in result.findings if f.vendor == "labelbox"}


def test_labelbox_rules_pass_on_the_guides_setup_and_fail_where_it_departs(moto, aws):
    # As the guide says: trusted by Labelbox's account with the external id, the read policy, CORS.
    _bucket(aws, "lb-good")
    good = _role(aws, "labelbox-good", _trust(), _guide_read_policy("lb-good"))
    # Trusted without an external id; reads one folder only; no list/location; no CORS.
    _bucket(aws, "lb-loose", cors=False)
    loose = _role(aws, "labelbox-loose", _trust(external_id=None), _policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lb-loose/exports/*"}))
    # Trusts some other account (not Labelbox's).
    _bucket(aws, "lb-stranger")
    stranger = _role(aws, "labelbox-stranger", _trust(account="999988887777"), _guide_read_policy("lb-stranger"))
    found = _scan(moto.endpoint, _integration("lb-good", good) + _integration("lb-loose", loose)
                  + _integration("lb-stranger", stranger))

    def status(rule, bucket):
        hits = [f for (r, b), f in found.items() if r == rule and (b == bucket or f.resource.endswith(bucket))]
        assert len(hits) == 1, (rule, bucket, hits)
        return hits[0]

    for rule in RULES:
        assert status(rule, "lb-good").status == Status.PASS, status(rule, "lb-good").message
    # The guide names no origin here: the message says which origin the bucket allows, not "any origin".
    assert status("labelbox.cors", "lb-good").message == "CORS allows GET from https://app.example-labelling.com."
    assert {r: status(r, "lb-loose").status for r in RULES} == {
        "labelbox.trust-policy": Status.PASS,  # it may assume the role (too easily: see external-id)
        "labelbox.external-id": Status.FAIL, "labelbox.read-grant": Status.FAIL,
        "labelbox.list-grant": Status.FAIL, "labelbox.cors": Status.FAIL}
    assert "without an sts:ExternalId" in status("labelbox.external-id", "lb-loose").message
    assert "s3:GetBucketLocation" in status("labelbox.list-grant", "lb-loose").remediation
    assert status("labelbox.trust-policy", "lb-stranger").status == Status.FAIL
    assert "Labelbox" in status("labelbox.trust-policy", "lb-stranger").message
    assert status("labelbox.external-id", "lb-stranger").status == Status.FAIL


def test_labelbox_integration_keys_come_from_its_profile():
    base = '[[accounts]]\nname = "main"\n'
    with pytest.raises(ConfigError) as e:  # the guide offers reads only
        parse_config(base + _integration("lb-bucket", f"arn:aws:iam::{ACCOUNT}:role/r") + 'mode = "read-write"\n')
    assert "labelbox offers no read-write mode" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config(base + _integration("lb-bucket", f"arn:aws:iam::{ACCOUNT}:role/r").replace(LABELBOX, "12345"))
    assert "vendor_account" in str(e.value) and "12-digit" in str(e.value)
    no_id = _integration("lb-bucket", f"arn:aws:iam::{ACCOUNT}:role/r").replace(f'external_id = "{EXTERNAL_ID}"\n', "")
    with pytest.raises(ConfigError) as e:
        parse_config(base + no_id)
    assert "external_id" in str(e.value)


@pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI applies the plan")
def test_labelbox_plan_makes_the_role_ready(moto, aws, tmp_path, capsys):
    _bucket(aws, "lb-plan")
    aws("iam").create_role(RoleName="labelbox-plan", AssumeRolePolicyDocument=_trust(external_id=None))
    common = ["labelbox", "s3://lb-plan", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/labelbox-plan",
              "--vendor-account", LABELBOX, "--external-id", EXTERNAL_ID, "--endpoint-url", moto.endpoint, "--quiet"]
    assert main(["check", *common]) == 1
    assert "NOT READY" in capsys.readouterr().out
    out = tmp_path / "plan"
    assert main(["plan", *common, "--output-dir", str(out)]) == 0
    capsys.readouterr()
    plan = json.loads((out / "plan.json").read_text())
    kinds = {c["kind"] for c in plan["changes"]}
    assert {"trust-policy", "role-policy"} <= kinds, plan
    trust = next(c for c in plan["changes"] if c["kind"] == "trust-policy")["after"]
    assert trust["Statement"][-1]["Condition"] == {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}
    apply_plan(out)
    check_says_ready(common, capsys)


def test_labelbox_plan_asks_for_the_cors_rule_it_cannot_know(moto, aws, tmp_path, capsys):
    _bucket(aws, "lb-nocors", cors=False)
    role = _role(aws, "labelbox-nocors", _trust(), _guide_read_policy("lb-nocors"))
    out = tmp_path / "plan"
    assert main(["plan", "labelbox", "s3://lb-nocors", "--role-arn", role, "--vendor-account", LABELBOX,
                 "--external-id", EXTERNAL_ID, "--endpoint-url", moto.endpoint, "--quiet",
                 "--output-dir", str(out)]) == 0
    capsys.readouterr()
    plan = json.loads((out / "plan.json").read_text())
    assert any(m.startswith("cors:") and "docs.labelbox.com" in m for m in plan["manual_steps"]), plan
