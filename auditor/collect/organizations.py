"""AWS Organizations: the member accounts to scan, each through a named role."""

from __future__ import annotations

import asyncio

from auditor.collect.calls import Failed, RepeatedToken, call
from auditor.collect.session import SessionFactory, open_account
from auditor.config import AccountConfig, OrganizationConfig, ScanSettings
from auditor.errors import AuditorError
from auditor.model import SkippedAccount

READS = ("organizations:ListAccounts",)


async def member_accounts(org: OrganizationConfig, settings: ScanSettings, limit: asyncio.Semaphore,
                          session_factory: SessionFactory) -> tuple[list[AccountConfig], list[SkippedAccount]]:
    """Active member accounts as AccountConfigs (assume ``role_name`` in each); suspended ones skipped."""
    base = AccountConfig(name="organization", profile=org.profile, role_arn=org.role_arn,
                         endpoint_url=org.endpoint_url, regions=org.regions)
    try:
        acct = await open_account(base, settings, session_factory)
    except AuditorError as e:
        return [], [SkippedAccount(name="organization", reason=f"cannot open the management account: {e}")]
    accounts: list[AccountConfig] = []
    skipped: list[SkippedAccount] = []
    try:
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
