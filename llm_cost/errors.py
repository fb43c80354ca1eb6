"""The error hierarchy. Each class carries the exit code the CLI returns for it (README: exit codes)."""

from __future__ import annotations


class LlmCostError(Exception):
    """Base class: a failure we can explain in one line. `exit_code` is what the process returns.

    `details` are optional extra lines (e.g. a server's row-level rejections) shown before the error line.
    """

    exit_code = 1

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class ConfigError(LlmCostError):
    """Configuration or input error: bad TOML, missing file, bad date, unknown model (exit 3)."""

    exit_code = 3


class SourceError(LlmCostError):
    """The usage source failed: unreachable, auth, unexpected response, incomplete data (exit 4)."""

    exit_code = 4


class DestinationError(LlmCostError):
    """The destination rejected the data or could not be reached (exit 5)."""

    exit_code = 5


class VerificationError(LlmCostError):
    """A self-check failed: a FOCUS row check or a reconciliation mismatch (exit 6)."""

    exit_code = 6


# The guardrail commands' findings (`check`, `diff`): not failures of llm-cost, but answers a CI gate acts on. The
# original llm-cost used 2 (budget) and 3 (forbidden model), which mean usage and configuration errors here.


class BudgetExceeded(LlmCostError):
    """`check`: a budget limit is exceeded (exit 7)."""

    exit_code = 7


class PolicyViolation(LlmCostError):
    """`check`: a blocked, not-allowed or unknown model is used (exit 8)."""

    exit_code = 8


class SpikeDetected(LlmCostError):
    """`check`: spend on a closed day jumped above its baseline (exit 9)."""

    exit_code = 9


class CostIncrease(LlmCostError):
    """`diff --fail-on-increase`: the estimated cost rose above the threshold (exit 10)."""

    exit_code = 10
