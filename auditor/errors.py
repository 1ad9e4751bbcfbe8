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
        if key:
            where += f": {key}"
        text = f"{where}: {problem}"
        if hint:
            text += f" — {hint}"
        super().__init__(text)


class RuleError(AuditorError):
    """A rule pack that cannot be loaded: names the file and the rule id."""

    def __init__(self, path: str, rule_id: str | None, problem: str):
        self.path, self.rule_id, self.problem = path, rule_id, problem
        where = f"{path}: rule {rule_id}" if rule_id else str(path)
        super().__init__(f"{where}: {problem}")


class SnapshotError(AuditorError):
    """A snapshot file that cannot be read back."""


class CollectError(AuditorError):
    """A collection failure that stops an account (never a single bucket)."""


class AssumeRoleError(CollectError):
    pass


class ThrottledError(CollectError):
    pass
