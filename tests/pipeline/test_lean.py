"""The scanner's clients skip botocore's repeated per-request work without changing what they send;
the call limiter serves dependent calls before the bulk; collection pipelines its follow-up reads."""

from __future__ import annotations

import asyncio
import datetime
import gc
import inspect
import json
import uuid

import aioboto3
import pytest
from botocore.awsrequest import HeadersDict
from botocore.regions import EndpointRulesetResolver
from botocore.utils import parse_timestamp
from hypothesis import given
from hypothesis import strategies as st

from auditor import machine
from auditor.collect import collect, lean
from auditor.collect.calls import BULK, Failed, Limiter, Ok, call
from auditor.collect.session import AccountSession, client_config
from auditor.config import AccountConfig, ScanSettings, parse_config
from tests.faultproxy import Fault, FaultProxy, s3_subresource

V7 = "arn:aws:iam::258327614892:role/external_s3"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": V7}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lean-bucket/*"}]})


# ----------------------------------------------------------------------------- what the clients send


async def _requests(url: str, lean_clients: bool) -> list:
    """The same calls, through clients made as the scanner makes them, or through untouched ones;
    what each call answered."""
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
        answers = []
        for bucket in ("lean-bucket", "with.dots"):
            answers += [
                await call("GetBucketPolicy", s3.get_bucket_policy(Bucket=bucket)),
                await call("GetBucketCors", s3.get_bucket_cors(Bucket=bucket)),
                await call("ListObjectsV2", s3.list_objects_v2(Bucket=bucket, Prefix="a b/ü", MaxKeys=5)),
                await call("ListObjectsV2", s3.list_objects_v2(Bucket=bucket, Prefix="a b/ü", MaxKeys=5,
                                                               StartAfter="a b/ü é+%.jpg")),
                await call("HeadObject", s3.head_object(Bucket=bucket, Key="a b/ü é+%.jpg")),
                await call("GetObject", s3.get_object(Bucket=bucket, Key="k", Range="bytes=0-15")),
            ]
        answers += [
            await call("PutBucketPolicy", s3.put_bucket_policy(Bucket="lean-bucket", Policy=POLICY)),
            await call("GetAccountAuthorizationDetails", iam.get_account_authorization_details(MaxItems=10)),
            await call("DescribeKey", kms.describe_key(KeyId="alias/aws/s3")),
            await call("GetCallerIdentity", sts.get_caller_identity()),
        ]
        return answers
    finally:
        for made in untouched:
            await made.__aexit__(None, None, None)
        await acct.aclose()


def test_lean_clients_send_exactly_what_untouched_clients_send(moto, aws, monkeypatch):
    aws("s3").create_bucket(Bucket="lean-bucket")
    for key in ("a b/ü é+%.jpg", "a b/ü/second.png", "k"):
        aws("s3").put_object(Bucket="lean-bucket", Key=key, Body=b"0123456789abcdefghij")
    aws("s3").put_bucket_policy(Bucket="lean-bucket", Policy=POLICY)  # as both runs put it again
    at = datetime.datetime(2026, 11, 30, 12, 0, 0)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: at)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=7))
    proxy = FaultProxy(moto.endpoint, recorded=[])
    url = proxy.start()
    try:
        plain_answers = asyncio.run(_requests(url, lean_clients=False))
        plain = list(proxy.recorded or ())
        proxy.recorded = []
        lean_answers = asyncio.run(_requests(url, lean_clients=True))
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

    def answer(result) -> object:  # the answer as read, without what differs between two requests
        if not isinstance(result, Ok):
            return result
        return {k: v for k, v in result.value.items() if k not in ("ResponseMetadata", "Body")}

    assert [answer(a) for a in lean_answers] == [answer(a) for a in plain_answers]
    listed = lean_answers[2].value["Contents"]
    assert [o["Key"] for o in listed] == ["a b/ü é+%.jpg", "a b/ü/second.png"]
    assert listed[0]["LastModified"].isoformat() == plain_answers[2].value["Contents"][0]["LastModified"].isoformat()
    assert lean_answers[4].value["ETag"] == plain_answers[4].value["ETag"]  # the object itself, read by HeadObject


def test_an_error_in_a_200_answer_is_still_an_error(moto, aws):
    """S3 can answer 200 with an error document: botocore's check of it is kept."""
    aws("s3").create_bucket(Bucket="lean-bucket")
    error = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>x</Message></Error>'
    proxy = FaultProxy(moto.endpoint, [Fault(s3_subresource("cors"), status=0, rewrite=lambda _: error),
                                       Fault(s3_subresource("versioning"), status=0, rewrite=lambda d: d[:-9])])

    async def run(url: str) -> tuple:
        session = aioboto3.Session(region_name="us-east-1")
        acct = AccountSession(AccountConfig(name="a", endpoint_url=url), session,
                              ScanSettings(max_attempts=2), "us-east-1")
        try:
            s3 = await acct.client("s3")
            return (await call("GetBucketCors", s3.get_bucket_cors(Bucket="lean-bucket")),
                    await call("GetBucketVersioning", s3.get_bucket_versioning(Bucket="lean-bucket")),
                    await call("GetBucketPolicy", s3.get_bucket_policy(Bucket="lean-bucket")))
        finally:
            await acct.aclose()

    url = proxy.start()
    try:
        cors, versioning, policy = asyncio.run(run(url))
    finally:
        proxy.stop()
    assert isinstance(cors, Failed) and cors.error.code == "InternalError"
    assert isinstance(versioning, Failed)  # XML cut short: a 500, retried, then recorded
    assert proxy.apis["GetBucketVersioning"] == 2  # max_attempts = 2: two tries in all
    assert isinstance(policy, Failed) and policy.error.code == "NoSuchBucketPolicy"


async def _signing_contexts(buckets: tuple[str, ...]) -> tuple[list, list]:
    """(auth type, signing context) of GetBucketPolicy for each bucket, from a lean client and from an
    untouched one; each lean request's context is changed afterwards, as later handlers may."""
    session = aioboto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name="eu-west-1")
    acct = AccountSession(AccountConfig(name="a"), session, ScanSettings(), "eu-west-1")
    plain = await session.client("s3", region_name="eu-west-1", config=client_config(ScanSettings())).__aenter__()
    try:
        leaned = await acct.client("s3")
        got: dict[bool, list] = {True: [], False: []}
        for client, is_lean in ((leaned, True), (plain, False)):
            model = client.meta.service_model.operation_model("GetBucketPolicy")
            for bucket in buckets + buckets:  # each twice: the second time from what the first kept
                context: dict = {}
                await client._resolve_endpoint_ruleset(model, {"Bucket": bucket}, context)
                got[is_lean].append((context.get("auth_type"), dict(context.get("signing", {}))))
                if is_lean:
                    context["signing"]["region"] = "changed-later"
        return got[True], got[False]
    finally:
        await plain.__aexit__(None, None, None)
        await acct.aclose()


def test_signing_contexts_read_once_are_what_botocore_reads_each_time(monkeypatch):
    converted: list = []
    convert = EndpointRulesetResolver.auth_schemes_to_signing_ctx

    def counted(self, auth_schemes):
        converted.append(auth_schemes)
        return convert(self, auth_schemes)

    monkeypatch.setattr(EndpointRulesetResolver, "auth_schemes_to_signing_ctx", counted)
    buckets = ("alpha", "beta-bucket", "with.dots", "mybucket--euw1-az1--x-s3")
    leaned, plain = asyncio.run(_signing_contexts(buckets))
    assert leaned == plain
    assert len(converted) == 2 * len(buckets) + len(buckets)  # the untouched client's every time, the lean one's once
    # An S3 Express bucket's requests are signed for its own service name.
    assert {signing["signing_name"] for _, signing in plain} == {"s3", "s3express"}
    assert all(signing["region"] == "eu-west-1" for _, signing in leaned)  # no request sees another's change


def test_one_parser_per_protocol_made_again_when_its_defaults_change():
    async def parsers() -> tuple:
        session = aioboto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name="us-east-1")
        acct = AccountSession(AccountConfig(name="a"), session, ScanSettings(), "us-east-1")
        try:
            s3, iam = await acct.client("s3"), await acct.client("iam")
            factory = s3._endpoint._response_parser_factory
            first, again = factory.create_parser("rest-xml"), factory.create_parser("rest-xml")
            query = iam._endpoint._response_parser_factory.create_parser("query")
            factory.set_parser_defaults(blob_parser=bytes)
            return first, again, query, factory.create_parser("rest-xml")
        finally:
            await acct.aclose()

    first, again, query, changed = asyncio.run(parsers())
    assert first is again and isinstance(first, lean._LeanRestXMLParser)
    assert type(query).__name__ == "AioQueryParser"
    assert changed is not first and changed._blob_parser is bytes
    assert changed._timestamp_parser is first._timestamp_parser is lean._timestamp


def test_a_handler_of_response_received_still_hears_every_answer(moto, aws):
    aws("s3").create_bucket(Bucket="lean-bucket")
    aws("s3").put_bucket_policy(Bucket="lean-bucket", Policy=POLICY)
    heard: list = []

    async def run() -> tuple:
        session = aioboto3.Session(region_name="us-east-1")
        acct = AccountSession(AccountConfig(name="a", endpoint_url=moto.endpoint), session, ScanSettings(), "us-east-1")
        try:
            s3 = await acct.client("s3")
            assert isinstance(s3._endpoint, lean._LeanEndpoint)
            quiet = await call("GetBucketPolicy", s3.get_bucket_policy(Bucket="lean-bucket"))
            s3.meta.events.register("response-received.s3.*", lambda **kw: heard.append(kw))
            return quiet, (await call("GetBucketPolicy", s3.get_bucket_policy(Bucket="lean-bucket")),
                           await call("GetBucketCors", s3.get_bucket_cors(Bucket="lean-bucket")))
        finally:
            await acct.aclose()

    quiet, (policy, cors) = asyncio.run(run())
    assert isinstance(quiet, Ok) and isinstance(policy, Ok) and policy.value["Policy"] == quiet.value["Policy"]
    assert isinstance(cors, Failed) and cors.error.code == "NoSuchCORSConfiguration"
    assert [h["event_name"] for h in heard] == ["response-received.s3.GetBucketPolicy", "response-received.s3.GetBucketCors"]
    assert heard[0]["parsed_response"]["Policy"] == policy.value["Policy"]
    assert heard[0]["response_dict"]["status_code"] == 200 and heard[1]["response_dict"]["status_code"] == 404
    assert heard[0]["exception"] is None


def test_accounts_share_the_service_models_loaded_once_per_process(monkeypatch, tmp_path):
    import botocore.loaders

    from auditor.collect import session as session_mod

    loaded: list[str] = []
    load_file = botocore.loaders.JSONFileLoader.load_file

    def counted(self, file_path, *args, **kwargs):
        loaded.append(str(file_path))
        return load_file(self, file_path, *args, **kwargs)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", counted)
    monkeypatch.setattr(session_mod, "_LOADERS", {})

    async def clients(name: str) -> tuple:
        session = aioboto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name="eu-west-1")
        acct = AccountSession(AccountConfig(name=name), session, ScanSettings(), "eu-west-1")
        try:
            made = [await acct.client(service) for service in ("s3", "iam", "kms", "sts")]
            return tuple(c.meta.service_model._service_description for c in made), len(loaded)
        finally:
            await acct.aclose()

    first, after_first = asyncio.run(clients("a"))
    second, after_second = asyncio.run(clients("b"))
    assert after_first > 0 and after_second == after_first  # the second account loaded nothing
    assert all(a is b for a, b in zip(first, second, strict=True))
    # Another data path (AWS_DATA_PATH) is another loader, which looks there first.
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    asyncio.run(clients("c"))
    assert len(session_mod._LOADERS) == 2
    assert str(tmp_path) in session_mod._LOADERS[str(tmp_path)].search_paths


def test_timestamps_read_as_botocore_reads_them():
    for text in ("2024-05-01T12:00:00.000Z", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456Z",
                 "2024-05-01T12:00:00.1Z", "2024-05-01T12:00:00+02:00", "Wed, 12 Oct 2009 17:50:00 GMT",
                 "1700000000", 1700000000.5):
        mine, theirs = lean._timestamp(text), parse_timestamp(text)
        assert mine == theirs and mine.isoformat() == theirs.isoformat()
        assert mine.utcoffset() == theirs.utcoffset()


def test_fewer_collections_only_while_collecting():
    before = gc.get_threshold()
    with machine.fewer_collections():
        assert gc.get_threshold()[0] >= machine.SCAN_GC_THRESHOLD
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


def test_a_call_cancelled_while_it_waits_for_a_slot_is_closed_not_left_unawaited():
    # A scan stopped by Ctrl-C or SIGTERM cancels calls still queued at the limiter; their
    # coroutines were never started, and Python warned at exit that each "was never awaited".
    async def answer() -> str:
        return "sent"

    async def scenario() -> tuple[str, str]:
        limit = Limiter(1)
        await limit.acquire()
        request = answer()
        queued = asyncio.create_task(call("GetBucketPolicy", request, limit))
        await asyncio.sleep(0)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        limit.release()
        return inspect.getcoroutinestate(request), (await call("GetBucketPolicy", answer(), limit)).value

    assert asyncio.run(scenario()) == (inspect.CORO_CLOSED, "sent")


# ----------------------------------------------------------------------------- pipelining


def _collect_logged(moto, faults=(), scan="[scan]\nconcurrency = 4\n"):
    """A scan of the emulator's account through a proxy that logs every call: the snapshot and the proxy."""
    proxy = FaultProxy(moto.endpoint, list(faults))
    url = proxy.start()
    try:
        config = parse_config(f'{scan}[[accounts]]\nname = "a"\nendpoint_url = "{url}"\n', "auditor.toml")
        return collect(config), proxy
    finally:
        proxy.stop()


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
    snap, proxy = _collect_logged(moto)
    bucket = next(b for b in snap.accounts[0].buckets if b.name == "pipe-000")
    assert [o.probes.get("head") for o in bucket.objects] == [True]
    head = proxy.log.index("HeadObject")
    versioning = [i for i, api in enumerate(proxy.log) if api == "GetBucketVersioning"]
    assert len(versioning) == len(names)
    assert head < versioning[len(names) // 2]  # probed while more than half the buckets were still to read


def _record_clients_and_identity(monkeypatch) -> list[str]:
    """The order in which the scan makes its clients and STS answers the identity call."""
    import auditor.collect as collect_mod

    happened: list[str] = []
    make, ask = AccountSession.client, collect_mod.call

    async def client(self, service, region=None):
        made = await make(self, service, region)
        happened.append(f"client {service}")
        return made

    async def call(api, awaitable, limit=None):
        answer = await ask(api, awaitable, limit)
        happened.append(f"{api} answered")
        return answer

    monkeypatch.setattr(AccountSession, "client", client)
    monkeypatch.setattr(collect_mod, "call", call)
    return happened


@pytest.mark.slow
def test_the_s3_client_is_made_while_sts_answers(moto, aws, monkeypatch):
    """The account's first S3 call does not wait for its client to be made after STS has answered:
    the client is made while the identity call is on the network."""
    from tests.faultproxy import on_api

    aws("s3").create_bucket(Bucket="warm-bucket")
    happened = _record_clients_and_identity(monkeypatch)
    snap, _ = _collect_logged(moto, [Fault(match=on_api("GetCallerIdentity"), status=0, delay=0.5)], scan="")
    assert [b.name for b in snap.accounts[0].buckets] == ["warm-bucket"]
    assert happened.index("client s3") < happened.index("GetCallerIdentity answered")


def test_without_credentials_no_s3_client_is_made(monkeypatch, tmp_path):
    """The identity call fails before it is sent: the account is skipped, and the S3 client made
    while STS would have answered is not made at all."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    happened = _record_clients_and_identity(monkeypatch)
    snap = collect(parse_config('[[accounts]]\nname = "a"\nendpoint_url = "http://127.0.0.1:9"\n', "auditor.toml"))
    assert snap.accounts == () and "NoCredentialsError" in snap.skipped[0].reason
    assert happened == ["client sts", "GetCallerIdentity answered"]


@pytest.mark.slow
def test_keys_are_read_as_soon_as_a_bucket_names_them(moto, aws):
    """A key a bucket encrypts with is described, and its policy read, while the account's later
    buckets are still being read, not in two round trips after the last of them; the snapshot
    holds the keys in the order the buckets name them, as before."""
    s3, kms = aws("s3"), aws("kms")
    names = [f"keyed-{i:03d}" for i in range(160)]
    for name in names:
        s3.create_bucket(Bucket=name)
    first, last = (kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2))
    for bucket, key in (("keyed-000", first), (names[-1], last)):
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]})
    snap, proxy = _collect_logged(moto)
    assert [k.arn for k in snap.accounts[0].keys] == [first, last]
    assert all(k.policy and not k.errors for k in snap.accounts[0].keys)
    versioning = [i for i, api in enumerate(proxy.log) if api == "GetBucketVersioning"]
    described = [i for i, api in enumerate(proxy.log) if api == "DescribeKey"]
    policies = [i for i, api in enumerate(proxy.log) if api == "GetKeyPolicy"]
    assert len(versioning) == len(names) and len(described) == len(policies) == 2
    assert policies[0] < versioning[len(names) // 2]  # read while more than half the buckets were still to read


def test_key_reads_started_early_answer_as_reads_started_at_the_end(monkeypatch):
    """``finish`` answers for the refs of the whole account, in their order and with their region
    hints; a read started for a hint the account's first bucket does not confirm is not used."""
    from auditor.collect import kms as kms_mod
    from auditor.model import KeyState

    class Acct:
        unsupported: tuple[str, ...] = ()
        default_region = "us-east-1"

    started: list[tuple[str, str]] = []

    async def one(self, ref: str, region: str) -> KeyState:
        started.append((ref, region))
        return KeyState(key_id=f"{ref}@{region}", arn="")

    async def no_aliases(acct, region, limit) -> tuple[dict, list]:
        return {}, []

    monkeypatch.setattr(kms_mod.KeyReads, "_one", one)
    monkeypatch.setattr(kms_mod, "_aliases", no_aliases)

    async def scenario() -> tuple[KeyState, ...]:
        reads = kms_mod.KeyReads(Acct(), Limiter(4))  # type: ignore[arg-type]
        try:
            reads.start({"alias/aws/s3": "eu-west-1"})  # named first by a bucket that comes later in order
            keys, errors = await reads.finish({"k2": None, "alias/aws/s3": "us-west-2"})
        finally:
            await reads.aclose()
        assert errors == []
        return keys

    keys = asyncio.run(scenario())
    assert [k.key_id for k in keys] == ["k2@us-east-1", "alias/aws/s3@us-west-2"]
    assert sorted(started) == [("alias/aws/s3", "eu-west-1"), ("alias/aws/s3", "us-west-2"), ("k2", "us-east-1")]


# ----------------------------------------------------------------------------- TLS


def _tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 with a certificate of its own (its CA bundle is that certificate)."""
    import ssl
    import subprocess
    import threading

    from aiohttp import web

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    ready, loop = threading.Event(), asyncio.new_event_loop()
    port: list[int] = []

    async def answer(request):
        return web.Response(text="<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account>"
                                 "</GetCallerIdentityResult></GetCallerIdentityResponse>", content_type="text/xml")

    async def serve():
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        ready.set()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve())
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    return f"https://127.0.0.1:{port[0]}", cert, loop


def test_clients_share_one_tls_context_per_ca_bundle(tmp_path, monkeypatch):
    import ssl

    url, cert, loop = _tls_server(tmp_path)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
    monkeypatch.setattr(lean, "_CONTEXTS", {})
    loads: list = []
    real = ssl.SSLContext.load_verify_locations

    def counted(self, cafile=None, capath=None, cadata=None):
        loads.append(cafile)
        return real(self, cafile, capath, cadata)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)

    async def run() -> list:
        session = aioboto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name="us-east-1")
        acct = AccountSession(AccountConfig(name="a", endpoint_url=url), session, ScanSettings(max_attempts=1),
                              "us-east-1")
        try:
            sts, iam = await acct.client("sts"), await acct.client("iam")
            return [await call("GetCallerIdentity", sts.get_caller_identity()),
                    await call("GetCallerIdentity", sts.get_caller_identity()),
                    await call("ListRoles", iam.list_roles())]
        finally:
            await acct.aclose()

    first, second, listed = asyncio.run(run())
    assert isinstance(first, Ok) and first.value["Account"] == "123456789012" and isinstance(second, Ok)
    assert not isinstance(listed, Failed) or "SSL" not in listed.error.code  # verified with the same context
    assert loads.count(str(cert)) == 1  # two clients, one load of their bundle
    assert list(lean._CONTEXTS) == [str(cert)]

    # A client with another bundle (another server's certificate) gets a context of its own: it
    # does not trust the first server, which a context shared with the first client would.
    (tmp_path / "second").mkdir()
    _, other, loop2 = _tls_server(tmp_path / "second")
    loop2.call_soon_threadsafe(loop2.stop)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(other))

    async def run_other() -> object:
        session = aioboto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name="us-east-1")
        acct = AccountSession(AccountConfig(name="b", endpoint_url=url), session, ScanSettings(max_attempts=1),
                              "us-east-1")
        try:
            return await call("GetCallerIdentity", (await acct.client("sts")).get_caller_identity())
        finally:
            await acct.aclose()

    try:
        refused = asyncio.run(run_other())
    finally:
        loop.call_soon_threadsafe(loop.stop)
    assert isinstance(refused, Failed) and "SSL" in refused.error.code + refused.error.message
    assert sorted(lean._CONTEXTS) == sorted([str(cert), str(other)])


# ----------------------------------------------------------------------------- prepared headers

_names = st.sampled_from(["Host", "host", "HOST", "Content-Length", "content-length", "X-Amz-Date", "x-amz-date", "Range"])
_operations = st.lists(st.tuples(st.sampled_from(["set", "del", "get", "in"]), _names, st.text(max_size=3)), max_size=25)


@given(initial=st.lists(st.tuples(_names, st.text(max_size=3)), max_size=6), operations=_operations)
def test_lean_headers_behave_as_botocore_headers(initial, operations):
    theirs, mine = HeadersDict(initial), lean._LeanHeadersDict(initial)
    for op, name, value in operations:
        if op == "set":
            theirs[name] = mine[name] = value
        elif op == "del":
            assert (name in theirs) == (name in mine)
            if name in theirs:
                del theirs[name]
                del mine[name]
        elif op == "get":
            assert theirs.get(name) == mine.get(name)
        else:
            assert (name in theirs) == (name in mine)
        assert list(theirs.items()) == list(mine.items())  # the first spelling of each name, in order
        assert len(theirs) == len(mine) and repr(theirs) == repr(mine)
    assert list(theirs.copy().items()) == list(mine.copy().items())


def test_a_lean_client_prepares_its_requests_with_lean_headers(moto, aws):
    aws("s3").create_bucket(Bucket="lean-bucket")
    prepared: list = []

    async def scenario() -> None:
        session = aioboto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
        acct = AccountSession(AccountConfig(name="a", endpoint_url=moto.endpoint), session, ScanSettings(), "us-east-1")
        try:
            s3 = await acct.client("s3")
            s3.meta.events.register("before-send", lambda request, **_: prepared.append(type(request.headers)))
            await s3.get_bucket_versioning(Bucket="lean-bucket")
            await s3.put_bucket_versioning(Bucket="lean-bucket", VersioningConfiguration={"Status": "Enabled"})
        finally:
            await acct.aclose()

    asyncio.run(scenario())
    assert prepared == [lean._LeanHeadersDict, lean._LeanHeadersDict]
