"""Is this JSON a policy document? A body that is valid JSON but not a policy (``null``, ``{}``,
a list, a string) is not "no policy": rules that need the policy are unknown, with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def policy_problem(doc: Any) -> str | None:
    """Why ``doc`` cannot be read as an IAM/S3/KMS policy document, or None when it can."""
    if not isinstance(doc, Mapping):
        kind = "null" if doc is None else type(doc).__name__
        return f"the policy is JSON {kind}, not a policy document (an object with Statement)"
    if "Statement" not in doc:
        return "the policy has no Statement"
    stmts = doc["Statement"]
    if isinstance(stmts, Mapping):
        return None
    if not isinstance(stmts, list) or not stmts:
        return "the policy's Statement is neither a statement nor a non-empty list of statements"
    if not all(isinstance(s, Mapping) for s in stmts):
        return "the policy's Statement list holds an entry that is not a statement object"
    return None
