"""KMS grants, decided with the key policy and IAM policies.

KMS Developer Guide, "Grants in AWS KMS": a grant lets its grantee principal use the key for the
grant's operations; "grants are considered along with key policies and IAM policies". A grant
only allows (it cannot deny), for the operations it lists, and only when the request's
encryption context satisfies its constraints (``EncryptionContextSubset``: these pairs are in
the context; ``EncryptionContextEquals``: the context is exactly these pairs; values compared
exactly, no wildcards).

Each grant becomes an Allow statement naming the grantee, so the evaluator weighs it like a
key-policy statement that names the principal — an explicit Deny anywhere still wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from auditor.policy.evaluator import CompiledPolicy, compile_policy


def grant_statement(grant: Mapping[str, Any]) -> dict[str, Any] | None:
    """The grant as an IAM-style Allow statement; None when it grants nothing usable."""
    grantee = grant.get("GranteePrincipal")
    ops = grant.get("Operations") or []
    if not isinstance(grantee, str) or not grantee or not isinstance(ops, list) or not ops:
        return None
    principal = {"Service": grantee} if grantee.endswith(".amazonaws.com") else {"AWS": grantee}
    gid = str(grant.get("GrantId") or "?")
    name = grant.get("Name")
    st: dict[str, Any] = {"Sid": f"grant {gid}" + (f" ({name})" if name else ""), "Effect": "Allow",
                          "Principal": principal, "Action": [f"kms:{op}" for op in ops if isinstance(op, str)],
                          "Resource": "*"}
    constraints = grant.get("Constraints") or {}
    condition: dict[str, dict[str, Any]] = {}
    if isinstance(constraints, Mapping):
        subset = constraints.get("EncryptionContextSubset")
        equals = constraints.get("EncryptionContextEquals")
        pairs: dict[Any, Any] = {}
        if isinstance(subset, Mapping):
            pairs.update(subset)
        if isinstance(equals, Mapping):
            pairs.update(equals)
            condition["ForAllValues:StringEquals"] = {"kms:EncryptionContextKeys": sorted(str(k) for k in equals)}
        if pairs:
            condition["StringEquals"] = {f"kms:EncryptionContext:{k}": str(v) for k, v in pairs.items()}
    if condition:
        st["Condition"] = condition
    return st


def grants_policy(grants: Iterable[Mapping[str, Any]], name: str) -> CompiledPolicy:
    """The grants of one key as a compiled resource policy named ``name`` (e.g. "grants of key K")."""
    statements = [s for s in (grant_statement(g) for g in grants) if s is not None]
    return compile_policy({"Version": "2012-10-17", "Statement": statements}, name, "resource")


def with_grants(key_policy: CompiledPolicy, grants: CompiledPolicy | None) -> CompiledPolicy:
    """The key policy and the key's grants as one resource policy; each statement keeps its own name."""
    if grants is None or not grants.statements:
        return key_policy
    document = {"Version": "2012-10-17",
                "Statement": [s.ref.statement for s in key_policy.statements + grants.statements]}
    return CompiledPolicy(key_policy.name, key_policy.policy_type, key_policy.statements + grants.statements,
                          document)


__all__ = ["grant_statement", "grants_policy", "with_grants"]
