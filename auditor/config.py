"""auditor.toml → a frozen Config (PRODUCT.md §2). Every key is validated before any API call."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from auditor.errors import ConfigError
from auditor.model import Integration
from auditor.profile import MODES, PROVIDERS, VendorProfile
from auditor.rulepack import RulePack, load_packs
from auditor.validate import endpoint_problem, region_problem

ACCOUNT_KEYS = {
    "name": "label referenced by integrations (required)",
    "profile": "shared-config profile",
    "role_arn": "role to assume first",
    "external_id": "external id for role_arn",
    "provider": "aws | wasabi | s3-compatible",
    "endpoint_url": "one endpoint for every service",
    "regions": "list of regions",
    "account_id": "12-digit id, for providers without STS",
    "buckets": "list of bucket-name globs to scan (default: every bucket)",
}

INTEGRATION_COMMON = {"vendor", "account", "bucket", "mode"}

# Vendor-specific keys come from each vendor's profile (rules/*.toml, [integration]).

SCAN_KEYS = {
    "concurrency": "parallel API calls (default 16)",
    "sample_size": "objects sampled per prefix (default 50)",
    "listing_budget": "keys listed per bucket when looking for .mrxs slides (default 5000)",
    "timeout": "seconds to wait for one API answer (default 30)",
    "max_attempts": "tries per API call, with adaptive backoff on throttling (default 8)",
    "rule_dirs": "directories of extra vendor packs (*.toml), relative to this file",
    "workers": "processes that collect a large account's buckets and evaluate a large scan (default: up to one "
               "per core; collection starts them once one process cannot keep the calls in flight; 1 = this "
               "process only)",
    "content": "read object headers and the first bytes of sampled objects (default true; false = --no-content)",
}

SUPPRESS_KEYS = {"rule", "resource", "reason", "until"}
ORGANIZATION_KEYS = {
    "role_name": "role assumed in every member account (required)",
    "external_id": "external id for that role",
    "profile": "profile of the management or delegated-administrator account",
    "role_arn": "role to assume first in the management account",
    "endpoint_url": "one endpoint for every service",
    "exclude": "account ids not to scan",
    "regions": "list of regions",
}

ARN_ROLE = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/.+$")


@dataclass(frozen=True, slots=True)
class AccountConfig:
    name: str
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    provider: str = "aws"
    endpoint_url: str | None = None
    regions: tuple[str, ...] = ()
    account_id: str | None = None
    buckets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScanSettings:
    concurrency: int = 16
    sample_size: int = 50
    listing_budget: int = 5000
    timeout: int = 30
    max_attempts: int = 8
    rule_dirs: tuple[str, ...] = ()
    workers: int = 0  # 0: one process per available core
    content: bool = True  # HeadObject and bounded GetObject reads of sampled objects


@dataclass(frozen=True, slots=True)
class Suppression:
    """Findings whose rule id and resource match the globs are kept but marked suppressed."""

    rule: str
    resource: str = "*"
    reason: str = ""
    until: str | None = None  # ISO date; expired suppressions stop applying and are reported
    index: int = 0


@dataclass(frozen=True, slots=True)
class OrganizationConfig:
    role_name: str
    external_id: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    endpoint_url: str | None = None
    exclude: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    path: str
    accounts: tuple[AccountConfig, ...] = ()
    integrations: tuple[Integration, ...] = ()
    scan: ScanSettings = field(default_factory=ScanSettings)
    suppressions: tuple[Suppression, ...] = ()
    organization: OrganizationConfig | None = None
    packs: tuple[RulePack, ...] = ()  # built-in vendor packs plus those of rule_dirs / --rules-dir

    def rule_packs(self) -> tuple[RulePack, ...]:
        """The packs this config was validated with (the built-in ones for a Config built in code)."""
        return self.packs or load_packs()

    def profiles(self) -> dict[str, VendorProfile]:
        return {p.vendor.id: p.vendor for p in self.rule_packs() if p.vendor.access is not None}

    def account(self, name: str) -> AccountConfig | None:
        return next((a for a in self.accounts if a.name == name), None)


def load_config(path: str | Path, rule_dirs: Sequence[str | Path] = ()) -> Config:
    """Read and validate ``path``; raise ConfigError naming file, key, line and the fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), None, "config file not found",
                          "write one with `auditor init` (see README 'Scanning your accounts'), pass --config FILE, "
                          "or run `auditor scan` without --config to scan the default credentials' account") from None
    except OSError as e:
        raise ConfigError(str(path), None, f"cannot read config file ({e.strerror})") from e
    except UnicodeDecodeError as e:
        line = path.read_bytes()[:e.start].count(b"\n") + 1
        raise ConfigError(str(path), None, f"not UTF-8 text (byte 0x{e.object[e.start]:02x})",
                          "save the file as UTF-8", line=line) from None
    return parse_config(text, str(path), rule_dirs)


def parse_config(text: str, path: str = "auditor.toml", rule_dirs: Sequence[str | Path] = ()) -> Config:
    """Validate ``text``; vendor keys come from the built-in packs, ``rule_dirs`` and ``[scan] rule_dirs``."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ConfigError(path, None, "invalid TOML: nested too deeply", "flatten the arrays or tables") from None
    except tomllib.TOMLDecodeError as e:
        line = _toml_error_line(str(e))
        if line is None and "end of document" in str(e):
            line = max(1, len(text.splitlines()))
        raise ConfigError(path, None, f"invalid TOML: {e}", "fix the syntax at that line", line=line) from None
    return _Parser(text, path, rule_dirs).config(data)


def _toml_error_line(message: str) -> int | None:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def _known_rule(pattern: str, packs: Sequence[RulePack]) -> bool:
    """Does ``pattern`` (an id or a glob) name at least one loaded rule?"""
    import fnmatch

    return any(fnmatch.fnmatchcase(r.id, pattern) for p in packs for r in p.rules)


class _Parser:
    def __init__(self, text: str, path: str, rule_dirs: Sequence[str | Path] = ()):
        self.lines = text.splitlines()
        self.path = path
        self.rule_dirs = tuple(rule_dirs)
        self.packs: tuple[RulePack, ...] = ()

    # -- locating keys for messages -------------------------------------------------

    def _line_of(self, table: str | None, index: int, key: str | None) -> int | None:
        """Best-effort line number of ``key`` inside the index-th ``[[table]]`` (or top level)."""
        start, seen = 0, -1
        if table:
            header = re.compile(r"^\s*\[\[\s*" + re.escape(table) + r"\s*\]\]")
            for i, line in enumerate(self.lines):
                if header.match(line):
                    seen += 1
                    if seen == index:
                        start = i
                        break
            else:
                return None
            if key is None:
                return start + 1
        if key is None:
            return None
        pat = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
        for i in range(start + (1 if table else 0), len(self.lines)):
            if table and i > start and re.match(r"^\s*\[", self.lines[i]):
                break
            if pat.match(self.lines[i]):
                return i + 1
        return None

    def fail(self, table: str | None, index: int, key: str | None, problem: str, hint: str | None = None) -> ConfigError:
        label = f"{table}[{index}]" if table else None
        shown = f"{label}.{key}" if label and key else (label or key)
        return ConfigError(self.path, shown, problem, hint, line=self._line_of(table, index, key))

    # -- typed getters --------------------------------------------------------------

    def _str(self, table, i, d, key, required=False, default=None):
        if key not in d:
            if required:
                raise self.fail(table, i, None, f"missing required key '{key}'", f"add {key} = \"...\"")
            return default
        v = d[key]
        if not isinstance(v, str) or not v:
            raise self.fail(table, i, key, f"must be a non-empty string, got {v!r}", f'write {key} = "..."')
        return v

    def _str_list(self, table, i, d, key):
        v = d.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise self.fail(table, i, key, f"must be a list of strings, got {v!r}", f'write {key} = ["..."]')
        return tuple(v)

    def _unknown(self, table, i, d, allowed, what):
        for key in d:
            if key not in allowed:
                raise self.fail(table, i, key, f"unknown key '{key}' for {what}",
                                f"allowed keys: {', '.join(sorted(allowed))}")

    # -- sections -------------------------------------------------------------------

    def config(self, data: dict[str, Any]) -> Config:
        top = {"accounts", "integrations", "scan", "suppress", "organization"}
        for key in data:
            if key not in top:
                raise self.fail(None, 0, key, f"unknown top-level key '{key}'",
                                "use [[accounts]], [[integrations]], [[suppress]], [organization] or [scan]")
        scan = self.scan(data.get("scan", {}))
        base = Path(self.path).parent if self.path not in ("command line",) else Path(".")
        dirs = [*self.rule_dirs, *(base / d for d in scan.rule_dirs)]
        self.packs = load_packs(dirs=dirs)
        accounts = self._list_of_tables(data, "accounts")
        integrations = self._list_of_tables(data, "integrations")
        acc = tuple(self.account(i, a) for i, a in enumerate(accounts))
        names = [a.name for a in acc]
        for i, name in enumerate(names):
            if names.index(name) != i:
                raise self.fail("accounts", i, "name", f"duplicate account name '{name}'", "give each account its own name")
        org = self.organization(data["organization"]) if "organization" in data else None
        providers = {a.name: a.provider for a in acc}
        ints = tuple(self.integration(i, d, names, org is not None, providers) for i, d in enumerate(integrations))
        sup = tuple(self.suppression(i, d) for i, d in enumerate(self._list_of_tables(data, "suppress")))
        return Config(path=self.path, accounts=acc, integrations=ints, scan=scan,
                      suppressions=sup, organization=org, packs=self.packs)

    def suppression(self, i: int, d: dict) -> Suppression:
        t = "suppress"
        self._unknown(t, i, d, SUPPRESS_KEYS, "a suppression")
        rule = self._str(t, i, d, "rule", required=True)
        if not _known_rule(rule, self.packs):
            raise self.fail(t, i, "rule", f"'{rule}' matches no rule id",
                            "use an id from `auditor rules` (a glob such as \"baseline.*\" works too)")
        resource = self._str(t, i, d, "resource", default="*")
        reason = self._str(t, i, d, "reason", required=True)
        until = d.get("until")
        if until is not None:
            import datetime as dt

            if isinstance(until, dt.datetime):
                until = until.date()
            if isinstance(until, str):
                try:
                    until = dt.date.fromisoformat(until)
                except ValueError:
                    until = None
                    raise self.fail(t, i, "until", f"'{d['until']}' is not a date", "write until = 2027-01-31") from None
            if not isinstance(until, dt.date):
                raise self.fail(t, i, "until", f"'{d['until']}' is not a date", "write until = 2027-01-31")
            until = until.isoformat()
        return Suppression(rule=rule, resource=resource, reason=reason, until=until, index=i)

    def organization(self, d) -> OrganizationConfig:
        t = None
        if not isinstance(d, dict):
            raise self.fail(None, 0, "organization", "'organization' must be a table", "write an [organization] section")
        self._unknown(t, 0, d, set(ORGANIZATION_KEYS), "[organization]")
        role_name = self._str(t, 0, d, "role_name")
        if not role_name:
            raise self.fail(None, 0, "organization.role_name", "missing required key 'role_name'",
                            'name the read-only role to assume in each member account, e.g. role_name = "AuditReadOnly"')
        exclude = self._str_list(t, 0, d, "exclude")
        for acct in exclude:
            if not re.fullmatch(r"\d{12}", acct):
                raise self.fail(t, 0, "exclude", f"'{acct}' is not a 12-digit account id", "list account ids")
        role_arn = self._str(t, 0, d, "role_arn")
        if role_arn and not ARN_ROLE.match(role_arn):
            raise self.fail(t, 0, "role_arn", f"'{role_arn}' is not an IAM role ARN", "use arn:aws:iam::123456789012:role/NAME")
        endpoint = self._str(t, 0, d, "endpoint_url")
        if endpoint and endpoint_problem(endpoint):
            raise self.fail(t, 0, "endpoint_url", cast(str, endpoint_problem(endpoint)), "write e.g. https://organizations.us-east-1.amazonaws.com")
        for region in self._str_list(t, 0, d, "regions"):
            if region_problem(region):
                raise self.fail(t, 0, "regions", cast(str, region_problem(region)), "write a region such as eu-west-1")
        return OrganizationConfig(role_name=role_name, external_id=self._str(t, 0, d, "external_id"),
                                  profile=self._str(t, 0, d, "profile"), role_arn=role_arn,
                                  endpoint_url=self._str(t, 0, d, "endpoint_url"), exclude=exclude,
                                  regions=self._str_list(t, 0, d, "regions"))

    def _list_of_tables(self, data, key):
        v = data.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise self.fail(None, 0, key, f"'{key}' must be an array of tables", f"write [[{key}]] sections")
        return v

    def scan(self, d) -> ScanSettings:
        if not isinstance(d, dict):
            raise self.fail(None, 0, "scan", "'scan' must be a table", "write a [scan] section")
        self._unknown(None, 0, d, set(SCAN_KEYS), "[scan]")
        values: dict[str, Any] = {}
        if "rule_dirs" in d:
            values["rule_dirs"] = self._str_list(None, 0, d, "rule_dirs")
        for key, default in (("concurrency", 16), ("sample_size", 50), ("listing_budget", 5000),
                             ("timeout", 30), ("max_attempts", 8), ("workers", None)):
            if key not in d and default is None:
                continue
            v = d.get(key, default)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise self.fail(None, 0, key, f"must be a positive integer, got {v!r}",
                                f"write {key} = {default or 2}")
            values[key] = v
        content = d.get("content", True)
        if not isinstance(content, bool):
            raise self.fail(None, 0, "content", f"must be true or false, got {content!r}", "write content = false")
        return ScanSettings(**values, content=content)

    def account(self, i: int, d: dict) -> AccountConfig:
        t = "accounts"
        self._unknown(t, i, d, set(ACCOUNT_KEYS), "an account")
        provider = self._str(t, i, d, "provider", default="aws")
        if provider not in PROVIDERS:
            raise self.fail(t, i, "provider", f"unknown provider '{provider}'", f"use one of: {', '.join(PROVIDERS)}")
        role_arn = self._str(t, i, d, "role_arn")
        if role_arn and not ARN_ROLE.match(role_arn):
            raise self.fail(t, i, "role_arn", f"'{role_arn}' is not an IAM role ARN",
                            "use arn:aws:iam::123456789012:role/NAME")
        external_id = self._str(t, i, d, "external_id")
        if external_id and not role_arn:
            raise self.fail(t, i, "external_id", "external_id needs role_arn", "add role_arn or remove external_id")
        endpoint = self._str(t, i, d, "endpoint_url")
        if endpoint and endpoint_problem(endpoint):
            raise self.fail(t, i, "endpoint_url", cast(str, endpoint_problem(endpoint)), "write e.g. https://s3.wasabisys.com")
        for region in self._str_list(t, i, d, "regions"):
            if region_problem(region, provider):
                raise self.fail(t, i, "regions", cast(str, region_problem(region, provider)), "write a region such as eu-west-1")
        account_id = self._str(t, i, d, "account_id")
        if account_id and not re.fullmatch(r"\d{12}", account_id):
            raise self.fail(t, i, "account_id", f"'{account_id}' is not a 12-digit account id", "write the 12 digits")
        return AccountConfig(
            name=self._str(t, i, d, "name", required=True),
            profile=self._str(t, i, d, "profile"),
            role_arn=role_arn,
            external_id=external_id,
            provider=provider,
            endpoint_url=endpoint,
            regions=self._str_list(t, i, d, "regions"),
            account_id=account_id,
            buckets=self._str_list(t, i, d, "buckets"),
        )

    def integration(self, i: int, d: dict, account_names: list[str], organization: bool = False,
                    providers: dict[str, str] | None = None) -> Integration:
        t = "integrations"
        profiles = {p.vendor.id: p.vendor for p in self.packs if p.vendor.access is not None}
        vendor = self._str(t, i, d, "vendor", required=True)
        profile = profiles.get(vendor)
        if profile is None:
            raise self.fail(t, i, "vendor", f"unknown vendor '{vendor}'",
                            f"use one of: {', '.join(profiles)} (or add a pack with --rules-dir / [scan] rule_dirs)")
        allowed = {k.name for k in profile.keys}
        for key in d:
            if key not in INTEGRATION_COMMON | allowed:
                other = [v for v, p in profiles.items() if p.key(key) is not None]
                why = f"'{key}' applies to {', '.join(other)}, not {vendor}" if other else f"unknown key '{key}'"
                raise self.fail(t, i, key, why, f"keys for {vendor}: {', '.join(sorted(INTEGRATION_COMMON | allowed))}")
        account = self._str(t, i, d, "account", required=True)
        if account not in account_names and not (organization and re.fullmatch(r"\d{12}", account)):
            hint = f"define [[accounts]] name = \"{account}\"" if not account_names else f"use one of: {', '.join(account_names)}"
            raise self.fail(t, i, "account", f"no account named '{account}'", hint)
        provider = (providers or {}).get(account, "aws")
        if provider not in profile.providers:
            same = [v for v, p in profiles.items() if provider in p.providers and p.short_name == profile.short_name]
            raise self.fail(t, i, "vendor", f"{vendor} works on {', '.join(profile.providers)}; account '{account}' "
                            f"is {provider}", f"use vendor = \"{same[0]}\"" if same
                            else f"use an account whose provider is {' or '.join(profile.providers)}")
        bucket = self._str(t, i, d, "bucket", required=True)
        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-_]{1,254}", bucket, re.IGNORECASE):
            raise self.fail(t, i, "bucket", f"'{bucket}' is not a bucket name", "write the bare name, without s3://")
        mode = self._str(t, i, d, "mode", default="read-only")
        if mode not in MODES:
            raise self.fail(t, i, "mode", f"unknown mode '{mode}'", "use \"read-only\" or \"read-write\"")
        if mode not in profile.modes:
            raise self.fail(t, i, "mode", f"{vendor} offers no {mode} mode", f"use {' or '.join(profile.modes)}")
        options = {}
        for spec in sorted(profile.keys, key=lambda k: k.name):
            value = self._str(t, i, d, spec.name, required=spec.needed(mode))
            if value is None:
                continue
            bad = spec.problem(value)
            if bad:
                raise self.fail(t, i, spec.name, bad[0], bad[1] + (f" ({spec.help})" if spec.help else ""))
            options[spec.name] = value
        return Integration(vendor=vendor, account=account, bucket=bucket, mode=mode, options=options, profile=profile)
