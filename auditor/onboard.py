"""Pre-onboarding: one bucket, one vendor, from command-line flags instead of a config file."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from auditor.config import Config, _Parser
from auditor.errors import ConfigError
from auditor.model import Finding, Integration, ScanResult, Severity, Status
from auditor.policy.arns import parse_arn, role_name
from auditor.rulepack import load_packs, profiles

SOURCE = "command line"


def _flag(key: str) -> str:
    """Config key → flag, for messages (config keys spelled as flags; the account's regions is --region)."""
    return "--region" if key == "regions" else "--" + key.replace("_", "-")

EXAMPLES = """\
examples (one per vendor):
  auditor {cmd} v7-aws s3://radiology-scans --mode read-write --prefix darwin/ --scope slides/
  auditor {cmd} v7-wasabi s3://pathology --provider wasabi --endpoint-url https://s3.wasabisys.com
  auditor {cmd} datature s3://nexus-assets --prefix images/ \\
      --role-arn arn:aws:iam::111122223333:role/datature-nexus \\
      --vendor-principal arn:aws:iam::277710232653:role/ext-5086f40b-058b-4e09-a9bb-894c2efd6487 \\
      --external-id 76072142-60c6-426e-a2ae-6ed0c3b1886b
  auditor {cmd} tenyks s3://cats-data --user tenyks-reader --dataset cats --images-dir images
  auditor {cmd} tenyks s3://cats-data --mode read-write --user tenyks-reader --dataset cats \\
      --images-dir images --metadata-dir tenyks-meta
  auditor {cmd} redbrick s3://dicom-studies --mode read-write --user redbrick-annotator --prefix studies/
  auditor {cmd} VENDOR s3://BUCKET --rules-dir packs/ …   # a vendor of your own (docs/vendor-packs.md)
"""


def parse_bucket(url: str) -> str:
    m = re.fullmatch(r"(?:s3://)?([a-z0-9][a-z0-9.\-_]{1,254})/?", url.strip(), re.IGNORECASE)
    if not m:
        raise ConfigError(SOURCE, "BUCKET", f"'{url}' is not a bucket", "write s3://BUCKET-NAME")
    return m.group(1)


def config_from_flags(vendor: str, bucket_url: str, mode: str, options: Mapping[str, str | None], *,
                      profile: str | None = None, endpoint_url: str | None = None, provider: str | None = None,
                      region: str | None = None, rule_dirs: Sequence[str | Path] = ()) -> Config:
    """A one-account, one-integration Config, validated exactly like auditor.toml."""
    known = profiles(load_packs(dirs=rule_dirs))
    vendor_profile = known.get(vendor)
    if vendor_profile is None:
        raise ConfigError(SOURCE, "VENDOR", f"unknown vendor '{vendor}'",
                          f"use one of: {', '.join(known)} (or add a pack with --rules-dir)")
    bucket = parse_bucket(bucket_url)
    allowed = {k.name for k in vendor_profile.keys}
    given = {k: v for k, v in options.items() if v is not None}
    for key in given:
        if key not in allowed:
            raise ConfigError(SOURCE, _flag(key), f"{_flag(key)} does not apply to {vendor}",
                              f"flags for {vendor}: {', '.join(sorted(_flag(k) for k in allowed)) or 'none'}")
    for spec in vendor_profile.keys:
        if spec.needed(mode) and spec.name not in given:
            raise ConfigError(SOURCE, spec.flag, f"{spec.flag} is required for {vendor}" +
                              (f" in {mode} mode" if not spec.required else ""),
                              f"add {spec.flag} …; see `auditor check --help`")
    # Every bucket the vendor reaches is collected too: its rules and the baseline check them.
    reached = vendor_profile.buckets_of(given, bucket, mode)
    account: dict[str, object] = {"name": "target", "buckets": list(reached)}
    if provider is None and vendor_profile.providers and "aws" not in vendor_profile.providers:
        provider = vendor_profile.providers[0]
    for key, value in (("profile", profile), ("endpoint_url", endpoint_url), ("provider", provider)):
        if value:
            account[key] = value
    if region:
        account["regions"] = [region]
    data = {"accounts": [account],
            "integrations": [{"vendor": vendor, "account": "target", "bucket": bucket, "mode": mode, **given}]}
    try:
        return _Parser("", SOURCE, rule_dirs).config(data)
    except ConfigError as e:  # name the flag, not the config key
        key = (e.key or "").split(".")[-1]
        raise ConfigError(SOURCE, _flag(key), e.problem, e.hint) from None


def limit_to(result: ScanResult, integration: Integration) -> ScanResult:
    """Only what concerns this integration: its vendor's and the baseline's findings about the buckets it
    reaches, and the account-level findings about its own principals (its role or user). Other buckets,
    roles and users of the account are not part of its verdict."""
    if integration.profile is None:  # not read from a config: the built-in vendor's keys say which is its role
        vendors = {p.vendor.id: p.vendor for p in load_packs()}
        integration = dataclasses.replace(integration, profile=vendors.get(integration.vendor))
    buckets = set(integration.buckets())
    ours = [f for f in result.findings if f.vendor == integration.vendor or f.rule_id.startswith("baseline.")]
    principals = {f.principal for f in ours if f.vendor == integration.vendor and f.bucket in buckets and f.principal}

    def about_us(f: Finding) -> bool:
        # A finding about a role or user is ours only when it is the integration's own: every role that
        # trusts Datature names Datature's principal, but only one of them is the one checked.
        kind, name = _iam_identity(f.resource)
        if kind == "role":
            return integration.role_arn is not None and _iam_identity(integration.role_arn) == (kind, name)
        if kind == "user":
            return name == integration.user_name
        return f.principal in principals

    keep = tuple(f for f in ours if f.bucket in buckets or (f.bucket is None and about_us(f)))
    return dataclasses.replace(result, findings=keep)


def _iam_identity(arn: str | None) -> tuple[str, str] | tuple[None, None]:
    """("role" or "user", its name) for an IAM role or user ARN; (None, None) for anything else."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "iam":
        return None, None
    kind = parsed.resource.split("/", 1)[0]
    return (kind, role_name(arn)) if kind in ("role", "user") and arn else (None, None)


def _threshold(fail_on: str) -> int | None:
    return None if fail_on == "never" else Severity(fail_on).rank


def _blocks(f: Finding, status: Status, threshold: int | None) -> bool:
    """A readiness finding at or above ``fail_on``, or a critical exposure (a public bucket), blocks."""
    if threshold is None or f.status != status or not f.counted:
        return False
    if f.kind == "exposure":
        return f.severity == Severity.CRITICAL
    return f.severity.rank >= threshold


def blocking(findings: Sequence[Finding], fail_on: str) -> list[Finding]:
    threshold = _threshold(fail_on)
    return [f for f in findings if _blocks(f, Status.FAIL, threshold)]


def unverified(findings: Sequence[Finding], fail_on: str) -> list[Finding]:
    """Unknown findings that would block if they turned out to fail."""
    threshold = _threshold(fail_on)
    return [f for f in findings if _blocks(f, Status.UNKNOWN, threshold)]


def warnings(findings: Sequence[Finding], fail_on: str) -> list[Finding]:
    """Exposure findings that fail without blocking: listed under the verdict, with what the guide requires."""
    blocked = {id(f) for f in blocking(findings, fail_on)}
    return [f for f in findings if f.kind == "exposure" and f.status == Status.FAIL and not f.suppressed
            and id(f) not in blocked]


def problems(findings: Sequence[Finding]) -> int:
    """Distinct problems among ``findings``: a vendor rule and a baseline rule reporting one fact count once."""
    linked: set[str] = set()
    n = 0
    for f in findings:
        if f.fingerprint in linked:
            continue
        n += 1
        linked.update(f.same_fact_as)
    return n


def verdict(result: ScanResult, fail_on: str) -> str:
    """READY only when every blocking check was verified and passed."""
    if result.skipped:
        return f"NOT READY: the account could not be scanned ({result.skipped[0].reason})"
    if result.buckets == 0:
        why = next((f.message for f in result.findings if f.status == Status.UNKNOWN), "no such bucket")
        return f"NOT READY: the bucket could not be scanned ({why.removeprefix('Could not verify: ').rstrip('.')})"
    n, u = problems(blocking(result.findings, fail_on)), problems(unverified(result.findings, fail_on))
    if n:
        return (f"NOT READY: {n} blocking finding{'s' if n != 1 else ''}"
                + (f", {u} more could not be verified" if u else ""))
    if u:
        return f"NOT READY: {u} blocking check{'s' if u != 1 else ''} could not be verified"
    return "READY"
