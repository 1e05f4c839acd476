"""The exceptions roi raises. Every layer raises these, never bare tuples of errors."""

from __future__ import annotations


class RoiError(Exception):
    """Base of every error roi reports to a user."""


class ConfigError(RoiError):
    """A config or value model that cannot be used; carries one line per problem."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class ConnectorError(RoiError):
    """A source that cannot be read at all (missing file, unreachable API)."""


class TransientError(ConnectorError):
    """A read that may work if tried again (timeout, dropped connection, 429/5xx): pulls retry it.

    `retried` is true when the raiser already spent its own retries (the HTTP client does):
    the pull then does not multiply them, and the source fails now, to be pulled next run.
    """

    def __init__(self, message: str, *, retried: bool = False):
        super().__init__(message)
        self.retried = retried


class ValuationError(RoiError):
    """Data the value models cannot value (no version effective on a day)."""


class NotFound(RoiError):
    """A period, source or report that does not exist."""


class UsageError(RoiError):
    """A bad argument or query parameter."""

    def __init__(self, message: str, parameter: str | None = None):
        self.parameter = parameter
        super().__init__(message)
