"""What an admin can do from the pages: run a job now, close a month. Each asks for a confirmation
first (a page with a POST form carrying the CSRF token); a reader gets 403 on both steps.

Running a job is what `POST /api/v1/jobs/{id}/run` does (recorded with trigger `manual`); closing
is what `roi close --period` does (the revision stored, its workbook written to the reports folder).
"""

from __future__ import annotations

import logging
import threading

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..domain import Period
from ..errors import RoiError, UsageError
from ..services import closing, reports
from ..services.jobs import JobBusy, JobRunner, find_job
from .sessions import current_user
from .sign_in import require_admin

log = logging.getLogger("roi.dashboard")
blueprint = Blueprint("actions", __name__, url_prefix="/operations")


@blueprint.before_request
def _admins_only() -> None:
    require_admin()


def dashboard():
    return current_app.extensions["roi_dashboard"]


def _confirm(title: str, question: str, action: str, fields: dict[str, str], button: str) -> str:
    state = dashboard()
    return render_template("confirm.html", title=title, question=question, action=action, fields=fields,
                           button=button, user=current_user(state.users), settings=state.settings)


def _job_id(source: dict) -> str:
    job = str(source.get("job", ""))
    find_job(dashboard().settings, job)  # NotFound for a job the config does not define
    return job


@blueprint.get("/run")
def confirm_run() -> str:
    job = _job_id(request.args)
    return _confirm("Run a job now", f"Run the job {job} now? It runs in the background and is recorded "
                    "like a scheduled run, with trigger 'manual'.", url_for("actions.run"), {"job": job},
                    "Yes, run it now")


@blueprint.post("/run")
def run() -> Response:
    job = _job_id(request.form)
    state = dashboard()
    user = current_user(state.users)
    runner = JobRunner(state.settings, state.store)
    try:
        claim = runner.claim(job, runner.clock(), "manual")
    except JobBusy as exc:
        flash(str(exc), "error")
        return redirect(url_for("pages.operations"), code=303)
    assert claim is not None  # a manual run's time is its own: nobody else claims it
    threading.Thread(target=claim.execute, name=f"roi-job-{job}", daemon=True).start()
    log.info("dashboard: %s started job %s (run %s)", user.name, job, claim.run_id)
    flash(f"Started {job}: run {claim.run_id}. Reload this page to see it finish.", "ok")
    return redirect(url_for("pages.operations"), code=303)


def _period(source: dict) -> Period:
    text = source.get("period")
    if not text:
        raise UsageError("period: which month to close, as YYYY-MM", "period")
    return Period.parse(str(text))


@blueprint.get("/close")
def confirm_close() -> str:
    period = _period(request.args)
    revise = request.args.get("revise") == "1"
    question = (f"Issue a new revision of {period}? The figures of the current data and config are stored "
                "as the next revision; the earlier ones stay." if revise else
                f"Close {period}? Its report is stored as revision 1 and never changes; data arriving later "
                "is shown as late data until a new revision is issued.")
    fields = {"period": str(period), **({"revise": "1"} if revise else {})}
    return _confirm("Close a month", question, url_for("actions.close"), fields,
                    "Yes, issue the revision" if revise else f"Yes, close {period}")


@blueprint.post("/close")
def close() -> Response:
    period = _period(request.form)
    revise = request.form.get("revise") == "1"
    state = dashboard()
    user = current_user(state.users)
    output = reports.default_report_path(state.settings, period, "xlsx")
    try:
        closed = closing.close_period(state.settings, state.store, period, revise=revise, outputs={output: "xlsx"})
    except RoiError as exc:  # not ended yet, already closed, nothing changed, no data: said as it is
        flash(str(exc), "error")
        return redirect(url_for("pages.operations"), code=303)
    log.info("dashboard: %s closed %s as revision %s", user.name, period, closed.revision)
    flash(f"Closed {period}: revision {closed.revision}; its workbook is {output.name}.", "ok")
    return redirect(url_for("pages.operations"), code=303)
