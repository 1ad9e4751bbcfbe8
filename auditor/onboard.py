"""Pre-onboarding: one bucket, one vendor, from command-line flags instead of a config file."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from auditor.config import VENDOR_KEYS, VENDORS, Config, _Parser
from auditor.errors import ConfigError
from auditor.model import Finding, Integration, ScanResult, Severity, Status

SOURCE = "command line"

# Integration key → flag, for messages (PRODUCT.md §2 keys, spelled as flags).
FLAGS = {k: "--" + k.replace("_", "-") for keys, _ in VENDOR_KEYS.values() for k in keys} | {"regions": "--region"}

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
"""


def parse_bucket(url: str) -> str:
    m = re.fullmatch(r"(?:s3://)?([a-z0-9][a-z0-9.\-_]{1,254})/?", url.strip(), re.IGNORECASE)
    if not m:
        raise ConfigError(SOURCE, "BUCKET", f"'{url}' is not a bucket", "write s3://BUCKET-NAME")
    return m.group(1)


def config_from_flags(vendor: str, bucket_url: str, mode: str, options: Mapping[str, str | None], *,
                      profile: str | None = None, endpoint_url: str | None = None, provider: str | None = None,
                      region: str | None = None) -> Config:
    """A one-account, one-integration Config, validated exactly like auditor.toml."""
    if vendor not in VENDORS:
        raise ConfigError(SOURCE, "VENDOR", f"unknown vendor '{vendor}'", f"use one of: {', '.join(VENDORS)}")
    bucket = parse_bucket(bucket_url)
    allowed, required = VENDOR_KEYS[vendor]
    given = {k: v for k, v in options.items() if v is not None}
    for key in given:
        if key not in allowed:
            raise ConfigError(SOURCE, FLAGS[key], f"{FLAGS[key]} does not apply to {vendor}",
                              f"flags for {vendor}: {', '.join(sorted(FLAGS[k] for k in allowed)) or 'none'}")
    need = set(required) | ({"metadata_dir"} if vendor == "tenyks" and mode == "read-write" else set())
    for key in sorted(need - set(given)):
        raise ConfigError(SOURCE, FLAGS[key], f"{FLAGS[key]} is required for {vendor}" +
                          (f" in {mode} mode" if key == "metadata_dir" else ""),
                          f"add {FLAGS[key]} …; see `auditor check --help`")
    # The metadata bucket is collected too: Tenyks's rules and the baseline check it.
    account: dict[str, object] = {"name": "target", "buckets": list(dict.fromkeys(
        [bucket] + ([given["metadata_bucket"]] if given.get("metadata_bucket") and mode == "read-write" else [])))}
    if vendor == "v7-wasabi" and provider is None:
        provider = "wasabi"
    for key, value in (("profile", profile), ("endpoint_url", endpoint_url), ("provider", provider)):
        if value:
            account[key] = value
    if region:
        account["regions"] = [region]
    data = {"accounts": [account],
            "integrations": [{"vendor": vendor, "account": "target", "bucket": bucket, "mode": mode, **given}]}
    try:
        return _Parser("", SOURCE).config(data)
    except ConfigError as e:  # name the flag, not the config key
        key = (e.key or "").split(".")[-1]
        raise ConfigError(SOURCE, FLAGS.get(key, "--" + key.replace("_", "-")), e.problem, e.hint) from None


def limit_to(result: ScanResult, integration: Integration) -> ScanResult:
    """Only that vendor's and the baseline's findings about the buckets it reaches."""
    buckets = (*integration.buckets(), None)
    keep = tuple(f for f in result.findings
                 if f.vendor in (integration.vendor, "baseline") and f.bucket in buckets)
    return dataclasses.replace(result, findings=keep)


def blocking(findings: tuple[Finding, ...], fail_on: str) -> list[Finding]:
    if fail_on == "never":
        return []
    threshold = Severity(fail_on).rank
    return [f for f in findings if f.status == Status.FAIL and not f.suppressed and f.severity.rank >= threshold]


def unverified(findings: tuple[Finding, ...], fail_on: str) -> list[Finding]:
    """Unknown findings that would block if they turned out to fail."""
    if fail_on == "never":
        return []
    threshold = Severity(fail_on).rank
    return [f for f in findings if f.status == Status.UNKNOWN and not f.suppressed and f.severity.rank >= threshold]


def verdict(result: ScanResult, fail_on: str) -> str:
    """READY only when every check at or above ``fail_on`` was verified and passed."""
    if result.skipped:
        return f"NOT READY: the account could not be scanned ({result.skipped[0].reason})"
    if result.buckets == 0:
        why = next((f.message for f in result.findings if f.status == Status.UNKNOWN), "no such bucket")
        return f"NOT READY: the bucket could not be scanned ({why.removeprefix('Could not verify: ').rstrip('.')})"
    n, u = len(blocking(result.findings, fail_on)), len(unverified(result.findings, fail_on))
    if n:
        return (f"NOT READY: {n} blocking finding{'s' if n != 1 else ''}"
                + (f", {u} more could not be verified" if u else ""))
    if u:
        return f"NOT READY: {u} blocking check{'s' if u != 1 else ''} could not be verified"
    return "READY"
