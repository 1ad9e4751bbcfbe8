"""Terraform for ``auditor plan``: resources that apply to an estate that already exists.

A plan changes resources that mostly exist already (a bucket policy, a role's trust, a key policy).
Terraform must adopt them before it manages them, so every existing resource gets an ``import {}``
block (Terraform 1.5+) and only what the plan creates has none. Text from existing documents is
data, never template: every ``${`` and ``%{`` in it is escaped (``$${``, ``%%{``), in quoted strings
and heredocs alike. The output is laid out as ``terraform fmt`` writes it: two-space indent, the
``=`` of consecutive attributes aligned, one blank line between top-level blocks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PROVIDER_VERSION = ">= 5.80"  # the *_exclusive IAM resources
WASABI = {"s3": "https://s3.wasabisys.com", "iam": "https://iam.wasabisys.com", "sts": "https://sts.wasabisys.com"}
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class Heredoc:
    """A JSON document written as an indented heredoc (``<<-EOT``)."""

    document: Any


@dataclass(frozen=True, slots=True)
class Ref:
    """A bare expression (a reference such as ``aws_iam_user.x.name``), written unquoted."""

    expr: str


@dataclass(frozen=True, slots=True)
class Link:
    """A reference to an attribute of another resource of the same file (``aws_iam_user.x.name``), by its key:
    what the plan creates is referred to, so Terraform creates it first."""

    type: str
    key: str
    attr: str


@dataclass(frozen=True, slots=True)
class Block:
    """A nested block (``cors_rule { … }``)."""

    type: str
    body: tuple[tuple[str, Any], ...]


@dataclass
class Resource:
    """One resource: its type, a name hint, what identifies the real thing, and whether it exists.

    ``key`` identifies the real resource (two changes to the same bucket policy are one Terraform
    resource); ``import_id`` is set when the resource exists before the plan is applied.
    """

    type: str
    hint: str
    key: str
    body: list[tuple[str, Any]]
    import_id: str | None = None
    comment: str = ""
    name: str = field(default="", compare=False)


def escape_template(text: str) -> str:
    """Literal text for a Terraform template (a quoted string or a heredoc): ``${`` → ``$${``, ``%{`` → ``%%{``."""
    return text.replace("${", "$${").replace("%{", "%%{")


def quote(text: str) -> str:
    """A Terraform quoted string whose value is exactly ``text``."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + escape_template("".join(out)) + '"'


def identifier(hint: str, taken: set[str], prefix: str = "r") -> str:
    """A resource name from ``hint``: letters, digits, ``_`` and ``-``, starting with a letter, unique in ``taken``."""
    base = re.sub(r"[^A-Za-z0-9_]+", "_", hint).strip("_")
    if not base or not base[0].isalpha():
        base = f"{prefix}_{base}" if base else prefix
    name, n = base, 2
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    taken.add(name)
    return name


def is_identifier(name: str) -> bool:
    return bool(_IDENT.match(name))


# ----------------------------------------------------------------------------- rendering


def _value(value: Any, indent: int) -> str:
    if isinstance(value, Heredoc):
        pad = " " * (indent + 2)
        body = json.dumps(value.document, indent=2)
        lines = [pad + escape_template(line) if line else line for line in body.splitlines()]
        return "<<-EOT\n" + "\n".join(lines) + "\n" + " " * indent + "EOT"
    if isinstance(value, Ref):
        return value.expr
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Mapping):  # an object: one element per line, aligned
        inner = _attributes(list(value.items()), indent + 2)
        return "{\n" + "\n".join(inner) + "\n" + " " * indent + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v, indent) for v in value) + "]"
    raise TypeError(f"no Terraform form for {type(value).__name__}")


def _attributes(body: Sequence[tuple[str, Any]], indent: int) -> list[str]:
    """Attribute and block lines; the ``=`` of each run of consecutive attributes aligned, as terraform fmt does."""
    out: list[str] = []
    pad = " " * indent
    run: list[tuple[str, Any]] = []

    def flush() -> None:
        width = max((len(k) for k, _ in run), default=0)
        for k, v in run:
            out.append(f"{pad}{k.ljust(width)} = {_value(v, indent)}")
        run.clear()

    for key, value in body:
        if isinstance(value, Block):
            flush()
            if out and not out[-1].endswith("{"):
                out.append("")
            out.append(f"{pad}{value.type} {{")
            out.extend(_attributes(value.body, indent + 2))
            out.append(f"{pad}}}")
            continue
        if out and out[-1] == f"{pad}}}" and not run:
            out.append("")
        run.append((key, value))
    flush()
    return out


def block(header: str, body: Sequence[tuple[str, Any]]) -> str:
    lines = _attributes(body, 2)
    return header + " {\n" + "\n".join(lines) + ("\n" if lines else "") + "}"


def provider_blocks(region: str, endpoint: str | None = None, provider: str = "aws") -> list[str]:
    """The ``terraform`` block (Terraform 1.5+ for ``import``) and the ``aws`` provider, pointed at the same
    endpoint the commands use (Wasabi's, or the one given)."""
    out = [block("terraform", [
        ("required_version", ">= 1.5"),
        ("required_providers", Block("required_providers", (("aws", {"source": "hashicorp/aws",
                                                                     "version": PROVIDER_VERSION}),))),
    ])]
    body: list[tuple[str, Any]] = [("region", region)]
    endpoints: dict[str, str] = {}
    if provider == "wasabi":
        endpoints = dict(WASABI)
    if endpoint:
        endpoints = {s: endpoint for s in ("iam", "kms", "s3", "sts")}
    if endpoints:
        body.append(("s3_use_path_style", True))
        if provider != "aws":
            body += [("skip_credentials_validation", True), ("skip_requesting_account_id", True),
                     ("skip_region_validation", True)]
        body.append(("endpoints", Block("endpoints", tuple(sorted(endpoints.items())))))
    out.append(block('provider "aws"', body))
    return out


def resource_text(r: Resource) -> str:
    """The change's comment, the ``import`` block (when the resource exists) and the resource block."""
    head = "".join(f"# {escape_template(line)}".rstrip() + "\n" for line in r.comment.splitlines())
    blocks = []
    if r.import_id is not None:
        blocks.append(block("import", [("to", Ref(f"{r.type}.{r.name}")), ("id", r.import_id)]))
    blocks.append(block(f'resource "{r.type}" "{r.name}"', r.body))
    return head + "\n\n".join(blocks)


def name_resources(resources: Iterable[Resource]) -> list[Resource]:
    """Give each resource a unique, valid name (per type), in order."""
    taken: dict[str, set[str]] = {}
    out = []
    for r in resources:
        prefix = r.type.split("_")[-1] if r.type.split("_")[-1].isalpha() else "r"
        r.name = identifier(r.hint, taken.setdefault(r.type, set()), prefix)
        out.append(r)
    return out


def resolve(resources: Sequence[Resource]) -> None:
    """Replace each ``Link`` by a reference to the named resource (or the literal key when it is not in the file)."""
    names = {(r.type, r.key): r.name for r in resources}

    def fix(value: Any) -> Any:
        if isinstance(value, Link):
            name = names.get((value.type, value.key))
            return Ref(f"{value.type}.{name}.{value.attr}") if name else value.key
        if isinstance(value, Block):
            return Block(value.type, tuple((k, fix(v)) for k, v in value.body))
        return value

    for r in resources:
        r.body = [(k, fix(v)) for k, v in r.body]


def render(resources: Sequence[Resource], *, region: str, endpoint: str | None = None, provider: str = "aws",
           notes: Sequence[str] = ()) -> str:
    """A whole ``plan.tf``: provider, then each resource with its import; ``notes`` as comments at the end."""
    blocks = provider_blocks(region, endpoint, provider)
    named = name_resources(resources)
    resolve(named)
    for r in named:
        blocks.append(resource_text(r))
    if notes:
        blocks.append("\n".join(f"# {escape_template(line)}".rstrip() for n in notes for line in n.splitlines()))
    return "\n\n".join(blocks) + "\n"
