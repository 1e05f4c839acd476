"""What every command shares: the config and store it opens once, and roi's errors as exit codes."""

from __future__ import annotations

import functools
import os
import sys

import click

from .. import services
from ..config import Settings
from ..errors import ConfigError, RoiError, UsageError
from ..services.validation import load_checked_config


class Context:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._settings: Settings | None = None
        self._store = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_checked_config(self.config_path)
        return self._settings

    @property
    def store(self):
        """The command's store, opened once and closed (pool disposed) when the command ends."""
        if self._store is None:
            self._store = services.store_for(self.settings)
            click.get_current_context().call_on_close(self._store.close)
        return self._store


def handle_errors(command):
    """Turn roi's errors into exit codes and one line per problem on stderr."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            sys.exit(2)
        except UsageError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except RoiError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except services.DatabaseError as exc:  # a read-only, full or unreachable database: which, and why
            context = click.get_current_context(silent=True)
            settings = getattr(context.find_root().obj, "_settings", None) if context else None
            url = settings.service.database_url if settings is not None else "(the configured database)"
            click.echo(f"error: {services.database_failure(url, exc)}", err=True)
            sys.exit(1)
        except BrokenPipeError:  # `roi report | head`: the reader has gone, nothing to say to it
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except OSError as exc:  # an output path or folder that cannot be written: a reason, not a traceback
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(1)

    return wrapper
