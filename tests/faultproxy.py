"""A fault-injecting HTTP proxy in front of the moto server, for tests.

Requests pass through unchanged unless a fault matches: then the proxy answers itself
(an S3-style XML error, a delay, a dropped connection), the way a real endpoint would.
The clients under test are the real aioboto3 clients, pointed at the proxy's URL.
"""

from __future__ import annotations

import asyncio
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
        self.seen[(request.method, _api_hint(request, body))] += 1
        rewrite = None
        for fault in self.faults:
            if fault.applies(request, body):
                fault.hits += 1
                if fault.delay:
                    await asyncio.sleep(fault.delay)
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
        async with self._session.request(request.method, self.upstream + request.path_qs, data=body,
                                         headers=headers, allow_redirects=False) as resp:
            data = await resp.read()
            if rewrite is not None:
                data = rewrite(data)
            out_headers = {k: v for k, v in resp.headers.items()
                           if k.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection")}
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
