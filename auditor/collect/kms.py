"""KMS: the keys buckets encrypt with — who manages them and what their key policy allows."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from auditor.collect.calls import Failed, Limiter, RepeatedToken, call
from auditor.collect.session import AccountSession
from auditor.docshape import policy_problem
from auditor.model import ApiError, BucketState, KeyState
from auditor.policy.arns import arn_region
from auditor.redact import redact_error

READS = ("kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListAliases", "kms:ListGrants")

AWS_S3_ALIAS = "alias/aws/s3"


def keys_used(buckets: Iterable[BucketState]) -> dict[str, str | None]:
    """Key ids/ARNs/aliases referenced by default encryption and sampled objects → a region hint."""
    found: dict[str, str | None] = {}
    for b in buckets:
        for rule in b.encryption or ():
            default = rule.get("ApplyServerSideEncryptionByDefault") or {}
            if str(default.get("SSEAlgorithm", "")).startswith("aws:kms"):
                # No KMSMasterKeyID means the AWS-managed key aws/s3 (S3 default encryption docs).
                found.setdefault(default.get("KMSMasterKeyID") or AWS_S3_ALIAS, b.region)
        for obj in b.objects:
            if obj.kms_key_id:
                found.setdefault(obj.kms_key_id, b.region)
            elif obj.sse and obj.sse.startswith("aws:kms"):
                found.setdefault(AWS_S3_ALIAS, b.region)  # SSE-KMS without a key id: aws/s3
    return found


def _region_of(key_ref: str, hint: str | None) -> str | None:
    return arn_region(key_ref) or hint


async def _grants(kms: Any, key_id: str, limit: Limiter) -> tuple[tuple[dict[str, Any], ...] | None, ApiError | None]:
    """Every grant on the key (ListGrants, all pages): KMS weighs them with the key policy and IAM."""
    out: list[dict[str, Any]] = []
    marker = None
    seen = RepeatedToken("ListGrants", "NextMarker")
    while True:
        params: dict[str, Any] = {"KeyId": key_id, **({"Marker": marker} if marker else {})}
        result = await call("ListGrants", kms.list_grants(**params), limit)
        if isinstance(result, Failed):
            return None, result.error
        resp = result.value
        if not isinstance(resp, dict) or not isinstance(resp.get("Grants"), list):
            # botocore reads an unparseable JSON answer as an empty one: no Grants list is no answer.
            return None, ApiError("ListGrants", "MalformedResponse", "the answer holds no Grants list")
        for g in resp.get("Grants", []):
            if isinstance(g, dict):
                out.append({k: g[k] for k in ("GrantId", "Name", "GranteePrincipal", "Operations", "Constraints",
                                              "IssuingAccount", "RetiringPrincipal") if k in g})
        if not resp.get("Truncated") or not resp.get("NextMarker"):
            return tuple(out), None
        marker = resp.get("NextMarker")
        repeated = seen.repeated(marker)
        if repeated:
            return None, repeated


async def _no_grants() -> tuple[None, None]:
    return None, None


async def _aliases(acct: AccountSession, region: str,
                   limit: Limiter) -> tuple[dict[str, list[str]], list[ApiError]]:
    """Key id -> its alias names in ``region`` (ListAliases, all pages), and what could not be read."""
    errors: list[ApiError] = []
    aliases: dict[str, list[str]] = {}
    try:
        kms = await acct.client("kms", region)
    except Exception as e:  # noqa: BLE001 — a client that cannot be made is one unread answer
        return aliases, [ApiError("ListAliases", "CollectorError", redact_error(e))]
    marker = None
    pages = RepeatedToken("ListAliases", "NextMarker")
    while True:
        params: dict[str, Any] = {"Marker": marker} if marker else {}
        result = await call("ListAliases", kms.list_aliases(**params), limit)
        if isinstance(result, Failed):
            errors.append(result.error)
            break
        resp = result.value
        if not isinstance(resp, dict) or not isinstance(resp.get("Aliases"), list):
            # botocore reads an unparseable JSON answer as an empty one: no Aliases is no answer.
            errors.append(ApiError("ListAliases", "MalformedResponse", "the answer holds no Aliases list"))
            break
        for a in resp.get("Aliases", []):
            if isinstance(a, dict) and a.get("TargetKeyId") and a.get("AliasName"):
                names = aliases.setdefault(a["TargetKeyId"], [])
                if a["AliasName"] not in names:  # a page served twice lists its aliases once
                    names.append(a["AliasName"])
        if not resp.get("Truncated"):
            break
        marker = resp.get("NextMarker")
        err = pages.repeated(marker) or (None if marker else ApiError(
            "ListAliases", "MalformedResponse", "the answer said Truncated but gave no NextMarker"))
        if err:
            errors.append(err)
            break
    return aliases, errors


class KeyReads:
    """DescribeKey + GetKeyPolicy (and ListGrants) per referenced key, with aliases from ListAliases
    (per region).

    Each key's reads start as soon as a bucket names the key (``start``), not after the account's
    last bucket: the last buckets' reads are then the scan's tail, not these two round trips after
    them. ``finish`` answers for the keys the whole account names, in their order, as if every read
    had started then; ``aclose`` stops what is still running."""

    def __init__(self, acct: AccountSession, limit: Limiter) -> None:
        self.acct, self.limit = acct, limit
        self._keys: dict[tuple[str, str], asyncio.Task[KeyState]] = {}
        self._aliases: dict[str, asyncio.Task[tuple[dict[str, list[str]], list[ApiError]]]] = {}

    def _home(self, ref: str, hint: str | None) -> str:
        return _region_of(ref, hint) or self.acct.default_region

    def start(self, refs: dict[str, str | None]) -> None:
        """Start reading the keys of ``refs`` (from ``keys_used``) not read yet."""
        if "kms" in self.acct.unsupported:
            return
        for ref, hint in refs.items():
            region = self._home(ref, hint)
            # The aliases of each region are read while the keys are described, and a key's policy and
            # grants together once it is described: two round trips one after the other, not four.
            if region not in self._aliases:
                self._aliases[region] = asyncio.create_task(_aliases(self.acct, region, self.limit))
            if (ref, region) not in self._keys:
                self._keys[(ref, region)] = asyncio.create_task(self._contained(ref, region))

    async def finish(self, refs: dict[str, str | None]) -> tuple[tuple[KeyState, ...], list[ApiError]]:
        """The keys of ``refs`` (``keys_used`` of all the account's buckets) and what could not be read."""
        if not refs:
            return (), []
        if "kms" in self.acct.unsupported:
            return (), [ApiError("DescribeKey", "NotSupported", f"provider {self.acct.config.provider} has no KMS API")]
        self.start(refs)
        keys = [await self._keys[(ref, self._home(ref, hint))] for ref, hint in refs.items()]
        regions = sorted({self._home(r, h) for r, h in refs.items()})
        errors = [e for region in regions for e in (await self._aliases[region])[1]]
        unique: dict[str, KeyState] = {}
        for k in keys:
            if k.key_id in unique:
                merged = tuple(dict.fromkeys(unique[k.key_id].aliases + k.aliases))
                unique[k.key_id] = dataclasses.replace(unique[k.key_id], aliases=merged)
            else:
                unique[k.key_id] = k
        return tuple(unique.values()), errors

    async def aclose(self) -> None:
        tasks = [*self._keys.values(), *self._aliases.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _contained(self, ref: str, region: str) -> KeyState:
        # An answer about one key that cannot be read affects that key only, not the account.
        try:
            return await self._one(ref, region)
        except Exception as e:  # noqa: BLE001
            return KeyState(key_id=ref, arn=ref if ref.startswith("arn:") else "",
                            aliases=(ref,) if ref.startswith("alias/") else (),
                            errors=(ApiError("DescribeKey", "MalformedResponse", redact_error(e)),))

    async def _one(self, ref: str, region: str) -> KeyState:
        limit = self.limit
        kms = await self.acct.client("kms", region)
        key_errors: list[ApiError] = []
        described = await call("DescribeKey", kms.describe_key(KeyId=ref), limit)
        if isinstance(described, Failed):
            return KeyState(key_id=ref, arn=ref if ref.startswith("arn:") else "", errors=(described.error,),
                            aliases=(ref,) if ref.startswith("alias/") else ())
        meta = described.value["KeyMetadata"]
        # AWS-managed keys cannot be granted on by the customer: their grants are not read.
        answer, (grants, gerr) = await asyncio.gather(
            call("GetKeyPolicy", kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default"), limit),
            _grants(kms, meta["KeyId"], limit) if meta.get("KeyManager") != "AWS" else _no_grants())
        policy = None
        if isinstance(answer, Failed):
            key_errors.append(answer.error)
        else:
            pol = answer.value
            try:
                policy = json.loads(pol["Policy"]) if isinstance(pol.get("Policy"), str) else pol.get("Policy")
                problem = policy_problem(policy)
            except (ValueError, RecursionError) as e:
                problem = f"not JSON ({type(e).__name__}: {e})"[:300]
            if problem:
                policy = None
                key_errors.append(ApiError("GetKeyPolicy", "MalformedPolicy", problem))
        if gerr:
            key_errors.append(gerr)
        aliases, _ = await self._aliases[region]
        key_aliases = tuple(aliases.get(meta["KeyId"], ()))
        if ref.startswith("alias/") and ref not in key_aliases:
            key_aliases += (ref,)
        return KeyState(key_id=meta["KeyId"], arn=meta["Arn"], manager=meta.get("KeyManager"),
                        aliases=key_aliases, policy=policy, errors=tuple(key_errors), grants=grants)
