"""Logging for the long-running commands (`roi serve`, `roi scheduler`).

On a terminal, plain lines for people; otherwise (a service manager, a container,
a file) one JSON object per line, which log collectors read without parsing rules.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, extras, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                document[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def configure_logging(verbose: bool = True, *, structured: bool | None = None) -> None:
    """Log INFO (WARNING unless verbose) to stderr; JSON lines unless stderr is a terminal."""
    if structured is None:
        structured = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    if structured:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    # APScheduler's per-wakeup chatter is noise at INFO; its warnings still show
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
