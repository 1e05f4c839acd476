"""The HTTP side of the pulled connectors: one client, auth headers, retries, redaction, day batches.

The caller creates the `requests.Session` and hands it in (tests give one that
talks to a server on 127.0.0.1); the client adds the source's auth headers,
retries what may work on a second try (429 honouring ``Retry-After``, 5xx,
dropped connections, timeouts) under the one retry policy (connectors.retry),
attached here so no caller retries again, and turns everything else into a ConnectorError. Every message it
writes, to the log or in an exception, goes through the source's redactor, so
a token never leaves the process in clear, even when the upstream echoes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from pydantic import Field, field_validator

from ..errors import ConnectorError, TransientError
from .base import Batch, Chunk, Connector, ConnectorOptions, Window
from .retry import RetryPolicy

log = logging.getLogger("roi.connectors")

Sleep = Callable[[float], None]
_RETRIED_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_BODY_SNIPPET = 300
DEFAULT_LOOKBACK_DAYS = 7


class Redactor:
    """Replaces every known secret (and its Basic-auth encoding) with ``***``."""

    def __init__(self, secrets: Iterable[str]):
        found = {secret for secret in secrets if secret and len(secret) >= 4}
        self._secrets = sorted(found, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def __call__(self, text: object) -> str:
        message = str(text)
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message


def basic_auth(user: str, password: str) -> str:
    """The value of an ``Authorization`` header for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def bearer_auth(token: str) -> str:
    return f"Bearer {token}"


class HttpError(ConnectorError):
    """An HTTP answer the source refused to give (4xx other than the retried ones)."""

    def __init__(self, message: str, status: int):
        self.status = status
        super().__init__(message)


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HttpClient:
    """JSON over HTTP for one source, with retries and redaction."""

    def __init__(
        self,
        session: requests.Session,
        *,
        source: str,
        base_url: str,
        headers: dict[str, str] | None = None,
        secrets: Iterable[str] = (),
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_retry_after: float = 300.0,
        sleep: Sleep = time.sleep,
    ):
        self.session = session
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.redact = Redactor(secrets)
        for value in self.headers.values():
            if value.startswith(("Basic ", "Bearer ")):
                self.redact.add(value.split(" ", 1)[1])
        # a password written into base_url (https://user:pass@host) is a secret like any other
        self.redact.add(urlsplit(self.base_url).password or "")
        self.timeout = timeout
        # the one retry policy, attached to this session: no caller retries what it gave up on
        self.retry = RetryPolicy(attempts=max_retries + 1, backoff=backoff, max_backoff=max_backoff,
                                 max_retry_after=max_retry_after, sleep=sleep)
        self.requests_sent = 0

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def get_json(self, path: str, params: Any = None, *, what: str = "") -> Any:
        return self.request_json("GET", path, params=params, what=what)

    def post_json(self, path: str, body: Any, *, params: Any = None, what: str = "") -> Any:
        return self.request_json("POST", path, params=params, body=body, what=what)

    def request_json(self, method: str, path: str, *, params: Any = None, body: Any = None, what: str = "") -> Any:
        """The decoded JSON answer; ConnectorError (TransientError once retries are spent) otherwise."""
        url = self.url(path)
        where = f"source {self.source!r}: {method} {self._shown(url)}{f' ({what})' if what else ''}"
        response = self.retry.call(lambda: self._send(method, url, params, body, where), redact=self.redact)
        try:
            return response.json()
        except ValueError:
            snippet = response.text[:_BODY_SNIPPET]
            raise ConnectorError(self.redact(f"{where}: the answer is not JSON: {snippet!r}")) from None

    def _shown(self, url: str) -> str:
        parts = urlsplit(url)
        return self.redact(f"{parts.scheme}://{parts.netloc}{parts.path}")

    def _send(self, method: str, url: str, params: Any, body: Any, where: str) -> requests.Response:
        self.requests_sent += 1
        try:
            response = self.session.request(
                method, url, params=params, json=body, headers=self.headers, timeout=self.timeout
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"{where}: cannot reach the server: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise ConnectorError(self.redact(f"{where}: {exc}")) from None
        status = response.status_code
        if status < 400:
            return response
        reason = f"HTTP {status} {response.reason or ''}".rstrip()
        if status in _RETRIED_STATUS:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            raise TransientError(self.redact(f"{where}: {reason}"), retry_after=retry_after)
        snippet = " ".join(response.text[:_BODY_SNIPPET].split())
        if status in (401, 403):
            message = f"{where}: {reason}: the credentials were refused; check the source's keys"
        else:
            message = f"{where}: {reason}: {snippet}" if snippet else f"{where}: {reason}"
        raise HttpError(self.redact(message), status)


# ------------------------------------------------------------------ pulled sources


class HttpOptions(ConnectorOptions):
    """Options every pulled (HTTP) connector shares."""

    base_url: str
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=5, ge=0, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0)
    max_backoff_seconds: float = Field(default=60.0, ge=0)
    max_retry_after_seconds: float = Field(default=300.0, ge=0)

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/")


def window_days(window: Window, lookback_days: int = DEFAULT_LOOKBACK_DAYS, now: datetime | None = None) -> list[date]:
    """The UTC days a window touches (whole days: a batch always covers its full day).

    The scheduler always gives both bounds; an open window (a direct call) ends now and
    starts `lookback_days` earlier."""
    end = window.end or now or datetime.now(UTC)
    start = window.start or (end - timedelta(days=lookback_days))
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    first = start.date()
    days = []
    day = first
    while datetime.combine(day, datetime.min.time(), UTC) < end:
        days.append(day)
        day += timedelta(days=1)
    return days


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), UTC)
    return start, start + timedelta(days=1)


class PulledConnector(Connector):
    """A connector that pulls an HTTP API, one batch per UTC day.

    The session (and the sleep used between retries) come in through the
    constructor; by default a new ``requests.Session`` and ``time.sleep``.
    """

    options: HttpOptions
    user_agent: ClassVar[str] = "roi-connector"
    retries_requests: ClassVar[bool] = True

    def __init__(self, name: str, options: HttpOptions, session: requests.Session | None = None,
                 sleep: Sleep | None = None):
        super().__init__(name, options)
        self.session = session
        self.sleep = sleep or time.sleep
        self._client: HttpClient | None = None

    def close(self) -> None:
        """Close the session if this connector made it (a caller's session stays the caller's)."""
        if self._client is not None and self.session is None:
            self._client.session.close()
        self._client = None

    def check(self) -> None:
        try:
            self.probe()
        finally:
            self.close()

    def probe(self) -> None:
        """One cheap authenticated request; raises ConnectorError when it fails."""

    # subclasses say how they authenticate
    def auth_headers(self) -> dict[str, str]:
        return {}

    def secrets(self) -> list[str]:
        return []

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            options = self.options
            headers = {"Accept": "application/json", "User-Agent": self.user_agent, **self.auth_headers()}
            self._client = HttpClient(
                self.session or requests.Session(),
                source=self.name,
                base_url=options.base_url,
                headers=headers,
                secrets=self.secrets(),
                timeout=options.timeout_seconds,
                max_retries=options.max_retries,
                backoff=options.backoff_seconds,
                max_backoff=options.max_backoff_seconds,
                max_retry_after=options.max_retry_after_seconds,
                sleep=self.sleep,
            )
        return self._client

    def describe(self) -> str:
        """A few words stored with each batch label (e.g. which definition of resolved was used)."""
        return ""

    def batches(self, window: Window) -> Iterator[Batch]:
        # An API day can change after it was pulled (late events, edits): every pull reads it again.
        pulled = datetime.now(UTC).isoformat()
        suffix = f" ({self.describe()})" if self.describe() else ""
        try:
            for day in window_days(window):
                yield Batch.of_day(
                    day, f"{self.name} {day.isoformat()}{suffix}",
                    hashlib.sha256(f"{day}|{pulled}".encode()).hexdigest()[:32],
                    lambda day=day: self.read_day(day),
                )
        finally:
            self.close()  # the caller reads each batch before asking for the next

    def read_day(self, day: date) -> Iterator[Chunk]:
        raise NotImplementedError


def raw_text(record: Any, redact: Callable[[object], str] | None = None) -> str:
    """A record as stored with its reject (bounded, secrets removed)."""
    try:
        text = json.dumps(record, default=str, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(record)
    text = text[:2000]
    return redact(text) if redact else text
