"""Throttling and faults through a proxy in front of the moto server: nothing lost, nothing crashes."""

from __future__ import annotations

import itertools

from auditor.collect import collect
from auditor.config import parse_config
from auditor.engine import evaluate
from auditor.model import Status
from auditor.rulepack import load_packs
from tests.faultproxy import Fault, FaultProxy


def config(url: str, scan: str = "") -> str:
    buckets = "".join(f'\n[[integrations]]\nvendor = "v7-aws"\naccount = "main"\nbucket = "{b}"\n'
                      for b in ("bucket-one", "bucket-two", "bucket-three"))
    return f'[scan]\n{scan}\n[[accounts]]\nname = "main"\nendpoint_url = "{url}"\n{buckets}'


def setup(aws):
    s3 = aws("s3")
    for name in ("bucket-one", "bucket-two", "bucket-three"):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [
            {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://darwin.v7labs.com"]}]})
        s3.put_object(Bucket=name, Key="a.jpg", Body=b"x")


def test_slowdown_storm_slows_the_scan_and_loses_nothing(moto, aws):
    setup(aws)
    # Every other S3 request answers 503 SlowDown until six have; adaptive retries must absorb them
    # (botocore's adaptive mode then rate-limits the client, which is the "slows" part).
    counter = itertools.count()
    storm = Fault(lambda r: r.method == "GET" and next(counter) % 2 == 0, status=503, code="SlowDown",
                  message="Please reduce your request rate.", times=6)
    proxy = FaultProxy(moto.endpoint, [storm])
    url = proxy.start()
    try:
        snap = collect(parse_config(config(url, "concurrency = 8\nmax_attempts = 10")))
    finally:
        proxy.stop()
    assert storm.hits == 6
    account = snap.accounts[0]
    assert account.errors == ()
    for name in ("bucket-one", "bucket-two", "bucket-three"):
        bucket = account.bucket(name)
        assert bucket.errors == (), bucket.errors
        assert bucket.cors[0]["AllowedOrigins"] == ["https://darwin.v7labs.com"]
        assert [o.key for o in bucket.objects] == ["a.jpg"]


def test_persistent_500_on_one_bucket_call_makes_only_its_rules_unknown(moto, aws):
    setup(aws)
    broken = Fault(lambda r: r.method == "GET" and r.path == "/bucket-two" and "cors" in r.query,
                   status=500, code="InternalError", message="We encountered an internal error.")
    proxy = FaultProxy(moto.endpoint, [broken])
    url = proxy.start()
    try:
        snap = collect(parse_config(config(url, "max_attempts = 3")))
    finally:
        proxy.stop()
    assert broken.hits >= 3  # retried, then recorded
    findings = evaluate(snap, load_packs())
    by = {(f.rule_id, f.bucket): f for f in findings}
    assert by[("v7-aws.cors", "bucket-two")].status == Status.UNKNOWN
    assert "GetBucketCors failed with InternalError" in by[("v7-aws.cors", "bucket-two")].message
    assert by[("baseline.cors-wildcard-origin", "bucket-two")].status == Status.UNKNOWN
    # Everything else about bucket-two, and the other buckets, is answered.
    assert by[("v7-aws.bucket-name", "bucket-two")].status == Status.PASS
    for name in ("bucket-one", "bucket-three"):
        assert by[("v7-aws.cors", name)].status == Status.PASS


def test_timeout_on_one_bucket_call_makes_only_its_rules_unknown(moto, aws):
    setup(aws)
    slow = Fault(lambda r: r.method == "GET" and r.path == "/bucket-one" and "cors" in r.query, status=500, delay=3)
    proxy = FaultProxy(moto.endpoint, [slow])
    url = proxy.start()
    try:
        snap = collect(parse_config(config(url, "timeout = 1\nmax_attempts = 2")))
    finally:
        proxy.stop()
    bucket = snap.accounts[0].bucket("bucket-one")
    (err,) = bucket.errors
    assert err.api == "GetBucketCors" and "Timeout" in err.code
    assert snap.accounts[0].bucket("bucket-two").errors == ()
    by = {(f.rule_id, f.bucket): f.status for f in evaluate(snap, load_packs())}
    assert by[("v7-aws.cors", "bucket-one")] == Status.UNKNOWN
    assert by[("v7-aws.cors", "bucket-two")] == Status.PASS
