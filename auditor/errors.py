"""Errors the product raises; only the CLI turns them into messages and exit codes."""

from __future__ import annotations


class AuditorError(Exception):
    """Base of every error auditor raises on purpose."""


class ConfigError(AuditorError):
    """A bad config file or command line: names the file, the key (and line) and the fix."""

    def __init__(self, path: str, key: str | None, problem: str, hint: str | None = None, line: int | None = None):
        self.path, self.key, self.problem, self.hint, self.line = path, key, problem, hint, line
        where = str(path)
        if line is not None:
            where += f":{line}"
        super().__init__(_one_line(where, key, problem, hint))


class RuleError(AuditorError):
    """A vendor pack that cannot be loaded: names the file, the rule id, the key and the fix."""

    def __init__(self, path: str, rule_id: str | None, problem: str, key: str | None = None,
                 hint: str | None = None):
        self.path, self.rule_id, self.problem, self.key, self.hint = path, rule_id, problem, key, hint
        where = f"{path}: rule {rule_id}" if rule_id else str(path)
        super().__init__(_one_line(where, key, problem, hint))


class SnapshotError(AuditorError):
    """A snapshot file that cannot be read back."""


class CollectError(AuditorError):
    """A collection failure that stops an account (never a single bucket)."""


class AssumeRoleError(CollectError):
    pass


class ThrottledError(CollectError):
    pass


def _one_line(where: str, key: str | None, problem: str, hint: str | None) -> str:
    """``where: key: problem — hint``, the shape of every error about a file."""
    text = f"{where}: {key}: {problem}" if key else f"{where}: {problem}"
    return f"{text} — {hint}" if hint else text
