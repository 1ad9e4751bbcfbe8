"""A configured bucket, role or user that does not exist: one finding naming it and the fix, not one row per rule."""

from __future__ import annotations

from auditor.model import ApiError, Status
from auditor.scan import exit_status

from .snap import ACCT, account, bucket, integ, policy, role, run, snapshot, user

KEYS = ("cats/images/cat-1.jpg", "cats/annotations.json", "cats/predictions.json")


def _rows(snap):
    found = run(snap)
    return found, [f for f in found if "does not exist" in f.message or "was not found" in f.message
                   or "was not collected" in f.message]


def test_a_missing_user_is_one_fail_and_its_rules_give_no_rows():
    s = snapshot(account(bucket("cats-data", keys=KEYS)),
                 integrations=(integ("tenyks", "cats-data", user="tenyks-reader", dataset="cats", images_dir="images"),))
    found, rows = _rows(s)
    assert len(rows) == 1, [(f.rule_id, f.message) for f in rows]
    (f,) = rows
    assert (f.rule_id, f.status) == ("tenyks.resources", Status.FAIL)
    assert "IAM user 'tenyks-reader' does not exist" in f.message
    assert "aws iam create-user --user-name tenyks-reader" in f.remediation
    assert f.principal == f"arn:aws:iam::{ACCT}:user/tenyks-reader"
    assert {"tenyks.read-grant", "tenyks.access-key"} <= set(f.evidence["not_evaluated"])
    ids = {x.rule_id for x in found}
    assert not ids & {"tenyks.read-grant", "tenyks.access-key", "baseline.vendor-excess-privilege"}, ids
    # What does not need the user is still checked.
    assert {"tenyks.layout", "baseline.public-policy"} <= ids
    assert exit_status(found) == 1  # a fail, as the rules' fails were


def test_a_missing_role_is_one_fail():
    s = snapshot(account(bucket("nexus-assets", keys=("images/a.jpg",))),
                 integrations=(integ("datature", "nexus-assets", role_arn=f"arn:aws:iam::{ACCT}:role/nope",
                                     prefix="images/"),))
    found, rows = _rows(s)
    assert [(f.rule_id, f.status) for f in rows] == [("datature.resources", Status.FAIL)], \
        [(f.rule_id, f.message) for f in rows]
    assert f"arn:aws:iam::{ACCT}:role/nope" in rows[0].message
    assert "datature.trust-policy" in rows[0].evidence["not_evaluated"]
    assert {f.rule_id for f in found} >= {"datature.cors", "datature.bucket-name"}


def test_a_missing_bucket_is_one_unknown_naming_it():
    s = snapshot(account(bucket("other")), integrations=(integ("v7-aws", "typo-bucket"),))
    found = run(s)
    mine = [f for f in found if f.bucket == "typo-bucket"]
    assert [(f.rule_id, f.status) for f in mine] == [("v7-aws.resources", Status.UNKNOWN)], \
        [(f.rule_id, f.message) for f in mine]
    assert "'typo-bucket' was not found" in mine[0].message
    assert "v7-aws.read-grant" in mine[0].evidence["not_evaluated"]
    assert exit_status(found, "never") == 3  # not verified, as before: exit status semantics kept
    # Without the bucket list, it says why.
    listing_failed = ApiError("ListBuckets", "AccessDenied", "not authorised")
    s = snapshot(account(bucket("other"), errors=(listing_failed,)), integrations=(integ("v7-aws", "typo-bucket"),))
    (f,) = [f for f in run(s) if f.bucket == "typo-bucket"]
    assert f.status == Status.UNKNOWN and "ListBuckets failed with AccessDenied" in f.message


def test_a_missing_metadata_bucket_is_named_once():
    read = policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                   "Resource": ["arn:aws:s3:::cats-data/*", "arn:aws:s3:::cats-data"]})
    s = snapshot(account(bucket("cats-data", keys=KEYS), users=(user("tenyks-rw", read),)),
                 integrations=(integ("tenyks", "cats-data", "read-write", user="tenyks-rw", dataset="cats",
                                     images_dir="images", metadata_bucket="cats-meta", metadata_dir="meta"),))
    found, rows = _rows(s)
    assert [(f.rule_id, f.status) for f in rows] == [("tenyks.resources", Status.UNKNOWN)], \
        [(f.rule_id, f.message) for f in rows]
    assert "cats-meta" in rows[0].message
    assert {"tenyks.metadata-grant", "tenyks.metadata-cors"} <= set(rows[0].evidence["not_evaluated"])


def test_everything_there_is_one_pass():
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "277710232653"}})
    s = snapshot(account(bucket("nexus-assets"), roles=(role("datature-nexus", trust),)),
                 integrations=(integ("datature", "nexus-assets", role_arn=f"arn:aws:iam::{ACCT}:role/datature-nexus"),))
    (f,) = [f for f in run(s) if f.rule_id == "datature.resources"]
    assert f.status == Status.PASS and "datature-nexus" in f.message
