"""Credentials and endpoints: the problems that stop a scan before it starts, as one line with the fix.

The collectors record a failed call as data; when *no* account could be scanned, the reason is
almost always the caller's own set-up (no credentials, an expired session, a misspelt profile, an
endpoint that does not answer). :func:`nothing_scanned` turns that into an :class:`AccessError`
(exit 2) whose text says what to run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence

from auditor.errors import AuditorError


class AccessError(AuditorError):
    """Nothing could be scanned because of the caller's credentials, profile or endpoint."""


CONFIGURE = "run `aws configure` (or `aws sso login`), or pick a profile with --profile or AWS_PROFILE"

# (pattern in an API error code or exception name, what it means, the fix)
_KNOWN: tuple[tuple[str, str, str], ...] = (
    (r"NoCredentials|PartialCredentials|CredentialRetrievalError",
     "no AWS credentials found", CONFIGURE),
    (r"ExpiredToken|RequestExpired|TokenRetrievalError|UnauthorizedSSOToken|SSOTokenLoadError|TokenExpired",
     "the AWS credentials have expired",
     "refresh them (`aws sso login`, or new keys with `aws configure`), or pick another profile with --profile"),
    (r"InvalidClientTokenId|UnrecognizedClient|InvalidAccessKeyId|SignatureDoesNotMatch|AuthFailure",
     "the AWS credentials were rejected",
     "check the access key (`aws configure`) or pick another profile with --profile or AWS_PROFILE"),
    (r"ProfileNotFound", "the profile does not exist", CONFIGURE),
    # Nothing answers at all (a server that answers badly — reset, timeout, garbage — is a failed call).
    (r"EndpointConnectionError|ConnectTimeoutError|ConnectionRefused|gaierror|Could not connect",
     "the endpoint cannot be reached",
     "check --endpoint-url (or AWS_ENDPOINT_URL), the network and the region (--region)"),
)


def explain(text: str) -> tuple[str, str] | None:
    """(what went wrong, the fix) for an error code or reason we recognise, else None."""
    for pattern, what, fix in _KNOWN:
        if re.search(pattern, text):
            return what, fix
    return None


def available_profiles() -> list[str]:
    import botocore.session

    try:
        return sorted(botocore.session.Session().available_profiles)
    except Exception:  # an unreadable shared config is reported by botocore itself later
        return []


def check_profiles(profiles: Iterable[tuple[str | None, str]]) -> None:
    """Every named profile exists (``(profile, where it comes from)``; None means $AWS_PROFILE, if set).

    Checked before any API call: botocore raises ProfileNotFound at session creation otherwise.
    """
    known: list[str] | None = None
    for profile, where in profiles:
        if profile is None:
            profile, where = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE"), "AWS_PROFILE"
            if not profile:
                continue
        if known is None:
            known = available_profiles()
        if profile in known:
            continue
        import difflib

        near = difflib.get_close_matches(profile, known, n=1)
        hint = f"did you mean '{near[0]}'? " if near else ""
        listed = f"known: {', '.join(known)}" if known else "no profiles are configured"
        raise AccessError(f"{where} {profile}: no such profile in the AWS config files ({listed}) — "
                          f"{hint}create it with `aws configure --profile {profile}` or pick one with --profile or AWS_PROFILE")


def nothing_scanned(accounts: Sequence, skipped: Sequence) -> AccessError | None:
    """The error to report when every account was skipped (nothing at all was scanned), else None."""
    if accounts or not skipped:
        return None
    first = skipped[0]
    known = explain(first.reason)
    # Only the caller's own set-up (credentials, profile, an endpoint nobody answers at): a refused or
    # failed call is data — the accounts are reported as skipped with the reason (exit 3).
    if not known or not all(explain(s.reason) for s in skipped):
        return None
    many = f" (and {len(skipped) - 1} more account(s))" if len(skipped) > 1 else ""
    what, fix = known
    return AccessError(f"{what}: account {first.name}{many} could not be scanned — {fix} "
                       f"[{_short(first.reason)}]")


def _short(reason: str, limit: int = 160) -> str:
    reason = " ".join(reason.split())
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def endpoint_from_env(service: str | None = None) -> str | None:
    """The endpoint botocore would use from the environment (AWS_ENDPOINT_URL[_SERVICE]), for display and plans."""
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    if service:
        specific = os.environ.get("AWS_ENDPOINT_URL_" + service.upper().replace(" ", "_").replace("-", "_"))
        if specific:
            return specific
    return os.environ.get("AWS_ENDPOINT_URL") or None


# ----------------------------------------------------------------------------- --debug

_SECRET_PATTERNS = (
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{12,}"), r"\1****"),
    (re.compile(r"(Signature=)[0-9a-fA-F]+"), r"\1****"),
    (re.compile(r"(?i)((?:x-amz-security-token|authorization)['\"]?\s*[:=]\s*b?['\"])[^'\"]+"), r"\1****"),
    (re.compile(r"(?i)(<(SecretAccessKey|SessionToken|AccessKeyId)>)[^<]*"), r"\1****"),
    (re.compile(r"(?i)(['\"](?:SecretAccessKey|SessionToken|AccessKeyId|aws_secret_access_key|"
                r"aws_session_token|secret_key|token)['\"]\s*:\s*['\"])[^'\"]*"), r"\1****"),
    (re.compile(r"(?i)((?:X-Amz-Security-Token|X-Amz-Credential|X-Amz-Signature)=)[^&\s'\"]+"), r"\1****"),
)


def redact(text: str) -> str:
    """``text`` without AWS secrets: key ids, signatures, session tokens, secret keys (also the caller's own)."""
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ACCESS_KEY_ID"):
        value = os.environ.get(name)
        if value and len(value) >= 8:
            text = text.replace(value, "****")
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


class _Redacting:
    """A logging filter that formats the record once and strips secrets from it."""

    def filter(self, record) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 — a record that cannot format is shown as its template
            message = str(record.msg)
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            record.msg += " (" + redact(repr(record.exc_info[1])) + ")"
            record.exc_info, record.exc_text = None, None
        return True


def enable_debug_logging() -> None:
    """botocore (and auditor) logging to stderr at DEBUG, every line redacted."""
    import logging
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.addFilter(_Redacting())
    for name in ("botocore", "aiobotocore", "auditor"):
        log = logging.getLogger(name)
        log.setLevel(logging.DEBUG)
        if not any(isinstance(f, _Redacting) for h in log.handlers for f in h.filters):
            log.addHandler(handler)
