"""Regions of the key space from Resource / NotResource patterns and s3:prefix conditions."""

from __future__ import annotations

from auditor.policy.keyspace import key_pattern, regions, representative

B = "scans"


def test_key_patterns_of_object_arns_for_this_bucket_only():
    assert key_pattern("arn:aws:s3:::scans/data/*", B) == "data/*"
    assert key_pattern("arn:aws:s3:::sc*/data/*", B) == "data/*"
    assert key_pattern("arn:aws:s3:::other/data/*", B) is None
    assert key_pattern("arn:aws:s3:::scans", B) is None
    assert key_pattern("*", B) is None
    assert key_pattern("arn:aws:kms:us-east-1:111122223333:key/k", B) is None


def test_representative_keys_lie_in_the_region_and_in_the_scope():
    assert representative("data/2024/private/*", "data/") == "data/2024/private/auditor-probe"
    assert representative("*/private/*", "data/") == "data/auditor-probe/private/auditor-probe"
    assert representative("*.dcm", "data/") == "data/auditor-probe.dcm"
    assert representative("data/secret.txt", "data/") == "data/secret.txt"
    assert representative("other/*", "data/") is None  # outside the scope
    assert representative("data/a?c/*", "data/") == "data/axc/auditor-probe"


def test_regions_name_their_statement_and_skip_what_is_outside_or_variable():
    doc = {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyPrivate", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::scans/data/2024/private/*"},
        {"Sid": "Mostly", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "NotResource": ["arn:aws:s3:::scans/data/restricted/*", "arn:aws:s3:::scans/elsewhere/*"]},
        {"Sid": "Home", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::scans/data/${aws:username}/*"},
        {"Sid": "ListSome", "Effect": "Deny", "Principal": "*", "Action": "s3:ListBucket",
         "Resource": "arn:aws:s3:::scans", "Condition": {"StringLike": {"s3:prefix": "data/hidden/*"}}},
    ]}
    found = {r.key: r for r in regions(B, "data/", [("bucket policy of scans", doc)])}
    assert set(found) == {"data/2024/private/auditor-probe", "data/restricted/auditor-probe", "data/hidden/auditor-probe"}
    assert found["data/2024/private/auditor-probe"].source.startswith("bucket policy of scans statement DenyPrivate")
    assert "NotResource" in found["data/restricted/auditor-probe"].source
    assert "s3:prefix" in found["data/hidden/auditor-probe"].source


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from auditor.policy.variables import wildcard  # noqa: E402

_PART = st.sampled_from(["data", "2024", "private", "x", "a.dcm", "*", "?", "*.tmp", "p-*"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PART, min_size=1, max_size=5), st.lists(st.sampled_from(["data", "2024", "x"]), max_size=3),
       st.booleans())
def test_a_representative_key_is_in_its_region_and_in_the_scope(parts, scope_parts, folder):
    pattern = "/".join(parts) + ("/*" if folder else "")
    scope = "".join(p + "/" for p in scope_parts)
    key = representative(pattern, scope)
    if key is not None:
        assert key.startswith(scope) and wildcard(pattern).fullmatch(key)
    if pattern.startswith(scope) and "*" not in pattern[:len(scope)] and "?" not in pattern[:len(scope)]:
        assert key is not None  # a pattern that lies inside the scope always gets its key
