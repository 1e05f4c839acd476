"""The dashboard: server-rendered pages of ROI per cohort, served by `roi serve` at `/` beside the API.

`create_dashboard(...)` builds its own Flask app (Jinja templates and static files in this
package; Chart.js vendored, nothing fetched from elsewhere). It is a separate app from the
API's, sharing the API's store, valued months and data version (roi.serving joins the two), so
the pages keep their own sign-in, session cookie, CSRF protection and HTML errors while every
figure comes from the same services, and the same cached months, as the API's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, Response, current_app, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect

from ..config import Settings
from ..errors import ConfigError, NotFound, RoiError, UsageError
from ..services import DatabaseError, Store
from ..services.caching import LruCache
from ..services.valued import ValuedMonths
from . import actions, formatting, pages, sign_in
from .sessions import Users, configure, current_user

log = logging.getLogger("roi.dashboard")

# What a page may load: its own scripts, styles and images only (the charts' data is a JSON block).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass(slots=True)
class Dashboard:
    """What the views share: one per app, so one per worker process."""

    settings: Settings
    store: Store
    months: ValuedMonths
    data_version: Callable[[], str]
    users: Users
    pages: LruCache = field(default_factory=lambda: LruCache(256))  # page data per data version


def create_dashboard(settings: Settings, store: Store, months: ValuedMonths, data_version: Callable[[], str], *,
                     warm: bool = False) -> Flask:
    """The dashboard app on the API's `store`, `months` and `data_version` (the store's, cached briefly).
    `warm` (roi serve's workers): compute the newest month's Risk page in the background now, as the
    API values the newest months (pages.warm_risk)."""
    app = Flask(__name__, static_url_path="/static/dashboard")
    users = configure(app, settings.api.tokens, store)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600
    CSRFProtect(app)
    app.extensions["roi_dashboard"] = Dashboard(settings, store, months, data_version, users)
    app.jinja_env.filters.update(formatting.FILTERS)
    app.jinja_env.globals.update(kind_of=formatting.kind_of, cohort_query=formatting.cohort_query)
    app.register_blueprint(sign_in.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(actions.blueprint)
    app.after_request(_secure_headers)
    _install_error_pages(app)
    for name in app.jinja_env.list_templates():  # compiled now, not by the first request of each page
        app.jinja_env.get_template(name)
    if warm:
        threading.Thread(target=_warm, args=(app,), name="roi-warm-risk", daemon=True).start()
    return app


def _warm(app: Flask) -> None:
    try:
        with app.app_context():
            pages.warm_risk()
    except Exception as exc:  # noqa: BLE001 - a background thread: the page computes itself when opened
        log.warning("could not compute the Risk page ahead of questions: %s", exc)


def _secure_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html" or response.mimetype.startswith(("text/csv", "application/vnd")):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error(status: int, title: str, detail: str) -> tuple[str, int]:
    state = current_app.extensions["roi_dashboard"]
    try:
        user = current_user(state.users)
    except Exception:  # noqa: BLE001 - an error page shows even when the session cannot be read
        user = None
    return render_template("error.html", status=status, title=title, detail=detail, user=user), status


def _install_error_pages(app: Flask) -> None:
    @app.errorhandler(UsageError)
    @app.errorhandler(ConfigError)
    def usage(exc: RoiError):
        return _error(400, "That view cannot be shown", str(exc))

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound):
        return _error(404, "Not found", str(exc))

    @app.errorhandler(CSRFError)
    def csrf(exc: CSRFError):
        return _error(400, "The form expired or did not come from this site",
                      f"{exc.description} Open the page again and resubmit.")

    @app.errorhandler(DatabaseError)
    def database(exc: DatabaseError):
        log.warning("dashboard: database failure: %s", exc)
        return _error(503, "The database cannot be reached", "Try again in a moment.")

    @app.errorhandler(401)
    def unauthorized(_exc):
        return _error(401, "Sign in first", "This needs a session (sign in with an API token) or a bearer token.")

    @app.errorhandler(403)
    def forbidden(_exc):
        return _error(403, "Admins only", "This needs an admin token; you are signed in as a reader.")

    @app.errorhandler(404)
    def missing(_exc):
        return _error(404, "Not found", "No page at this address.")

    @app.errorhandler(405)
    def method(_exc):
        return _error(405, "Not allowed", "This address does not take that method.")
