"""Remediation a person can paste: the whole resulting policy and the ``aws`` CLI command that applies it.

Existing statements are kept verbatim; a new statement is appended, and its Sid is made
unique (IAM rejects a policy whose statements repeat a Sid).
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

VERSION = "2012-10-17"


def statements_of(policy: Mapping[str, Any] | None) -> list[Any]:
    """The policy's statements as a list (a lone statement object counts as one)."""
    if not policy:
        return []
    stmts = policy.get("Statement", [])
    return [stmts] if isinstance(stmts, Mapping) else list(stmts)


def merge_statement(policy: Mapping[str, Any] | None, statement: Mapping[str, Any]) -> dict[str, Any]:
    """``policy`` with ``statement`` appended; existing statements and top-level keys untouched.

    An identical statement already present is not added twice. A clashing Sid gets a
    numeric suffix.
    """
    doc: dict[str, Any] = copy.deepcopy(dict(policy)) if policy else {"Version": VERSION}
    doc.setdefault("Version", VERSION)
    existing = statements_of(doc)
    new = copy.deepcopy(dict(statement))
    if any(_same(new, s) for s in existing):
        doc["Statement"] = existing
        return doc
    sids = {s.get("Sid") for s in existing if isinstance(s, Mapping)}
    sid = new.get("Sid")
    if sid is not None and sid in sids:
        n = 2
        while f"{sid}{n}" in sids:
            n += 1
        new["Sid"] = f"{sid}{n}"
    # Keep Sid first for readability.
    if "Sid" in new:
        new = {"Sid": new.pop("Sid"), **new}
    doc["Statement"] = existing + [new]
    return doc


def remove_statements(policy: Mapping[str, Any], indices: Iterable[int]) -> dict[str, Any]:
    """``policy`` without the statements at ``indices`` (0-based); the rest kept verbatim."""
    drop = set(indices)
    doc = copy.deepcopy(dict(policy))
    doc["Statement"] = [s for i, s in enumerate(statements_of(doc)) if i not in drop]
    return doc


def _same(a: Mapping[str, Any], b: Any) -> bool:
    if not isinstance(b, Mapping):
        return False
    strip = lambda s: {k: v for k, v in s.items() if k != "Sid"}  # noqa: E731
    return json.dumps(strip(a), sort_keys=True) == json.dumps(strip(b), sort_keys=True)


def compact(policy: Mapping[str, Any]) -> str:
    return json.dumps(policy, separators=(",", ":"))


def pretty(policy: Any) -> str:
    return json.dumps(policy, indent=2)


# ----------------------------------------------------------------------------- commands


def _endpoint(provider: str | None) -> str:
    # Wasabi speaks the S3 API at its own endpoint; the aws CLI needs to be pointed at it.
    return " --endpoint-url https://s3.wasabisys.com" if provider == "wasabi" else ""


def put_bucket_policy_cmd(bucket: str, policy: Mapping[str, Any], provider: str | None = None) -> str:
    return f"aws s3api put-bucket-policy --bucket {bucket}{_endpoint(provider)} --policy {shlex.quote(compact(policy))}"


def put_key_policy_cmd(key_id: str, policy: Mapping[str, Any]) -> str:
    return f"aws kms put-key-policy --key-id {key_id} --policy-name default --policy {shlex.quote(compact(policy))}"


def put_user_policy_cmd(user: str, name: str, policy: Mapping[str, Any]) -> str:
    return (f"aws iam put-user-policy --user-name {user} --policy-name {shlex.quote(name)} "
            f"--policy-document {shlex.quote(compact(policy))}")


def put_role_policy_cmd(role: str, name: str, policy: Mapping[str, Any]) -> str:
    return (f"aws iam put-role-policy --role-name {role} --policy-name {shlex.quote(name)} "
            f"--policy-document {shlex.quote(compact(policy))}")


def put_group_policy_cmd(group: str, name: str, policy: Mapping[str, Any]) -> str:
    return (f"aws iam put-group-policy --group-name {group} --policy-name {shlex.quote(name)} "
            f"--policy-document {shlex.quote(compact(policy))}")


def create_policy_version_cmd(arn: str, policy: Mapping[str, Any]) -> str:
    return (f"aws iam create-policy-version --policy-arn {arn} --set-as-default "
            f"--policy-document {shlex.quote(compact(policy))}")


def update_assume_role_policy_cmd(role: str, policy: Mapping[str, Any]) -> str:
    return f"aws iam update-assume-role-policy --role-name {role} --policy-document {shlex.quote(compact(policy))}"


def create_access_key_cmd(user: str) -> str:
    return f"aws iam create-access-key --user-name {user}"


def update_access_key_cmd(user: str, key_id: str, status: str = "Active") -> str:
    return f"aws iam update-access-key --user-name {user} --access-key-id {key_id} --status {status}"


def put_bucket_versioning_cmd(bucket: str, provider: str | None = None) -> str:
    return (f"aws s3api put-bucket-versioning --bucket {bucket}{_endpoint(provider)} "
            "--versioning-configuration Status=Enabled")


def explain(text: str, policy: Mapping[str, Any] | None, command: str) -> str:
    """``text``, the full resulting policy (if any), then the command."""
    parts = [text]
    if policy is not None:
        parts.append(pretty(policy))
    parts.append(command)
    return "\n\n".join(parts)
