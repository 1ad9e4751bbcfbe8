"""Remediation merges and the scanner's own policy."""

from __future__ import annotations

import json
import shlex

from auditor.permissions import scanner_policy
from auditor.remediation import merge_statement, put_bucket_policy_cmd, remove_statements

EXISTING = {"Version": "2012-10-17", "Id": "Mine", "Statement": [
    {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}


def test_merge_keeps_existing_statements_verbatim_and_renames_a_clashing_sid():
    new = {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": "x"}, "Action": "s3:PutObject",
           "Resource": "arn:aws:s3:::b/*"}
    merged = merge_statement(EXISTING, new)
    assert merged["Id"] == "Mine"
    assert merged["Statement"][0] == EXISTING["Statement"][0]
    assert merged["Statement"][1]["Sid"] == "DarwinAccess2"
    assert EXISTING["Statement"][0]["Sid"] == "DarwinAccess"  # input untouched
    third = {**new, "Action": "s3:DeleteObject"}
    assert merge_statement(merged, third)["Statement"][2]["Sid"] == "DarwinAccess3"


def test_merge_does_not_add_an_identical_statement_and_handles_no_policy():
    same = dict(EXISTING["Statement"][0], Sid="Other")
    assert len(merge_statement(EXISTING, same)["Statement"]) == 1
    assert merge_statement(None, {"Effect": "Allow"}) == {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}
    single = {"Version": "2012-10-17", "Statement": EXISTING["Statement"][0]}  # a lone statement object
    assert len(merge_statement(single, {"Effect": "Deny"})["Statement"]) == 2


def test_remove_and_command_round_trip():
    assert remove_statements(EXISTING, {0})["Statement"] == []
    cmd = put_bucket_policy_cmd("b", EXISTING)
    assert json.loads(shlex.split(cmd)[-1]) == EXISTING


def test_scanner_policy_lists_only_reads_and_covers_the_checks():
    doc = scanner_policy()
    actions = doc["Statement"][0]["Action"]
    assert {"s3:GetBucketPolicy", "iam:GetAccountAuthorizationDetails", "kms:GetKeyPolicy",
            "s3:GetBucketVersioning"} <= set(actions)
    assert all(a.split(":")[1].startswith(("Get", "List", "Describe")) for a in actions)
    assert actions == sorted(set(actions))
