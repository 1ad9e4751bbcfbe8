"""`auditor permissions` covers every API call a real scan makes, and nothing that writes."""

from __future__ import annotations

import json
import subprocess
import sys

import aioboto3

from auditor.collect import collect
from auditor.config import parse_config
from auditor.demo import seed
from auditor.permissions import scanner_policy

# Operation -> IAM action where they differ (AWS Service Authorization Reference: Amazon S3,
# "Actions defined by Amazon S3", and the S3 API reference's "Permissions" sections).
ACTION_FOR = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "GetBucketCors"): "s3:GetBucketCORS",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
}
PREFIX = {"s3control": "s3"}


def _action(service: str, operation: str) -> str:
    return ACTION_FOR.get((service, operation), f"{PREFIX.get(service, service)}:{operation}")


def test_every_call_of_a_full_scan_is_in_the_printed_policy(moto):
    config = parse_config(seed(moto.endpoint), "demo.toml")
    seen: set[tuple[str, str]] = set()

    def record(model, **_):
        seen.add((model.service_model.service_name, model.name))

    def factory(**kwargs):
        session = aioboto3.Session(**kwargs)
        session.events.register("before-call.*.*", record)
        return session

    snapshot = collect(config, session_factory=factory)
    assert snapshot.accounts and not snapshot.skipped
    services = {s for s, _ in seen}
    assert {"s3", "iam", "kms", "sts"} <= services, seen  # the scan really went everywhere

    printed = json.loads(subprocess.run([sys.executable, "-m", "auditor.cli", "permissions"], check=True,
                                        capture_output=True, text=True).stdout)
    allowed = set(printed["Statement"][0]["Action"])
    assert printed == scanner_policy()
    made = {_action(s, op) for s, op in seen}
    # sts:GetCallerIdentity needs no permission, but listing it does no harm.
    assert made - allowed == set(), f"calls the scanner made that its policy does not allow: {sorted(made - allowed)}"
    assert all(a.split(":")[1].startswith(("Get", "List", "Describe")) for a in allowed)
