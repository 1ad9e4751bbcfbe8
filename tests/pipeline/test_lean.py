"""The scanner's clients skip botocore's repeated per-request work without changing what they send;
the call limiter serves dependent calls before the bulk; collection pipelines its follow-up reads."""

from __future__ import annotations

import asyncio
import datetime
import gc
import json
import uuid

import aioboto3
import pytest
from botocore.utils import parse_timestamp

from auditor.collect import collect, lean
from auditor.collect.calls import BULK, Limiter, call
from auditor.collect.session import AccountSession, client_config
from auditor.config import AccountConfig, ScanSettings, parse_config
from tests.faultproxy import FaultProxy

V7 = "arn:aws:iam::258327614892:role/external_s3"


# ----------------------------------------------------------------------------- what the clients send


async def _requests(url: str, lean_clients: bool) -> None:
    """The same calls, through clients made as the scanner makes them, or through untouched ones."""
    session = aioboto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret/with+chars",
                               aws_session_token="token-value", region_name="us-east-1")
    settings = ScanSettings()
    acct = AccountSession(AccountConfig(name="a", endpoint_url=url), session, settings, "us-east-1")
    untouched: list = []
    try:
        async def client(service: str):
            if lean_clients:
                return await acct.client(service)
            made = await session.client(service, endpoint_url=url, region_name="us-east-1",
                                        config=client_config(settings)).__aenter__()
            untouched.append(made)
            return made

        s3, iam, kms, sts = [await client(s) for s in ("s3", "iam", "kms", "sts")]
        for bucket in ("lean-bucket", "with.dots"):
            await call("GetBucketPolicy", s3.get_bucket_policy(Bucket=bucket))
            await call("GetBucketCors", s3.get_bucket_cors(Bucket=bucket))
            await call("ListObjectsV2", s3.list_objects_v2(Bucket=bucket, Prefix="a b/ü", MaxKeys=5,
                                                           ContinuationToken="x/y+z="))
            await call("HeadObject", s3.head_object(Bucket=bucket, Key="dir/ü é+%.jpg"))
            await call("GetObject", s3.get_object(Bucket=bucket, Key="k", Range="bytes=0-15"))
        await call("PutBucketPolicy", s3.put_bucket_policy(Bucket="lean-bucket", Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": []})))
        await call("GetAccountAuthorizationDetails", iam.get_account_authorization_details(MaxItems=10))
        await call("DescribeKey", kms.describe_key(KeyId="alias/aws/s3"))
        await call("GetCallerIdentity", sts.get_caller_identity())
    finally:
        for made in untouched:
            await made.__aexit__(None, None, None)
        await acct.aclose()


def test_lean_clients_send_exactly_what_untouched_clients_send(moto, aws, monkeypatch):
    aws("s3").create_bucket(Bucket="lean-bucket")
    at = datetime.datetime(2026, 11, 30, 12, 0, 0)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: at)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=7))
    proxy = FaultProxy(moto.endpoint, recorded=[])
    url = proxy.start()
    try:
        asyncio.run(_requests(url, lean_clients=False))
        plain = list(proxy.recorded or ())
        proxy.recorded = []
        asyncio.run(_requests(url, lean_clients=True))
        leaned = list(proxy.recorded)
    finally:
        proxy.stop()
    assert len(plain) == len(leaned) >= 14

    def sent(record: tuple) -> tuple:
        method, path, headers, body = record
        # The User-Agent is built once per client (not signed; see lean._fix_user_agent).
        return method, path, {k: v for k, v in headers.items() if k != "User-Agent"}, body

    for a, b in zip(plain, leaned, strict=True):
        assert sent(a) == sent(b)
    assert all("Signature=" in r[2]["Authorization"] for r in leaned)
    assert any(r[1].startswith("/with.dots") for r in leaned)  # path style, with its own Host


def test_timestamps_read_as_botocore_reads_them():
    for text in ("2024-05-01T12:00:00.000Z", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456Z",
                 "2024-05-01T12:00:00.1Z", "2024-05-01T12:00:00+02:00", "Wed, 12 Oct 2009 17:50:00 GMT",
                 "1700000000", 1700000000.5):
        mine, theirs = lean._timestamp(text), parse_timestamp(text)
        assert mine == theirs and mine.isoformat() == theirs.isoformat()
        assert mine.utcoffset() == theirs.utcoffset()


def test_fewer_collections_only_while_collecting():
    before = gc.get_threshold()
    with lean.fewer_collections():
        assert gc.get_threshold()[0] >= lean.SCAN_GC_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
    assert gc.get_threshold() == before


# ----------------------------------------------------------------------------- the limiter


def test_limiter_serves_the_bulk_after_every_other_waiting_call():
    async def scenario() -> tuple[list[str], int]:
        limit = Limiter(2)
        order: list[str] = []
        peak = running = 0

        async def one(name: str, bulk: bool) -> None:
            nonlocal peak, running
            BULK.set(bulk)
            async with limit:
                running += 1
                peak = max(peak, running)
                order.append(name)
                await asyncio.sleep(0.01)
                running -= 1

        tasks = [asyncio.create_task(one(f"bulk{i}", True)) for i in range(6)]
        await asyncio.sleep(0)  # the bulk takes both slots and queues the rest
        tasks += [asyncio.create_task(one(f"next{i}", False)) for i in range(3)]
        await asyncio.gather(*tasks)
        return order, peak

    order, peak = asyncio.run(scenario())
    assert peak == 2
    assert order[:2] == ["bulk0", "bulk1"]
    assert order[2:5] == ["next0", "next1", "next2"]  # ahead of the bulk that queued before them
    assert order[5:] == ["bulk2", "bulk3", "bulk4", "bulk5"]  # the bulk keeps its own order


def test_limiter_passes_on_the_slot_of_a_cancelled_waiter():
    async def scenario() -> bool:
        limit = Limiter(1)
        await limit.acquire()
        waiter = asyncio.create_task(limit.acquire())
        late = asyncio.create_task(limit.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        limit.release()
        await asyncio.wait_for(late, 1)  # the cancelled waiter is passed over
        limit.release()
        return not limit.locked()

    assert asyncio.run(scenario())


# ----------------------------------------------------------------------------- pipelining


@pytest.mark.slow
def test_inferred_buckets_are_probed_while_the_others_are_collected(moto, aws):
    """A bucket whose policy names V7 gets its content probes (HeadObject) as soon as its group of
    buckets is in, long before the account's last buckets are read."""
    s3 = aws("s3")
    names = [f"pipe-{i:03d}" for i in range(160)]
    for name in names:
        s3.create_bucket(Bucket=name)
    s3.put_object(Bucket="pipe-000", Key="data/image.jpg", Body=b"x")
    s3.put_bucket_policy(Bucket="pipe-000", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": V7}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pipe-000/*"}]}))
    proxy = FaultProxy(moto.endpoint)
    url = proxy.start()
    try:
        snap = collect(parse_config(f'[scan]\nconcurrency = 4\n[[accounts]]\nname = "a"\nendpoint_url = "{url}"\n',
                                    "auditor.toml"))
    finally:
        proxy.stop()
    bucket = next(b for b in snap.accounts[0].buckets if b.name == "pipe-000")
    assert [o.probes.get("head") for o in bucket.objects] == [True]
    head = proxy.log.index("HeadObject")
    versioning = [i for i, api in enumerate(proxy.log) if api == "GetBucketVersioning"]
    assert len(versioning) == len(names)
    assert head < versioning[len(names) // 2]  # probed while more than half the buckets were still to read
