"""What a plan.tf must be, checked with python-hcl2 (no Terraform binary here) and by its layout.

* it parses as HCL, with a ``terraform`` block requiring the AWS provider and a ``provider "aws"`` block;
* every resource name starts with a letter and is unique per type;
* every ``import`` block points at a declared resource; which resources are imported is returned, so a
  test compares it with what existed before the plan (every resource imported or new);
* no ``${`` or ``%{`` is left unescaped anywhere (Terraform would read it as a template sequence);
* the layout is ``terraform fmt``'s: two-space indent by nesting depth, the ``=`` of consecutive attributes
  aligned, no tabs or trailing blanks, blocks separated by one blank line, one final newline;
* a policy heredoc, unescaped, is exactly the JSON document plan.json gives for that resource.
"""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

import hcl2

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def unescaped_templates(text: str) -> list[str]:
    """Template sequences Terraform would interpret, scanning as HCL does: ``$${`` and ``%%{`` are literal
    ``${`` and ``%{``; any other ``${`` or ``%{`` starts a template sequence."""
    out = []
    i = 0
    while i < len(text):
        if text.startswith(("$${", "%%{"), i):
            i += 3
        elif text.startswith(("${", "%{"), i):
            out.append(text[max(0, i - 30):i + 30])
            i += 2
        else:
            i += 1
    return out


def heredoc_json(raw: str) -> Any:
    """The document of a ``<<-EOT`` heredoc as python-hcl2 returns it (quoted, escapes kept)."""
    body = unquote(raw)
    m = re.match(r"^<<-(\w+)\n(.*)\n\s*\1$", body, re.S)
    assert m, raw[:80]
    text = textwrap.dedent(m.group(2))
    return json.loads(text.replace("$${", "${").replace("%%{", "%{"))


def layout_problems(text: str) -> list[str]:
    problems = []
    if not text.endswith("\n") or text.endswith("\n\n"):
        problems.append("the file must end with exactly one newline")
    lines = text.split("\n")[:-1]
    depth = 0
    in_heredoc = None
    run: list[tuple[int, int, str]] = []  # (line number, column of '=', indent) of the current attribute run

    def close_run() -> None:
        if len({col for _, col, _ in run}) > 1:
            problems.append(f"lines {run[0][0] + 1}-{run[-1][0] + 1}: '=' not aligned")
        run.clear()

    for n, line in enumerate(lines):
        if "\t" in line or line != line.rstrip():
            problems.append(f"line {n + 1}: tab or trailing blank")
        if in_heredoc is not None:
            if line.strip() == in_heredoc:
                in_heredoc = None
                if line != " " * (2 * depth) + line.strip():
                    problems.append(f"line {n + 1}: heredoc end marker not at the attribute's indent")
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            close_run()
            continue
        if stripped.startswith("}"):
            depth -= 1
        indent = len(line) - len(line.lstrip(" "))
        if indent != 2 * depth:
            problems.append(f"line {n + 1}: indent {indent}, expected {2 * depth}")
        m = re.match(r"^( *)([A-Za-z_][\w-]*)( *)= ", line)
        if m and not stripped.endswith("{") or (m and stripped.endswith("= {")):
            if m.group(3) == "":
                problems.append(f"line {n + 1}: no space before '='")
            if run and run[-1][2] != m.group(1):
                close_run()
            run.append((n, line.index("="), m.group(1)))
        else:
            close_run()
        if stripped.endswith("{"):
            depth += 1
            if stripped.endswith("= {"):
                close_run()
        h = re.search(r"<<-(\w+)$", stripped)
        if h:
            in_heredoc = h.group(1)
    close_run()
    if depth != 0:
        problems.append("unbalanced braces")
    top = [n for n, line in enumerate(lines) if line and not line.startswith((" ", "}", "#"))]
    for n in top[1:]:
        above = n - 1
        while above >= 0 and lines[above].startswith("#"):
            above -= 1
        if lines[above] != "":
            problems.append(f"line {n + 1}: top-level block not preceded by a blank line")
    return problems


def parse(text: str) -> dict[str, Any]:
    """{resources: {(type, name): body}, imports: {(type, name): id}}; asserts the rules above."""
    assert not unescaped_templates(text), unescaped_templates(text)
    assert not layout_problems(text), layout_problems(text)
    data = hcl2.loads(text)
    (tf_block,) = data["terraform"]
    (aws,) = tf_block["required_providers"]
    assert unquote(aws["aws"]["source"]) == "hashicorp/aws", aws
    assert any('"aws"' in p for p in data["provider"]), data["provider"]
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    for item in data.get("resource", []):
        for rtype, named in item.items():
            for name, body in named.items():
                key = (unquote(rtype), unquote(name))
                assert NAME.match(key[1]), f"resource name {key[1]!r} must start with a letter"
                assert key not in resources, f"{key} declared twice"
                resources[key] = body
    imports: dict[tuple[str, str], str] = {}
    for block in data.get("import", []):
        to = block["to"].removeprefix("${").removesuffix("}")
        rtype, name = to.split(".", 1)
        assert (rtype, name) in resources, f"import of undeclared {to}"
        imports[(rtype, name)] = unquote(block["id"])
    return {"resources": resources, "imports": imports}
