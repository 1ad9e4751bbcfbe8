"""IAM policy evaluation: pure, no I/O. Decides like AWS and says why."""

from auditor.policy.actions import expand_actions
from auditor.policy.evaluator import (
    CompiledPolicy,
    Decision,
    PolicyError,
    Request,
    Result,
    StatementRef,
    arn_account,
    compile_cached,
    compile_policy,
    evaluate,
    session_role_arn,
)
from auditor.policy.public import is_public_policy

__all__ = [
    "CompiledPolicy", "Decision", "PolicyError", "Request", "Result", "StatementRef", "arn_account",
    "compile_cached", "compile_policy", "evaluate", "expand_actions", "is_public_policy", "session_role_arn",
]
