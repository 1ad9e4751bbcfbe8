"""A fault-injecting HTTP proxy in front of the moto server, for tests.

Requests pass through unchanged unless a fault matches: then the proxy answers itself
(an S3-style XML error, a delay, a dropped connection, a body cut short or garbled, a page
token served twice), the way a real endpoint would. The clients under test are the real
aioboto3 clients, pointed at the proxy's URL. :func:`api_name` names each request by the AWS
operation it is, so faults can be aimed at one API (see :func:`fault_for`).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class Fault:
    """Answer requests that ``match`` with ``status``/``code`` (at most ``times`` times; None = always)."""

    match: Callable[[web.Request], bool]
    status: int = 403
    code: str = "AccessDenied"
    message: str = "Access Denied"
    delay: float = 0.0  # seconds to wait before answering (or forwarding, when status is 0)
    times: int | None = None
    body_contains: bytes | None = None  # also require this in the request body (query APIs: b"Action=AssumeRole")
    rewrite: Callable[[bytes], bytes] | None = None  # with status 0: forward, then alter the answer's body
    # with status 0: "reset" drops the connection without an answer; "short" forwards the answer but
    # declares a Content-Length longer than the body it sends, then closes the connection.
    transport: str | None = None
    # with status 0: alter the request before forwarding it (path with query, body)
    request_rewrite: Callable[[str, bytes], tuple[str, bytes]] | None = None
    hits: int = 0

    def applies(self, request: web.Request, body: bytes) -> bool:
        return ((self.times is None or self.hits < self.times) and self.match(request)
                and (self.body_contains is None or self.body_contains in body))


def s3_subresource(name: str, method: str = "GET") -> Callable[[web.Request], bool]:
    """Match an S3 bucket subresource call such as ``?policy`` or ``?cors``."""
    return lambda r: r.method == method and name in r.query and not r.path.startswith("/v20180820")


@dataclass
class FaultProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)
    apis: Counter = field(default_factory=Counter)  # requests per AWS operation (api_name)
    log: list[str] = field(default_factory=list)  # every request's AWS operation, in the order they came
    recorded: list[tuple[str, str, dict[str, str], bytes]] | None = None  # a list: (method, path, headers, body) of each

    def start(self) -> str:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve(ready))
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.url

    async def _serve(self, ready: threading.Event) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        ready.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        _BODY.set(body)
        self.seen[(request.method, _api_hint(request, body))] += 1
        self.apis[api_name(request, body)] += 1
        self.log.append(api_name(request, body))
        if self.recorded is not None:
            self.recorded.append((request.method, request.path_qs, dict(request.headers), body))
        rewrite = None
        transport = None
        path_qs = request.path_qs
        for fault in self.faults:
            if fault.applies(request, body):
                fault.hits += 1
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.transport == "reset":
                    request.transport.abort()
                    raise ConnectionResetError("fault: connection reset")
                transport = fault.transport
                if fault.request_rewrite is not None:
                    path_qs, body = fault.request_rewrite(path_qs, body)
                if fault.status and request.headers.get("X-Amz-Target"):  # JSON APIs (KMS)
                    body_json = json.dumps({"__type": fault.code, "message": fault.message})
                    return web.Response(status=fault.status, body=body_json.encode(),
                                        content_type="application/x-amz-json-1.1")
                if fault.status:
                    error = f"<Code>{fault.code}</Code><Message>{fault.message}</Message>"
                    if request.content_type == "application/x-www-form-urlencoded":  # query APIs (STS, IAM)
                        body = f"<ErrorResponse><Error><Type>Sender</Type>{error}</Error><RequestId>fault</RequestId></ErrorResponse>"
                    else:  # S3 REST
                        body = f'<?xml version="1.0" encoding="UTF-8"?><Error>{error}<RequestId>fault</RequestId></Error>'
                    return web.Response(status=fault.status, body=body.encode(), content_type="application/xml")
                rewrite = fault.rewrite
                break
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._session.request(request.method, self.upstream + path_qs, data=body,
                                         headers=headers, allow_redirects=False) as resp:
            data = await resp.read()
            if rewrite is not None:
                data = rewrite(data)
            out_headers = {k: v for k, v in resp.headers.items()
                           if k.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection")}
            if transport == "short":
                return await _short_answer(request, resp.status, out_headers, data)
            return web.Response(status=resp.status, body=data, headers=out_headers)

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._runner.cleanup()
            await self._session.close()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _api_hint(request: web.Request, body: bytes = b"") -> str:
    """A readable name for the call: the S3 subresource, or the query's Action for query APIs."""
    if "Action" in request.query:
        return request.query["Action"]
    if body.startswith(b"Action="):
        return body.split(b"&", 1)[0][7:].decode()
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.split(".")[-1]
    sub = next((k for k in request.query if k in ("policy", "cors", "encryption", "publicAccessBlock",
                                                   "ownershipControls", "versioning", "location", "list-type")), "")
    return sub or ("object" if request.path.count("/") > 1 else "bucket")


async def _short_answer(request: web.Request, status: int, headers: dict, data: bytes) -> web.StreamResponse:
    """Headers promising more bytes than follow, then a closed connection (a body cut short in transit)."""
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_length = len(data) + 512
    await resp.prepare(request)
    await resp.write(data[: max(0, len(data) // 2)])
    request.transport.close()
    return resp


# --------------------------------------------------------------------------- aiming faults at one API

_S3_SUBRESOURCES = {"location": "GetBucketLocation", "policy": "GetBucketPolicy", "cors": "GetBucketCors",
                    "encryption": "GetBucketEncryption", "publicAccessBlock": "GetPublicAccessBlock",
                    "ownershipControls": "GetBucketOwnershipControls", "versioning": "GetBucketVersioning",
                    "list-type": "ListObjectsV2"}


def api_name(request: web.Request, body: bytes = b"") -> str:
    """The AWS operation a request is (``GetBucketPolicy``, ``AssumeRole``, ``DescribeKey``, …)."""
    if "Action" in request.query:
        return request.query["Action"]
    if body.startswith(b"Action="):
        return body.split(b"&", 1)[0][7:].decode()
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.split(".")[-1]
    if request.path.startswith("/v20180820/configuration/publicAccessBlock"):
        return "GetAccountPublicAccessBlock"
    if request.path.startswith("/v20180820"):
        return "s3control"
    parts = [p for p in request.path.split("/") if p]
    if not parts:
        return "ListBuckets"
    for key, name in _S3_SUBRESOURCES.items():
        if key in request.query:
            return name if request.method == "GET" else f"{request.method}:{name}"
    if len(parts) == 1:
        return {"HEAD": "HeadBucket", "GET": "ListObjects"}.get(request.method, request.method + ":bucket")
    return {"HEAD": "HeadObject", "GET": "GetObject"}.get(request.method, request.method + ":object")


def on_api(api: str) -> Callable[[web.Request], bool]:
    """Match requests of one operation (query APIs carry the name in the body: see ``body_contains``)."""
    return lambda r: _api_from_request(r) == api


_BODY: contextvars.ContextVar[bytes] = contextvars.ContextVar("body", default=b"")


def _api_from_request(request: web.Request) -> str:
    return api_name(request, _BODY.get())


# Page markers by API: what to set so that the answer claims another page with the same token.
def _repeat_page(api: str) -> Callable[[bytes], bytes]:
    import json
    import re

    def xml(truncated: bytes | None, token: bytes, close_tag: bytes) -> Callable[[bytes], bytes]:
        def rewrite(data: bytes) -> bytes:
            if truncated is not None:
                data = re.sub(rb"<" + truncated + rb">\w+</" + truncated + rb">", b"", data)
            inject = (b"<" + truncated + b">true</" + truncated + b">" if truncated else b"") + token
            return data.replace(close_tag, inject + close_tag, 1)
        return rewrite

    if api == "ListObjectsV2":
        return xml(b"IsTruncated", b"<NextContinuationToken>same-token</NextContinuationToken>", b"</ListBucketResult>")
    if api == "ListBuckets":
        return xml(None, b"<ContinuationToken>same-token</ContinuationToken>", b"</ListAllMyBucketsResult>")
    if api == "GetAccountAuthorizationDetails":
        def iam(data: bytes) -> bytes:
            data = re.sub(rb"<IsTruncated>\w+</IsTruncated>", b"", data)
            data = re.sub(rb"<Marker>[^<]*</Marker>", b"", data)
            return data.replace(b"</GetAccountAuthorizationDetailsResult>",
                                b"<IsTruncated>true</IsTruncated><Marker>same-marker</Marker>"
                                b"</GetAccountAuthorizationDetailsResult>", 1)
        return iam
    if api in ("ListAliases", "ListGrants"):
        def kms(data: bytes) -> bytes:
            doc = json.loads(data or b"{}")
            doc.update(Truncated=True, NextMarker="same-marker")
            return json.dumps(doc).encode()
        return kms
    raise ValueError(f"{api} is not paginated")


PAGINATED = ("ListBuckets", "ListObjectsV2", "GetAccountAuthorizationDetails", "ListAliases", "ListGrants")
KINDS = ("refused", "500", "reset", "timeout", "truncated", "garbled", "short", "repeated-token")


def fault_for(api: str, kind: str, *, timeout: float = 1.0) -> Fault:
    """A fault of ``kind`` (one of KINDS) on every request of operation ``api``."""
    body = f"Action={api}".encode() if api in QUERY_APIS else None
    match = (lambda r: True) if body else on_api(api)
    common = {"match": match, "body_contains": body}
    if kind == "refused":
        return Fault(status=403, code="AccessDenied", message=f"fault: {api} refused", **common)
    if kind == "500":
        return Fault(status=500, code="InternalError", message="We encountered an internal error.", **common)
    if kind == "reset":
        return Fault(status=0, transport="reset", **common)
    if kind == "timeout":
        return Fault(status=0, delay=timeout + 1.5, **common)
    if kind == "truncated":
        return Fault(status=0, rewrite=lambda d: d[: len(d) // 2], **common)
    if kind == "garbled":
        return Fault(status=0, rewrite=lambda d: b"\x00\xff<<garbled \x1b]0;x\x07" + d[::-1][:64], **common)
    if kind == "short":
        return Fault(status=0, transport="short", **common)
    if kind == "repeated-token":
        # Every answer claims a next page with the same token; a request for that page gets the
        # first page again (the token is dropped before forwarding), as a looping server would.
        return Fault(status=0, rewrite=_repeat_page(api), request_rewrite=_drop_same_token, **common)
    raise ValueError(kind)


QUERY_APIS = ("GetCallerIdentity", "AssumeRole", "GetAccountAuthorizationDetails", "ListAccessKeys")


def _drop_same_token(path_qs: str, body: bytes) -> tuple[str, bytes]:
    import re

    path_qs = re.sub(r"[?&](continuation-token|ContinuationToken|Marker)=same-(token|marker)", "", path_qs)
    if "?" not in path_qs and "&" in path_qs:
        path_qs = path_qs.replace("&", "?", 1)
    body = re.sub(rb"&?Marker=same-marker", b"", body)
    body = re.sub(rb',?\s*"Marker":\s*"same-marker"', b"", body).replace(b"{,", b"{")
    return path_qs, body
