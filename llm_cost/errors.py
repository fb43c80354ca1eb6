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
