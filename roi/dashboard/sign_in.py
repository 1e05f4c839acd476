"""Signing in with an API token (a POST form, never a URL) and out again; the guard of every other page."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .sessions import User, current_user, sign_in, sign_out

log = logging.getLogger("roi.dashboard")
blueprint = Blueprint("sign_in", __name__)


def dashboard():
    return current_app.extensions["roi_dashboard"]


def safe_next(target: str | None) -> str:
    """A path on this site to return to; anything else (another host, a scheme, '//') is the overview."""
    if not target:
        return url_for("pages.overview")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("pages.overview")
    return target


def require_user() -> Response | None:
    """before_request of the data pages: no valid session or bearer token, no data (a GET goes to sign-in)."""
    user = current_user(dashboard().users)
    if user is not None:
        return None
    if request.method == "GET" and "Authorization" not in request.headers:
        return redirect(url_for("sign_in.form", next=request.full_path.rstrip("?")))
    abort(401)


def require_admin() -> User:
    user = current_user(dashboard().users)
    if user is None:
        abort(401)
    if not user.admin:
        abort(403)
    return user


@blueprint.get("/sign-in")
def form() -> str:
    return render_template("sign_in.html", next=safe_next(request.args.get("next")), error=None,
                           user=current_user(dashboard().users))


@blueprint.post("/sign-in")
def submit():
    target = safe_next(request.form.get("next"))
    user = sign_in(dashboard().users, request.form.get("token", ""))
    if user is None:
        log.info("dashboard: a sign-in with an unknown token from %s", request.remote_addr)
        return render_template("sign_in.html", next=target, user=None,
                               error="That token is not one of the configured API tokens."), 401
    log.info("dashboard: %s (%s) signed in", user.name, user.role)
    return redirect(target, code=303)


@blueprint.post("/sign-out")
def leave():
    sign_out(dashboard().users)
    return redirect(url_for("sign_in.form"), code=303)
