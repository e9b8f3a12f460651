"""The two kinds of failure a user sees, and their exit codes (DESIGN.md: 1 and 2)."""

from __future__ import annotations


class AgentError(Exception):
    """Base class: an error the CLI reports as one readable message."""

    exit_code = 1

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return "\n".join([self.message, *("  - " + p for p in self.problems)])


class UserError(AgentError):
    """Bad usage, bad config or bad rules: the user must change something. Exit code 2."""

    exit_code = 2


class OperationError(AgentError):
    """An operation failed at run time (unreachable server, refused login, SMTP down). Exit 1."""

    exit_code = 1
