"""AWS's definition of a "public" bucket policy (S3 User Guide, "Blocking public access to your
Amazon S3 storage", section "The meaning of 'public'").

A policy is public when an Allow grants to a non-fixed principal ("*", ``{"AWS": "*"}``, or any
NotPrincipal) unless its conditions pin the request to fixed values of one of these keys.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from auditor.policy.conditions import parse_operator
from auditor.policy.evaluator import StatementRef, compile_policy

# Keys whose fixed values make a grant non-public (the S3 documentation's list).
FIXING_KEYS = frozenset(k.lower() for k in (
    "aws:SourceArn", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceOwner", "aws:SourceAccount",
    "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalAccount",
    "aws:PrincipalArn", "aws:userid", "aws:SourceIp", "s3:DataAccessPointArn", "s3:DataAccessPointAccount",
))
_FIXING_OPERATORS = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "IpAddress"}


def _fixed_value(key: str, value: str, op: str) -> bool:
    if key == "aws:sourceip":
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        # An IPv4 range wider than /8 (or IPv6 wider than /32) is not a fixed value.
        return net.prefixlen >= (8 if net.version == 4 else 32)
    if key == "aws:userid" and value.endswith(":*"):
        return True  # "AROLEID:*" names the sessions of one role
    return "*" not in value and "?" not in value or op in ("StringEquals", "StringEqualsIgnoreCase", "ArnEquals")


def _pinned(statement: Mapping[str, Any]) -> bool:
    for operator, pairs in (statement.get("Condition") or {}).items():
        try:
            prefix, op, if_exists = parse_operator(operator)
        except ValueError:
            continue
        if prefix == "ForAllValues" or if_exists or op not in _FIXING_OPERATORS:
            continue
        for key, values in pairs.items():
            values = values if isinstance(values, list) else [values]
            if key.lower() in FIXING_KEYS and values and all(_fixed_value(key.lower(), str(v), op) for v in values):
                return True
    return False


def is_public_policy(doc: Any, owner_account: str | None = None) -> tuple[bool, tuple[StatementRef, ...]]:
    """(public?, the statements that make it so)."""
    if doc is None:
        return False, ()
    policy = compile_policy(doc, "bucket-policy", "resource")
    offending = []
    for stmt in policy.statements:
        if not stmt.allow or stmt.principals is None:
            continue
        wide = stmt.not_principal or stmt.principals.any
        if wide and not _pinned(stmt.ref.statement):
            offending.append(stmt.ref)
    return bool(offending), tuple(offending)
