"""Per-account aioboto3 sessions and shared clients (one per service and region)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aioboto3
from aiobotocore.config import AioConfig

from auditor.collect.calls import Failed, call
from auditor.config import AccountConfig, ScanSettings
from auditor.errors import AssumeRoleError

# Services each provider lacks (recorded on the snapshot as ``unsupported``).
UNSUPPORTED = {
    "aws": (),
    "wasabi": ("kms", "s3control", "public-access-block"),  # no Block Public Access, bucket or account
    "s3-compatible": ("iam", "kms", "s3control", "sts"),
}

SessionFactory = Callable[..., aioboto3.Session]


def client_config(settings: ScanSettings) -> AioConfig:
    """Adaptive retries (client-side rate limiting on throttling), a pool sized for the fan-out, and
    no per-request work whose answer the scanner does not use."""
    return AioConfig(
        retries={"mode": "adaptive", "max_attempts": settings.max_attempts},
        max_pool_connections=max(10, settings.concurrency),
        connect_timeout=min(10, settings.timeout),
        read_timeout=settings.timeout,
        user_agent_extra="auditor/0.1.0",
        # The scanner builds every request from fixed, well-formed parameters: validating them
        # again costs CPU on every call. Checksums only where S3 requires them (it requires none
        # for the reads the scanner makes).
        parameter_validation=False,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def _is_aws_endpoint(url: str | None) -> bool:
    host = re.sub(r"^https?://", "", url or "").split("/")[0].split(":")[0]
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


def _strip_account_host(request: Any, **_: Any) -> None:
    """s3control puts the account id in front of the host (``ID.endpoint``); a custom endpoint has no such host."""
    request.url = re.sub(r"^(https?://)\d{12}\.", r"\1", request.url, count=1)


def _fix_user_agent(client: Any) -> None:
    """Build the client's User-Agent once instead of twice per request.

    botocore rebuilds the header for every request from a dozen sanitised components (about a
    tenth of the scanner's CPU per request); only its feature-usage suffix can differ between
    requests, and nothing the scanner learns depends on it.
    """
    creator = getattr(client, "_user_agent_creator", None)
    if creator is None or not callable(getattr(creator, "to_string", None)):
        return
    text = creator.to_string()
    creator.to_string = lambda: text


# A bucket name S3's endpoint rules treat alike whatever its letters: a valid DNS label (lowercase letters,
# digits, single hyphens; 3-63 characters) without "--" (S3 Express, Outposts and access point aliases
# are told apart by "--" suffixes) and without "." or ":" (path style, ARNs). The rules read only its
# length (in substrings) and the label's validity; the resolved endpoint names it once, in the URL.
_PLAIN_BUCKET = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]")


def _cache_endpoints(client: Any, size: int = 4096) -> None:
    """Resolve an endpoint once per operation shape and bucket, not once per request.

    botocore evaluates the service's endpoint rules for every request (another tenth of the
    scanner's CPU). The rules read only the operation's static context parameters, the request
    members named as context parameters (``Bucket`` for S3) and the client's fixed settings
    (region, endpoint URL, FIPS, dual-stack), so the answer is the same for every request with the
    same operation and those members. Operations whose rules read other parts of the request
    (``operationContextParams``) are resolved every time. For a plain bucket name (``_PLAIN_BUCKET``), the
    rules are evaluated once per operation and name length, for a stand-in name, and the bucket's own name is
    put in the URL in its place (when the stand-in appears exactly once in the answer, and nowhere else).
    """
    resolver = getattr(client, "_ruleset_resolver", None)
    if resolver is None:
        return
    original = resolver.construct_endpoint
    cache: dict[Any, Any] = {}
    templates: dict[Any, Any] = {}

    async def construct_endpoint(operation_model: Any, call_args: Any, request_context: Any) -> Any:
        if operation_model.operation_context_parameters:
            return await original(operation_model, call_args, request_context)
        args = call_args or {}
        try:
            static = tuple((p.name, p.value) for p in operation_model.static_context_parameters)
            key = (static, tuple((p.name, args.get(p.member_name)) for p in operation_model.context_parameters))
            hash(key)
        except TypeError:  # a member that is not a plain value
            return await original(operation_model, call_args, request_context)
        if key in cache:
            return cache[key]
        bucket = args.get("Bucket")
        if isinstance(bucket, str) and _PLAIN_BUCKET.fullmatch(bucket):
            # Resolved once per operation and name length, for a stand-in of the same length and kind.
            stand_in = "q" * len(bucket)
            shape = (operation_model.name, static, len(bucket),
                     tuple((p.name, "" if p.member_name == "Bucket" else args.get(p.member_name))
                           for p in operation_model.context_parameters))
            if shape not in templates:
                found = await original(operation_model, {**args, "Bucket": stand_in}, request_context)
                usable = (found.url.count(stand_in) == 1 and stand_in not in repr(found.properties)
                          and stand_in not in repr(found.headers))
                templates[shape] = found if usable else None
            template = templates[shape]
            if template is not None:
                return template._replace(url=template.url.replace(stand_in, bucket))
        if len(cache) >= size:
            cache.clear()
        cache[key] = await original(operation_model, call_args, request_context)
        return cache[key]

    resolver.construct_endpoint = construct_endpoint


@dataclass
class AccountSession:
    """Clients for one account; close with ``aclose``."""

    config: AccountConfig
    session: aioboto3.Session
    settings: ScanSettings
    default_region: str = "us-east-1"
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def unsupported(self) -> tuple[str, ...]:
        return UNSUPPORTED[self.config.provider]

    async def client(self, service: str, region: str | None = None) -> Any:
        region = region or self.default_region
        key = (service, region)
        if key not in self._clients:
            config = client_config(self.settings)
            if service == "sts":
                # The first call of every account: an endpoint that does not answer (or no credentials) is
                # reported after a few seconds, not after every adaptive retry.
                config = config.merge(AioConfig(retries={"mode": "adaptive", "max_attempts": min(3, self.settings.max_attempts)}))
            kwargs: dict[str, Any] = {"region_name": region, "config": config}
            if self.config.endpoint_url:
                kwargs["endpoint_url"] = self.config.endpoint_url
            client = await self._stack.enter_async_context(self.session.client(service, **kwargs))
            # Also when the endpoint comes from AWS_ENDPOINT_URL(_S3_CONTROL) or the shared config: a custom
            # endpoint has no ``<account>.host`` name, and resolving one costs every retry (tens of seconds).
            if service == "s3control" and (self.config.endpoint_url or not _is_aws_endpoint(client.meta.endpoint_url)):
                client.meta.events.register("before-sign.s3-control.*", _strip_account_host)
            _fix_user_agent(client)
            _cache_endpoints(client)
            self._clients[key] = client
        return self._clients[key]

    async def aclose(self) -> None:
        await self._stack.aclose()


async def open_account(config: AccountConfig, settings: ScanSettings,
                       session_factory: SessionFactory = aioboto3.Session) -> AccountSession:
    """A session for the account: its profile, then ``role_arn`` assumed with ``external_id``."""
    region = config.regions[0] if config.regions else "us-east-1"
    base = session_factory(profile_name=config.profile) if config.profile else session_factory()
    if not config.role_arn:
        return AccountSession(config, base, settings, region)
    probe = AccountSession(config, base, settings, region)
    try:
        sts = await probe.client("sts")
        params = {"RoleArn": config.role_arn, "RoleSessionName": "auditor"}
        if config.external_id:
            params["ExternalId"] = config.external_id
        result = await call("AssumeRole", sts.assume_role(**params))
    finally:
        await probe.aclose()
    if isinstance(result, Failed):
        err = result.error
        raise AssumeRoleError(f"cannot assume {config.role_arn}: {err.code} {err.message}".strip())
    resp = result.value
    creds = resp.get("Credentials") if isinstance(resp, dict) else None
    if not isinstance(creds, dict) or not all(isinstance(creds.get(k), str) for k in
                                              ("AccessKeyId", "SecretAccessKey", "SessionToken")):
        raise AssumeRoleError(f"cannot assume {config.role_arn}: the AssumeRole answer holds no usable credentials")
    session = session_factory(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    return AccountSession(config, session, settings, region)
