"""Per-account aioboto3 sessions and shared clients (one per service and region)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aioboto3
from aiobotocore.config import AioConfig
from botocore.loaders import Loader, create_loader

from auditor.collect.calls import Failed, call
from auditor.collect.lean import lean_client
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
        # total_max_attempts counts the first try; botocore's max_attempts would count retries only.
        retries={"mode": "adaptive", "total_max_attempts": settings.max_attempts},
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


# One botocore data loader per data path for the whole process (see ``share_loader``).
_LOADERS: dict[Any, Loader] = {}


def share_loader(botocore_session: Any) -> None:
    """Give ``botocore_session`` this process's data loader for its data path.

    Every botocore session loads its own copy of each service model and endpoint ruleset, and a
    scan opens a session per account: for five clients, about 170 ms of CPU and 100,000 objects
    in reference cycles per account, which the garbage collector then walks in long pauses that
    hold up every request in flight. The clients of one session already share what its loader
    loaded; here the sessions of one process share one loader for each data path
    (``AWS_DATA_PATH`` or the profile's ``data_path``, as botocore reads it), and with it the
    models it loaded.
    """
    if getattr(botocore_session, "_auditor_loader", False) or not callable(
            getattr(botocore_session, "register_component", None)):
        return
    path = botocore_session.get_config_variable("data_path")
    loader = _LOADERS.get(path)
    if loader is None:
        loader = _LOADERS[path] = create_loader(path)
    botocore_session.register_component("data_loader", loader)
    botocore_session._auditor_loader = True


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
                config = config.merge(AioConfig(retries={"mode": "adaptive",
                                                         "total_max_attempts": min(3, self.settings.max_attempts)}))
            share_loader(getattr(self.session, "_session", None))
            kwargs: dict[str, Any] = {"region_name": region, "config": config}
            if self.config.endpoint_url:
                kwargs["endpoint_url"] = self.config.endpoint_url
            client = await self._stack.enter_async_context(self.session.client(service, **kwargs))
            # Also when the endpoint comes from AWS_ENDPOINT_URL(_S3_CONTROL) or the shared config: a custom
            # endpoint has no ``<account>.host`` name, and resolving one costs every retry (tens of seconds).
            if service == "s3control" and (self.config.endpoint_url or not _is_aws_endpoint(client.meta.endpoint_url)):
                client.meta.events.register("before-sign.s3-control.*", _strip_account_host)
            lean_client(client)
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
