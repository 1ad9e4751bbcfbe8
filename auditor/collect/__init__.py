"""Collectors: the only async, boto-calling code. Collectors never judge.

``collect(config)`` runs every account concurrently (bounded by one semaphore on API calls)
and returns a Snapshot. A failed call is recorded on the snapshot; an account that cannot be
opened is listed as skipped with the reason; nothing stops the rest of the scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TextIO

import aioboto3

from auditor import machine
from auditor.collect import iam as iam_mod
from auditor.collect import kms as kms_mod
from auditor.collect import objects as objects_mod
from auditor.collect import organizations as org_mod
from auditor.collect import s3 as s3_mod
from auditor.collect import workers as workers_mod
from auditor.collect.calls import Answer, Failed, Limiter, call
from auditor.collect.session import AccountSession, SessionFactory, open_account
from auditor.config import AccountConfig, Config, ScanSettings
from auditor.errors import AuditorError
from auditor.model import AccountState, ApiError, BucketState, Integration, SkippedAccount, Snapshot, UserState
from auditor.redact import redact, redact_error

REQUIRED_READS = tuple(dict.fromkeys(s3_mod.READS + iam_mod.READS + kms_mod.READS + objects_mod.READS
                                     + org_mod.READS + ("sts:AssumeRole",)))


class ProgressSink(Protocol):
    def add(self, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...


class _NoProgress:
    def add(self, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def collect(config: Config, integrations: Sequence[Integration] | None = None, *,
            progress: ProgressSink | None = None, session_factory: SessionFactory = aioboto3.Session) -> Snapshot:
    """Collect a snapshot of every configured account (the single event loop run of the program)."""
    with machine.fewer_collections():
        return machine.run(collect_async(config, integrations, progress=progress, session_factory=session_factory))


async def collect_async(config: Config, integrations: Sequence[Integration] | None = None, *,
                        progress: ProgressSink | None = None,
                        session_factory: SessionFactory = aioboto3.Session) -> Snapshot:
    integrations = tuple(config.integrations if integrations is None else integrations)
    progress = progress or _NoProgress()
    started = now_iso()
    limit = Limiter(config.scan.concurrency)
    targets = list(config.accounts)
    org_skipped: list[SkippedAccount] = []
    if config.organization is not None:
        members, org_skipped = await org_mod.member_accounts(config.organization, config.scan, limit, session_factory)
        known = {a.name for a in targets}
        targets += [m for m in members if m.name not in known]
    # Every account is opened and identified first: an account listed twice (two labels, or a label and the
    # organization) is collected once, under its first label, with the integrations of every label.
    opened = await asyncio.gather(*(open_and_identify(a, config, limit, session_factory) for a in targets))
    first: dict[tuple, str] = {}  # what makes a scan of an account -> label it is collected under
    alias: dict[str, str] = {}
    for acct_conf, got in zip(targets, opened, strict=True):
        if isinstance(got, SkippedAccount):
            continue
        acct, account_id = got
        # An id of its own: from STS, or configured. A provider without STS (and no account_id) gives every
        # account the same placeholder, which says nothing about which account it is.
        identified = "sts" not in acct.unsupported or bool(acct_conf.account_id)
        # The same account through the same endpoint, as the same provider and with the same buckets: one scan.
        key = ((account_id, acct_conf.endpoint_url, acct_conf.provider, acct_conf.buckets) if identified
               else (acct_conf.name,))
        if key in first:
            alias[acct_conf.name] = first[key]
            await _close(acct)
        else:
            first[key] = acct_conf.name
    if alias:
        integrations = tuple(dataclasses.replace(x, account=alias[x.account]) if x.account in alias else x
                             for x in integrations)
    results: list[AccountState | SkippedAccount | None] = [None] * len(targets)

    async def one(i: int, acct_conf: AccountConfig) -> None:
        got = opened[i]
        if acct_conf.name in alias:
            return
        if isinstance(got, SkippedAccount):
            results[i] = got
            return
        mine = [x for x in integrations if x.account == acct_conf.name]
        results[i] = await collect_account(acct_conf, mine, config, limit, progress, session_factory, opened=got)

    # Worker processes only with the real session factory: an injected one (tests, emulators)
    # cannot be handed to another process.
    pool = workers_mod.BucketPool(config.scan) if session_factory is aioboto3.Session else None
    token = workers_mod.POOL.set(pool)
    try:
        async with asyncio.TaskGroup() as tg:
            for i, a in enumerate(targets):
                tg.create_task(one(i, a))
    finally:
        workers_mod.POOL.reset(token)
        if pool is not None:
            pool.close()
    accounts = tuple(r for r in results if isinstance(r, AccountState))
    skipped = tuple(org_skipped) + tuple(r for r in results if isinstance(r, SkippedAccount))
    return Snapshot(started_at=started, finished_at=now_iso(), accounts=accounts, skipped=skipped,
                    integrations=integrations)


async def open_and_identify(acct_conf: AccountConfig, config: Config, limit: Limiter,
                            session_factory: SessionFactory) -> tuple[AccountSession, str] | SkippedAccount:
    """The account's session and its id, or why it cannot be scanned."""
    try:
        acct = await open_account(acct_conf, config.scan, session_factory)
    except AuditorError as e:
        return SkippedAccount(name=acct_conf.name, reason=redact(str(e))[:500])
    except Exception as e:  # noqa: BLE001 — a profile that cannot be loaded, an unreadable answer
        return SkippedAccount(name=acct_conf.name, reason=f"cannot open the account ({redact_error(e, 500)})")
    try:
        account_id, err = await _account_id(acct, limit)
    except Exception as e:  # noqa: BLE001
        account_id, err = None, ApiError("GetCallerIdentity", "CollectorError", redact_error(e))
    if err is not None or account_id is None:
        await _close(acct)
        return SkippedAccount(name=acct_conf.name,
                              reason=f"cannot identify the account: {err.describe() if err else 'no answer'}")
    return acct, account_id


async def _close(acct: AccountSession) -> None:
    try:
        await acct.aclose()
    except Exception:  # noqa: BLE001 — closing a client whose connection broke
        pass


async def collect_account(acct_conf: AccountConfig, integrations: list[Integration], config: Config,
                          limit: Limiter, progress: ProgressSink,
                          session_factory: SessionFactory,
                          opened: tuple[AccountSession, str] | None = None) -> AccountState | SkippedAccount:
    got = opened or await open_and_identify(acct_conf, config, limit, session_factory)
    if isinstance(got, SkippedAccount):
        return got
    acct, account_id = got
    try:
        return await _collect_open_account(acct, account_id, integrations, config, limit, progress)
    except Exception as e:  # noqa: BLE001
        # Anything unexpected in one account is recorded on that account; every other account goes on.
        return SkippedAccount(name=acct_conf.name, reason=f"collection failed ({redact_error(e, 500)})")
    finally:
        await _close(acct)


async def _warm(acct: AccountSession, service: str) -> None:
    """Make the account's ``service`` client ahead of its first call; a client that cannot be made
    is reported by that call."""
    with contextlib.suppress(Exception):
        await acct.client(service)


async def _account_id(acct: AccountSession, limit: Limiter) -> tuple[str | None, ApiError | None]:
    if acct.config.account_id:
        return acct.config.account_id, None
    if "sts" in acct.unsupported:
        return "000000000000", None
    sts = await acct.client("sts")
    # The S3 client, the first the account's collection needs, is made while STS answers. A call that
    # fails before it is sent (no credentials) fails before the task starts, and it never does.
    warm = asyncio.create_task(_warm(acct, "s3"))
    result: Answer[dict] | None = None
    try:
        result = await call("GetCallerIdentity", sts.get_caller_identity(), limit)
    finally:
        if result is None or isinstance(result, Failed):
            warm.cancel()  # the account is not scanned (once the client is made, this does nothing)
        await asyncio.gather(warm, return_exceptions=True)
    if isinstance(result, Failed):
        return None, result.error
    resp = result.value
    account = resp.get("Account") if isinstance(resp, dict) else None
    if not (isinstance(account, str) and account):
        return None, ApiError("GetCallerIdentity", "MalformedResponse", "the answer holds no account id")
    return account, None


async def _collect_open_account(acct: AccountSession, account_id: str, integrations: list[Integration],
                                config: Config, limit: Limiter,
                                progress: ProgressSink) -> AccountState | SkippedAccount:
    errors: list[ApiError] = []

    key_reads = kms_mod.KeyReads(acct, limit)
    try:
        buckets_task = asyncio.create_task(s3_mod.list_buckets(acct, limit))
        pab_task = asyncio.create_task(s3_mod.account_public_access_block(acct, account_id, limit))
        iam_task = asyncio.create_task(_iam(acct, limit))

        try:
            entries, err = await buckets_task
        except Exception as e:  # noqa: BLE001
            entries, err = [], ApiError("ListBuckets", "CollectorError", redact_error(e))
        if err:
            errors.append(err)
        progress.add(len(entries))

        async def settle(states: list[BucketState]) -> list[BucketState]:
            # The buckets of integrations the engine will infer are probed as soon as they are in
            # (inference needs IAM, read meanwhile), not after the last bucket of the account; the keys
            # they name are read from then on too.
            states = await _probe_inferred(acct, account_id, states, await iam_task, integrations, config, limit)
            key_reads.start(kms_mod.keys_used(states))
            return states

        buckets = await workers_mod.collect_buckets(acct, account_id, entries, integrations, config.scan, limit,
                                                    progress.advance, settle)
        try:
            pab, pab_err = await pab_task
        except Exception as e:  # noqa: BLE001
            pab, pab_err = None, ApiError("GetAccountPublicAccessBlock", "CollectorError", redact_error(e))
        if pab_err:
            errors.append(pab_err)
        iam = await iam_task
        errors.extend(iam["errors"])

        try:
            keys, kms_errors = await key_reads.finish(kms_mod.keys_used(buckets))
        except Exception as e:  # noqa: BLE001 — a bad KMS answer affects the KMS rules, not the account
            keys, kms_errors = (), [ApiError("DescribeKey", "CollectorError", redact_error(e))]
        errors.extend(kms_errors)

        wanted_users = {i.user_name for i in integrations if i.user_name}
        users = list(iam["users"])
        if wanted_users and "iam" not in acct.unsupported:
            idx = [n for n, u in enumerate(users) if u.name in wanted_users]
            enriched = await asyncio.gather(*(_access_keys(acct, users[n], limit) for n in idx))
            for n, u in zip(idx, enriched, strict=True):
                users[n] = u
        return AccountState(
            name=acct.config.name,
            account_id=account_id,
            provider=acct.config.provider,
            public_access_block=pab,
            users=tuple(users),
            roles=tuple(iam["roles"]),
            groups=tuple(iam["groups"]),
            managed_policies=iam["managed"],
            keys=keys,
            buckets=tuple(buckets),
            errors=tuple(errors),
            unsupported=acct.unsupported,
        )
    finally:
        await key_reads.aclose()


async def _iam(acct: AccountSession, limit: Limiter) -> dict:
    try:
        return await iam_mod.collect_iam(acct, limit)
    except Exception as e:  # noqa: BLE001 — IAM rules go unknown; the buckets are still judged
        return {"users": [], "groups": [], "roles": [], "managed": {},
                "errors": [ApiError("GetAccountAuthorizationDetails", "CollectorError", redact_error(e))]}


async def _probe_inferred(acct: AccountSession, account_id: str, buckets: list[BucketState], iam: dict,
                          integrations: list[Integration], config: Config,
                          limit: Limiter) -> list[BucketState]:
    """Buckets of integrations the engine will infer (a bucket policy naming V7, a role Datature assumes)
    sampled and probed as a configured integration's are: its zones listed, its objects read.

    Whether a bucket is an inferred integration's depends on that bucket and the account's IAM only,
    so ``buckets`` can be any part of the account's buckets."""
    from auditor.infer import infer_integrations

    state = AccountState(name=acct.config.name, account_id=account_id, provider=acct.config.provider,
                         users=tuple(iam["users"]), roles=tuple(iam["roles"]), groups=tuple(iam["groups"]),
                         managed_policies=iam["managed"], buckets=tuple(buckets), errors=tuple(iam["errors"]),
                         unsupported=acct.unsupported)
    now = now_iso()
    try:
        inferred = infer_integrations(Snapshot(now, now, (state,), integrations=tuple(integrations)),
                                      config.rule_packs())
    except Exception:  # noqa: BLE001 — the engine's inference meets the same data and says what it cannot read
        return buckets
    mine: dict[str, list[Integration]] = {}
    for integ in inferred:
        mine.setdefault(integ.bucket, []).append(integ)
    if not mine:
        return buckets

    async def one(bucket: BucketState) -> BucketState:
        found = mine.get(bucket.name)
        if not found:
            return bucket
        try:
            s3 = await acct.client("s3", None if acct.config.endpoint_url else bucket.region)
            listed = {listing.prefix for listing in bucket.listings}
            extra = [p for p in s3_mod.sample_prefixes(found) if p not in listed]
            if extra:
                objs, listings, errs = await s3_mod.list_sample(s3, bucket.name, extra, config.scan, limit)
                known = {o.key for o in bucket.objects}
                bucket = dataclasses.replace(
                    bucket, objects=bucket.objects + tuple(o for o in objs if o.key not in known),
                    listings=bucket.listings + listings,
                    errors=bucket.errors + tuple(e for e in errs if bucket.error(e.api) is None))
            return await objects_mod.probe_objects(acct, bucket, found, config.scan, limit)
        except Exception as e:  # noqa: BLE001 — the rules that needed these reads say they could not verify
            return dataclasses.replace(bucket, errors=bucket.errors + (
                ApiError("ListObjectsV2", "CollectorError", redact_error(e)),))

    return list(await asyncio.gather(*(one(b) for b in buckets)))


async def _access_keys(acct: AccountSession, user: UserState, limit: Limiter) -> UserState:
    try:
        return await iam_mod.access_keys(acct, user, limit)
    except Exception as e:  # noqa: BLE001 — an unreadable answer about one user's keys
        return dataclasses.replace(user, errors=user.errors + (ApiError("ListAccessKeys", "CollectorError",
                                                                        redact_error(e)),))


def items_list(account: AccountConfig, bucket: str, prefix: str, out: TextIO, *, settings: ScanSettings | None = None,
               group_by: str = "file", extensions: tuple[str, ...] = (), on_page: Callable[[int], None] | None = None,
               session_factory: SessionFactory = aioboto3.Session) -> int:
    """Stream RedBrick's items list for ``s3://bucket/prefix`` into ``out`` (see collect.itemslist)."""
    from auditor.collect.itemslist import write_items_list

    async def run() -> int:
        acct = await open_account(account, settings or ScanSettings(), session_factory)
        try:
            s3 = await acct.client("s3")
            return await write_items_list(s3, bucket, prefix, out, group_by=group_by, extensions=extensions,
                                          on_page=on_page)
        finally:
            await acct.aclose()

    return machine.run(run())


__all__ = ["collect", "collect_async", "items_list", "REQUIRED_READS", "now_iso", "dataclasses", "Callable"]
