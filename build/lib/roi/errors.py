"""The exceptions roi raises. Every layer raises these, never bare tuples of errors."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_CONTROL_BUT_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escaped(text: str, *, keep_line_breaks: bool = False) -> str:
    """Text from outside made safe to show and to store: control characters (NUL among them) and lone
    surrogates, which no store and no terminal takes as they are, are written as escapes (\\x00)."""
    pattern = _CONTROL_BUT_BREAKS if keep_line_breaks else _CONTROL
    return pattern.sub(_escape, text) if pattern.search(text) else text


class RoiError(Exception):
    """Base of every error roi reports to a user."""


class ConfigError(RoiError):
    """A config or value model that cannot be used; carries one line per problem."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class ConnectorError(RoiError):
    """A source that cannot be read at all (missing file, unreachable API). The message is one line:
    what it quotes from outside is escaped."""

    def __init__(self, message: str, *args: object):
        super().__init__(escaped(str(message)), *args)


class TransientError(ConnectorError):
    """A read that may work if tried again (timeout, dropped connection, 429/5xx).

    `retry_after`: the seconds the server asked to wait (`Retry-After`), if it said.
    roi.connectors.retry decides whether and when it is tried again, at one level only."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ValuationError(RoiError):
    """Data the value models cannot value (no version effective on a day)."""


class NotFound(RoiError):
    """A period, source or report that does not exist."""


class UsageError(RoiError):
    """A bad argument or query parameter."""

    def __init__(self, message: str, parameter: str | None = None):
        self.parameter = parameter
        super().__init__(message)
