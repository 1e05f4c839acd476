"""Bearer tokens from the config, with roles reader < admin.

Every request but /healthz (and /metrics when `api.metrics_open`) needs a token.
Tokens are compared in constant time against every configured token, so the
time taken says nothing about which one nearly matched; they are never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, current_app, g, request

from ..config import ApiToken
from .problems import ApiProblem

ROLES = ("reader", "admin")
OPEN = "open"
_ROLE_ATTRIBUTE = "_roi_role"

F = TypeVar("F", bound=Callable)


def requires_role(role: str) -> Callable[[F], F]:
    """Mark a view as needing `role` (or 'open'); unmarked views need a reader."""
    if role not in (*ROLES, OPEN):
        raise ValueError(f"unknown role {role!r}")

    def mark(view: F) -> F:
        setattr(view, _ROLE_ATTRIBUTE, role)
        return view

    return mark


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str


class Authenticator:
    def __init__(self, tokens: list[ApiToken]):
        self._tokens = [(item.token.get_secret_value().encode(), Principal(item.name, item.role)) for item in tokens]

    def identify(self, presented: str) -> Principal | None:
        given = presented.encode("utf-8", "surrogateescape")
        found = None
        for secret, principal in self._tokens:
            # no early exit: every token is compared on every request
            if hmac.compare_digest(given, secret) and found is None:
                found = principal
        return found


def required_role(view: Callable | None) -> str:
    return getattr(view, _ROLE_ATTRIBUTE, "reader") if view is not None else "reader"


def _required_role(app: Flask) -> str:
    endpoint = request.endpoint
    return required_role(app.view_functions.get(endpoint) if endpoint else None)


def allows(principal: Principal | None, role: str) -> bool:
    return principal is not None and ROLES.index(principal.role) >= ROLES.index(role)


def bearer_token(header: str) -> str | None:
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    return presented if scheme.lower() == "bearer" and presented else None


def _challenge(detail: str) -> ApiProblem:
    return ApiProblem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="roi"'})


def check_request() -> None:
    """before_request hook: 401 without a valid token, 403 when its role is too small."""
    app = current_app
    runtime = app.extensions["roi"]
    required = _required_role(app)
    if required == OPEN or request.endpoint in runtime.open_endpoints:
        return
    presented = bearer_token(request.headers.get("Authorization", ""))
    if presented is None:
        raise _challenge("this endpoint needs a bearer token: send 'Authorization: Bearer <token>'")
    principal = runtime.authenticator.identify(presented)
    if principal is None:
        raise _challenge("the bearer token is not one of the configured [api] tokens")
    if not allows(principal, required):
        raise ApiProblem(403, f"this endpoint needs the {required} role; token {principal.name!r} is a {principal.role}")
    g.principal = principal
