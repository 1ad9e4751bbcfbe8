"""The check registry: a check is a plain function registered under a stable name.

Each check declares the API calls it needs (a refused one makes the finding ``unknown``
before the function runs), the IAM read permissions behind them (for ``auditor
permissions``) and its parameters (validated when rule packs load).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.model import (
    AccountState,
    BucketState,
    Integration,
    Severity,
    Snapshot,
    Status,
)
from auditor.profile import VendorProfile

REQUIRED = object()


@dataclass(frozen=True, slots=True)
class Param:
    type: type | tuple[type, ...]
    default: Any = REQUIRED
    doc: str = ""
    kind: str = ""  # "zone" (a zone of the profile), "key" (an integration key), "actions" (IAM action names)
    choices: tuple[str, ...] = ()  # the values a string parameter may take, when they are few


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a check found about one resource."""

    status: Status
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    remediation: str | None = None
    resource: str | None = None  # default: the bucket's ARN
    principal: str | None = None
    severity: Severity | None = None  # overrides the rule's severity (e.g. CORS "*" that also allows writes)
    account_level: bool = False  # about the account (a role), not about the bucket the rule ran on
    required_by: str | None = None  # the vendor guide (title, section) that requires what was found
    # The ARN of an integration's bucket, role or user that does not exist: the integration's own rule
    # (check ``integration_resources``) reports it once, and the rules that need it give no row of their own.
    missing: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """What one rule is evaluated against: a bucket, and the integration when it is a vendor rule."""

    snapshot: Snapshot
    account: AccountState
    bucket: BucketState
    integration: Integration | None = None
    vendor: VendorProfile | None = None
    integrations: tuple[Integration, ...] = ()  # every integration on this bucket (configured and inferred)

    @property
    def mode(self) -> str:
        return self.integration.mode if self.integration else "read-only"


CheckFn = Callable[..., "Outcome | Iterable[Outcome] | None"]


@dataclass(frozen=True, slots=True)
class CheckSpec:
    name: str
    fn: CheckFn
    needs: tuple[str, ...]  # API names on the bucket/account whose failure means "unknown"
    reads: tuple[str, ...]  # IAM actions the scanner needs for this check
    params: Mapping[str, Param]
    scope: str = "bucket"  # "account": run once per account (baseline only), its findings have no bucket


_REGISTRY: dict[str, CheckSpec] = {}


def check(name: str, *, needs: Iterable[str] = (), reads: Iterable[str] = (),
          params: Mapping[str, Param] | None = None, scope: str = "bucket") -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as check ``name``. A duplicate name fails at import."""

    def register(fn: CheckFn) -> CheckFn:
        if name in _REGISTRY:
            raise RuntimeError(f"check {name!r} registered twice ({_REGISTRY[name].fn.__module__} and {fn.__module__})")
        _REGISTRY[name] = CheckSpec(name, fn, tuple(needs), tuple(reads), dict(params or {}), scope)
        return fn

    return register


def registry() -> Mapping[str, CheckSpec]:
    """Every registered check (importing the check modules first)."""
    from auditor.checks import load_all

    load_all()
    return _REGISTRY
