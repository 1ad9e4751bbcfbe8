"""Credentials never reach an output: one function every error path runs its text through.

An AWS answer that cannot be parsed (an ``AssumeRole`` body cut short, a garbled XML page)
comes back inside botocore's exception message, and with it the session credentials the
answer carried. :func:`redact` removes them: whole ``<Credentials>`` blocks, the secret
fields in XML, JSON, Python-repr and ``key=value`` forms, and the value of any
``X-Amz-Security-Token``/``Authorization`` header or query parameter.
"""

from __future__ import annotations

import re

MASK = "[REDACTED]"

_SECRET_FIELDS = ("SecretAccessKey", "SessionToken", "SecurityToken", "aws_secret_access_key",
                  "aws_session_token", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "secret_key", "token",
                  "X-Amz-Security-Token", "x-amz-security-token", "Authorization", "Signature", "X-Amz-Signature")
_FIELDS = "|".join(re.escape(f) for f in sorted(_SECRET_FIELDS, key=len, reverse=True))

_PATTERNS = (
    # A whole STS credentials block, closed or cut short (a truncated body).
    re.compile(r"<Credentials>.*?(?:</Credentials>|$)", re.S),
    # XML elements, closed or cut short.
    re.compile(rf"<({_FIELDS})>[^<]*(?:</\1>)?", re.I),
    # JSON / Python repr: "SecretAccessKey": "…"  or  'SessionToken': '…'
    re.compile(rf"""(["']?)({_FIELDS})\1(\s*[:=]\s*)(["'])(?:\\.|(?!\4).)*\4?""", re.I),
    # key=value (headers, query strings, ini files, env)
    re.compile(rf"\b({_FIELDS})(\s*[=:]\s*)(?![\"'\[])[^\s&,;\"'<>]+", re.I),
)

# Long-term and temporary access key ids: not secret alone, but never needed in a report.
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


def _sub(text: str) -> str:
    text = _PATTERNS[0].sub(f"<Credentials>{MASK}</Credentials>", text)
    text = _PATTERNS[1].sub(lambda m: f"<{m.group(1)}>{MASK}</{m.group(1)}>", text)
    text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(1)}{m.group(3)}{m.group(4)}{MASK}{m.group(4)}",
                            text)
    text = _PATTERNS[3].sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _KEY_ID.sub(lambda m: m.group(0)[:4] + "…" + MASK, text)


def redact(text: object) -> str:
    """``text`` as a string with every credential it holds masked."""
    s = text if isinstance(text, str) else str(text)
    if not s:
        return s
    return _sub(s)


def redact_error(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` of an exception, redacted, then cut to ``limit`` characters (after redaction,
    so a cut can never leave half a secret behind)."""
    return redact(f"{type(exc).__name__}: {exc}")[:limit]
