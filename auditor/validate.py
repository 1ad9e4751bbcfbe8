"""Grammar checks for values a config or a command line gives: region names and endpoint URLs."""

from __future__ import annotations

import re
import urllib.parse

# AWS region names: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, us-isob-east-1, …
AWS_REGION = re.compile(r"[a-z]{2}(?:-(?:gov|iso[a-z]?))?-[a-z]+-\d{1,2}")
# Other S3-compatible stores name regions more freely, but still as a plain token.
OTHER_REGION = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?")


def region_problem(name: str, provider: str = "aws") -> str | None:
    """Why ``name`` is not a region name, or None."""
    grammar = AWS_REGION if provider in ("aws", "wasabi") else OTHER_REGION
    if grammar.fullmatch(name):
        return None
    return f"'{name}' is not a region name (like us-east-1)"


def _shown(url: str) -> str:
    """``url`` without any user name or password (never echoed back)."""
    return re.sub(r"^([a-zA-Z][\w+.-]*://)[^/@]*@", r"\1***@", url)


def endpoint_problem(url: str) -> str | None:
    """Why ``url`` cannot be an endpoint (an http(s) URL with a host, no credentials, query or fragment), or None."""
    problem = _endpoint_problem(url)
    return None if problem is None else problem.replace(url, _shown(url))


def _endpoint_problem(url: str) -> str | None:
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f for ch in url):
        return f"{url!r} holds spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # ValueError when the port is not a number in range
    except ValueError as e:
        return f"'{url}' is not a URL ({e})"
    if parts.scheme not in ("http", "https"):
        return f"'{url}' is not an http(s) URL"
    if not parts.hostname:
        return f"'{url}' has no host name"
    if parts.username is not None or parts.password is not None:
        return f"'{url}' must not carry a user name or password (credentials come from the profile)"
    if parts.query or parts.fragment:
        return f"'{url}' must not have a query or fragment"
    if port == 0:
        return f"'{url}' has port 0"
    return None
