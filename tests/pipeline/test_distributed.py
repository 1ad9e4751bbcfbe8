"""Sharding accounts across a local Dask cluster gives the same findings as one process."""

from __future__ import annotations

import pytest

from auditor.config import parse_config
from auditor.distributed import collect_distributed, shard_accounts
from auditor.scan import evaluate_snapshot, run_scan

distributed = pytest.importorskip("distributed")


def config_text(endpoint: str) -> str:
    accounts = "".join(f"""
[[accounts]]
name = "acct-{n}"
role_arn = "arn:aws:iam::{str(n) * 12}:role/AuditReadOnly"
endpoint_url = "{endpoint}"
""" for n in (1, 2, 3))
    return accounts + """
[[integrations]]
vendor = "v7-aws"
account = "acct-2"
bucket = "two-bucket"
"""


def test_shards_keep_integrations_with_their_accounts():
    config = parse_config(config_text("http://127.0.0.1:1"))
    shards = shard_accounts(config, 2)
    assert [[a.name for a in s.accounts] for s in shards] == [["acct-1", "acct-3"], ["acct-2"]]
    assert [len(s.integrations) for s in shards] == [0, 1]


def test_local_cluster_scan_matches_single_process(moto):
    import boto3

    for n in (1, 2, 3):
        creds = boto3.client("sts", endpoint_url=moto.endpoint, region_name="us-east-1").assume_role(
            RoleArn=f"arn:aws:iam::{str(n) * 12}:role/AuditReadOnly", RoleSessionName="setup")["Credentials"]
        s3 = boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1",
                          aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"])
        s3.create_bucket(Bucket={1: "one-bucket", 2: "two-bucket", 3: "three-bucket"}[n])
    config = parse_config(config_text(moto.endpoint))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        snapshot = collect_distributed(config, client)
    assert sorted(a.account_id for a in snapshot.accounts) == ["111111111111", "222222222222", "333333333333"]
    sharded = evaluate_snapshot(snapshot)
    _, single = run_scan(config)
    key = lambda f: (f.rule_id, f.resource, f.status.value)  # noqa: E731
    assert sorted(map(key, sharded.findings)) == sorted(map(key, single.findings))
    assert any(f.rule_id == "v7-aws.cors" and f.bucket == "two-bucket" for f in sharded.findings)
