"""Who is signed in: the API's tokens, given once in the sign-in form, then a signed session cookie.

The cookie is Flask's signed session (itsdangerous, HMAC-SHA1 over the content and a timestamp),
`HttpOnly`, `SameSite=Lax`, `Secure` when ROI_SESSION_COOKIE_SECURE=1, and ends after
SESSION_HOURS (the signature's timestamp and the session's own expiry are both checked). It holds
the token's name, role and a fingerprint of the token, never the token: a token removed from the
config, or given another role, ends its sessions at the next request.

Each session also holds a random id. Signing out records that id in the store until the session
would have expired (roi.services.signed_out_sessions), and every request with a session looks it
up, so a copy of a signed-out cookie is no session anywhere: every worker of `roi serve` shares
the store. A cookie without an id (made before ids were given) is no session either.

The signing secret is ROI_SESSION_SECRET when set (at least 32 characters). Otherwise it is
derived from every configured token (HMAC-SHA256), so all workers of `roi serve` share it
without any setting, and changing any token signs everyone out; without tokens (nobody can sign
in) it is random per process. It is never logged.

Requests may instead carry `Authorization: Bearer <token>` (scripts, the benchmark): such a GET
sees the pages like a session of that token. A token is never taken from a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

from flask import Flask, g, request, session
from flask.sessions import SecureCookieSessionInterface

from ..config import ApiToken
from ..errors import ConfigError
from ..services import Store
from ..services.signed_out_sessions import session_signed_out, sign_out_session

SECRET_ENV = "ROI_SESSION_SECRET"
SECURE_ENV = "ROI_SESSION_COOKIE_SECURE"
SESSION_HOURS = 8
ROLES = ("reader", "admin")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    via: str  # session or bearer

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def session_secret(tokens: list[ApiToken]) -> bytes:
    given = os.environ.get(SECRET_ENV)
    if given:
        if len(given) < 32:
            raise ConfigError(f"{SECRET_ENV}: the session secret must be at least 32 characters")
        return given.encode()
    if not tokens:
        return secrets.token_bytes(32)
    material = "\n".join(sorted(item.token.get_secret_value() for item in tokens)).encode()
    return hmac.new(b"roi dashboard session secret v1", material, hashlib.sha256).digest()


class Users:
    """The configured tokens, each known by a fingerprint that a session stores instead of the token,
    and the store that remembers which sessions were signed out."""

    def __init__(self, tokens: list[ApiToken], secret: bytes, store: Store):
        self.store = store
        self._key = hmac.new(secret, b"token fingerprints", hashlib.sha256).digest()
        self._tokens = [(item.token.get_secret_value().encode(), item.name, item.role) for item in tokens]
        self._by_print = {self._print(token): (name, role) for token, name, role in self._tokens}

    def _print(self, token: bytes) -> str:
        return hmac.new(self._key, token, hashlib.sha256).hexdigest()[:32]

    def identify(self, presented: str) -> tuple[str, str, str] | None:
        """(name, role, fingerprint) of the token, compared in constant time with every configured one."""
        given = presented.encode("utf-8", "surrogateescape")
        found = None
        for token, name, role in self._tokens:
            if hmac.compare_digest(given, token) and found is None:
                found = (name, role, self._print(token))
        return found

    def still_valid(self, name: str, role: str, fingerprint: str) -> bool:
        return self._by_print.get(fingerprint) == (name, role)


class ExpiringCookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions whose cookie says its lifetime as Max-Age (relative), not only as
    an Expires date of this server's clock: a browser whose clock differs keeps it exactly as long.
    The server still refuses a cookie signed more than the lifetime ago (itsdangerous' max_age)."""

    def save_session(self, app: Flask, session, response) -> None:
        lifetime = int(app.permanent_session_lifetime.total_seconds())
        set_cookie = response.set_cookie

        def with_max_age(key: str, value: str = "", **options):
            if value and session.permanent:
                options["max_age"] = lifetime
            return set_cookie(key, value, **options)

        response.set_cookie = with_max_age
        try:
            super().save_session(app, session, response)
        finally:
            del response.set_cookie  # the class's method again


def configure(app: Flask, tokens: list[ApiToken], store: Store) -> Users:
    secret = session_secret(tokens)
    app.secret_key = secret
    app.session_interface = ExpiringCookieSessions()
    app.config.update(
        SESSION_COOKIE_NAME="roi_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get(SECURE_ENV, "") in ("1", "true", "yes"),
        PERMANENT_SESSION_LIFETIME=SESSION_HOURS * 3600,
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
    )
    return Users(tokens, secret, store)


def sign_in(users: Users, presented: str) -> User | None:
    found = users.identify(presented)
    if found is None:
        return None
    name, role, fingerprint = found
    sign_out(users)  # a new session: the one it replaces ends, nothing of it carries over (its CSRF token neither)
    session.permanent = True
    session.update({"user": name, "role": role, "token": fingerprint, "sid": secrets.token_urlsafe(24),
                    "expires": int(time.time()) + SESSION_HOURS * 3600})
    return User(name, role, "session")


def sign_out(users: Users) -> None:
    """End this request's session for good: its id is recorded as signed out (first, so that a
    database failure leaves the session to sign out again), then the cookie is cleared."""
    sid, expires = session.get("sid"), session.get("expires")
    if isinstance(sid, str) and sid and isinstance(expires, int):
        sign_out_session(users.store, sid, expires)
    session.clear()
    g.pop("roi_user", None)


def current_user(users: Users) -> User | None:
    """The user of this request: a valid bearer token, or a valid unexpired session; else None."""
    if "roi_user" in g:
        return g.roi_user
    user = None
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and presented.strip():
        found = users.identify(presented.strip())
        user = User(found[0], found[1], "bearer") if found else None
    elif "user" in session:
        name, role, fingerprint = session.get("user"), session.get("role"), session.get("token", "")
        fresh = isinstance(session.get("expires"), int) and session["expires"] > time.time()
        sid = session.get("sid")
        if (fresh and role in ROLES and isinstance(sid, str) and sid
                and users.still_valid(str(name), str(role), str(fingerprint))
                and not session_signed_out(users.store, sid)):
            user = User(str(name), str(role), "session")
        else:
            session.clear()
    g.roi_user = user
    return user
