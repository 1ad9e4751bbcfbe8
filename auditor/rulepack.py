"""Rule packs: ``rules/*.toml`` say *what* each vendor requires; checks say *how* to detect it.

A pack has a ``[vendor]`` table and ``[[rules]]``. Packs are validated at load time: an
unknown check, a missing or mistyped parameter, a bad severity or a duplicate id is a
RuleError naming the file and the rule id.
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.checks.registry import REQUIRED, VendorProfile, registry
from auditor.errors import RuleError
from auditor.model import Severity

RULE_KEYS = {"id", "title", "severity", "check", "params", "reference", "modes", "description"}
VENDOR_KEYS = {"id", "name", "doc", "principal", "account", "origin", "extra"}
ID = re.compile(r"^(v7-aws|v7-wasabi|datature|tenyks|redbrick|baseline)\.[a-z0-9-]+$")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    vendor: str
    title: str
    severity: Severity
    check: str
    reference: str
    params: Mapping[str, Any] = field(default_factory=dict)
    modes: tuple[str, ...] = ("read-only", "read-write")
    description: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class RulePack:
    vendor: VendorProfile
    rules: tuple[Rule, ...]
    source: str


def load_packs(paths: Iterable[Path] | None = None) -> tuple[RulePack, ...]:
    """Load the shipped packs (or ``paths``), validated; ids unique across packs."""
    if paths is None:
        root = importlib.resources.files("auditor.rules")
        files = sorted((p for p in root.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name)
        sources = [(f"rules/{p.name}", p.read_text(encoding="utf-8")) for p in files]
    else:
        sources = [(str(p), Path(p).read_text(encoding="utf-8")) for p in paths]
    packs = tuple(parse_pack(text, name) for name, text in sources)
    seen: dict[str, str] = {}
    for pack in packs:
        for rule in pack.rules:
            if rule.id in seen:
                raise RuleError(pack.source, rule.id, f"duplicate rule id (also in {seen[rule.id]})")
            seen[rule.id] = pack.source
    return packs


def parse_pack(text: str, source: str) -> RulePack:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RuleError(source, None, f"invalid TOML: {e}") from None
    unknown = set(data) - {"vendor", "rules"}
    if unknown:
        raise RuleError(source, None, f"unknown top-level keys: {', '.join(sorted(unknown))}")
    v = data.get("vendor")
    if not isinstance(v, dict) or "id" not in v or "name" not in v:
        raise RuleError(source, None, "needs a [vendor] table with id and name")
    if set(v) - VENDOR_KEYS:
        raise RuleError(source, None, f"unknown [vendor] keys: {', '.join(sorted(set(v) - VENDOR_KEYS))}")
    vendor = VendorProfile(**v)
    checks = registry()
    rules = []
    for raw in data.get("rules", []):
        rid = raw.get("id")
        if not isinstance(rid, str) or not ID.match(rid):
            raise RuleError(source, str(rid), "rule id must look like '<vendor>.<name>'")
        if not rid.startswith(vendor.id + "."):
            raise RuleError(source, rid, f"rule id must start with '{vendor.id}.'")
        if set(raw) - RULE_KEYS:
            raise RuleError(source, rid, f"unknown keys: {', '.join(sorted(set(raw) - RULE_KEYS))}")
        for key in ("title", "severity", "check", "reference"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise RuleError(source, rid, f"'{key}' is required (a non-empty string)")
        try:
            severity = Severity(raw["severity"])
        except ValueError:
            raise RuleError(source, rid, f"unknown severity '{raw['severity']}'") from None
        spec = checks.get(raw["check"])
        if spec is None:
            raise RuleError(source, rid, f"unknown check '{raw['check']}'")
        params = dict(raw.get("params", {}))
        for name, value in params.items():
            p = spec.params.get(name)
            if p is None:
                raise RuleError(source, rid, f"check '{spec.name}' takes no parameter '{name}'")
            if not isinstance(value, p.type):
                raise RuleError(source, rid, f"parameter '{name}' has the wrong type ({type(value).__name__})")
        for name, p in spec.params.items():
            if name not in params:
                if p.default is REQUIRED:
                    raise RuleError(source, rid, f"check '{spec.name}' needs parameter '{name}'")
                params[name] = p.default
        modes = tuple(raw.get("modes", ("read-only", "read-write")))
        if not set(modes) <= {"read-only", "read-write"}:
            raise RuleError(source, rid, f"bad modes {modes}")
        rules.append(Rule(id=rid, vendor=vendor.id, title=raw["title"], severity=severity, check=spec.name,
                          reference=raw["reference"], params=params, modes=modes,
                          description=raw.get("description", ""), source=source))
    return RulePack(vendor=vendor, rules=tuple(rules), source=source)
