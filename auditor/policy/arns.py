"""ARNs, parsed once, by policyuniverse's parser (the one place that splits an ARN into parts).

policyuniverse loads its catalogue of every AWS action when it is imported (about 80 ms and 20 MiB),
so it is imported at the first ARN parsed: a command that parses none (``--help``, a config error)
does not pay for it.

``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``: the account is 12 digits (or empty, ``*``
or ``aws``); anything else is not an ARN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


@lru_cache(maxsize=8192)
def parse_arn(text: str | None) -> Arn | None:
    """The parts of ``text``, or None when it is not an ARN (a bare account id is not an ARN)."""
    if not text or not text.startswith("arn:"):
        return None
    from policyuniverse.arn import ARN

    parsed = ARN(text)
    if parsed.error or parsed.partition is None:
        return None
    return Arn(parsed.partition, parsed.tech or "", parsed.region or "", parsed.account_number or "",
               parsed.name or "")


@lru_cache(maxsize=8192)
def arn_account(arn: str | None) -> str | None:
    """The account of an ARN, or the id itself for a bare 12-digit account id; None otherwise."""
    if not arn:
        return None
    if _ACCOUNT_ID.fullmatch(arn):
        return arn
    parsed = parse_arn(arn)
    return parsed.account if parsed and _ACCOUNT_ID.fullmatch(parsed.account) else None


def arn_region(arn: str | None) -> str | None:
    """The region of an ARN (``arn:aws:kms:eu-west-1:…`` → ``eu-west-1``); None when it has none."""
    parsed = parse_arn(arn)
    return parsed.region or None if parsed else None


def session_parts(arn: str | None) -> tuple[str, str, str, str] | None:
    """``arn:aws:sts::1:assumed-role/R/S`` → (partition, account, role name, session name); None otherwise."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "sts" or not parsed.resource.startswith("assumed-role/"):
        return None
    rest = parsed.resource[len("assumed-role/"):]
    if "/" not in rest:
        return None
    role, session = rest.split("/", 1)
    if not role or not session or not _ACCOUNT_ID.fullmatch(parsed.account):
        return None
    return parsed.partition, parsed.account, role, session


def role_name(arn: str) -> str:
    """The name of a role or user (the last path segment): ``arn:aws:iam::1:role/team/R`` → ``R``."""
    parsed = parse_arn(arn)
    resource = parsed.resource if parsed else arn
    return resource.rsplit("/", 1)[-1]


__all__ = ["Arn", "arn_account", "arn_region", "parse_arn", "role_name", "session_parts"]
