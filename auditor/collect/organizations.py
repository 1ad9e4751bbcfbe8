"""AWS Organizations: the member accounts to scan, each through a named role."""

from __future__ import annotations

import dataclasses

from auditor.collect.calls import Failed, Limiter, Ok, RepeatedToken, call
from auditor.collect.session import SessionFactory, open_account
from auditor.config import AccountConfig, OrganizationConfig, ScanSettings
from auditor.errors import AuditorError
from auditor.model import SkippedAccount

READS = ("organizations:ListAccounts",)


async def member_accounts(org: OrganizationConfig, settings: ScanSettings, limit: Limiter,
                          session_factory: SessionFactory) -> tuple[list[AccountConfig], list[SkippedAccount]]:
    """Every active account of the organization as an AccountConfig; suspended ones skipped.

    The account whose credentials list the organization (the management or delegated-administrator
    account) is scanned with those credentials; every other one through ``role_name``, which exists in the
    member accounts (as OrganizationAccountAccessRole does) but need not in the management account."""
    base = AccountConfig(name="organization", profile=org.profile, role_arn=org.role_arn,
                         endpoint_url=org.endpoint_url, regions=org.regions)
    try:
        acct = await open_account(base, settings, session_factory)
    except AuditorError as e:
        return [], [SkippedAccount(name="organization", reason=f"cannot open the management account: {e}")]
    accounts: list[AccountConfig] = []
    skipped: list[SkippedAccount] = []
    try:
        own = await _own_account(acct, limit)
        client = await acct.client("organizations")
        token = None
        pages = RepeatedToken("ListAccounts", "NextToken")
        while True:
            params: dict[str, str] = {"NextToken": token} if token else {}
            result = await call("ListAccounts", client.list_accounts(**params), limit)
            if isinstance(result, Failed):
                return [], [SkippedAccount(name="organization",
                                           reason=f"cannot list the organization's accounts: {result.error.describe()}")]
            resp = result.value
            for a in resp.get("Accounts", []):
                if not isinstance(a, dict) or not isinstance(a.get("Id"), str):
                    continue
                account_id, status = a["Id"], str(a.get("Status", "ACTIVE"))
                if account_id in org.exclude:
                    continue
                if status != "ACTIVE":
                    skipped.append(SkippedAccount(name=account_id, account_id=account_id,
                                                  reason=f"account {a.get('Name', account_id)} is {status.lower()}"))
                    continue
                if account_id == own:
                    accounts.append(dataclasses.replace(base, name=account_id))
                    continue
                accounts.append(AccountConfig(
                    name=account_id, profile=org.profile,
                    role_arn=f"arn:aws:iam::{account_id}:role/{org.role_name}", external_id=org.external_id,
                    endpoint_url=org.endpoint_url, regions=org.regions, account_id=None))
            token = resp.get("NextToken")
            if not token:
                break
            repeated = pages.repeated(token)
            if repeated:
                skipped.append(SkippedAccount(name="organization", reason=f"the organization's account list is "
                                              f"incomplete: {repeated.describe()}"))
                break
    finally:
        await acct.aclose()
    return accounts, skipped


async def _own_account(acct, limit: Limiter) -> str | None:
    """The id of the account the organization's credentials belong to (None: unknown; every account is then
    reached through the member role)."""
    sts = await acct.client("sts")
    result = await call("GetCallerIdentity", sts.get_caller_identity(), limit)
    resp = result.value if isinstance(result, Ok) else None
    account = resp.get("Account") if isinstance(resp, dict) else None
    return account if isinstance(account, str) and account else None
