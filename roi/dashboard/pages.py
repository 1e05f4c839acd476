"""The pages: Overview, Cohorts (with its CSV and xlsx downloads), One cohort, Risk, Assumptions, Operations.

Each page's data comes from the services the API calls for the same question, computed once per
data version of the store and kept (Dashboard.pages); a page only renders it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from ..domain import DIMENSIONS, REPORT_METRICS, display_dimension
from ..services import assumptions, reports
from ..services import trend as trends
from ..services.cohort_profile import cohort_profile
from ..services.cohort_table import PAGE_SIZES, SHOWN_METRICS, cohort_page, month_values, page_file
from ..services.jobs import job_specs, last_runs, recent_runs, stored_next_runs
from ..services.periods import list_periods
from ..services.quarantine import quarantined
from ..services.sources import source_documents
from .choices import COMMON, TABLE, Choices, read_choices
from .risk_view import EFFECT_LABELS, RiskAnswers, RiskPage, chart_data, cohort_label, risk_answers, risk_page
from .sessions import current_user
from .sign_in import require_user

blueprint = Blueprint("pages", __name__)
blueprint.before_request(require_user)

KPIS = ("total_cost", "failure_cost", "value", "net_value", "roi", "cost_per_resolved_case", "resolution_rate",
        "escalation_rate")
TREND_METRICS = ("net_value", "cost_per_resolved_case")
CHART_ALL = 25  # up to this many cohorts, the chart shows them all; beyond, the largest and the smallest
CHART_TOP, CHART_BOTTOM = 15, 10


def dashboard():
    return current_app.extensions["roi_dashboard"]


def data_version() -> str:
    """The store's data version, read once per request (or warm-up): every answer a page is made of,
    and the key it is cached under, belong to that one version, even when a batch lands meanwhile
    (a page computed from the data before it must never be kept under the version after it)."""
    if "roi_data_version" not in g:
        g.roi_data_version = dashboard().data_version()
    return g.roi_data_version


def cached(name: str, key: Hashable, make: Callable[[], Any]) -> Any:
    """`make()` once per data version and config (and per `key`) in this process."""
    state = dashboard()
    return state.pages.get_or_make((name, key, data_version(), state.settings.config_hash), make)


def page(template: str, **context: Any) -> str:
    state = dashboard()
    return render_template(template, user=current_user(state.users), currency=state.settings.service.currency,
                           settings=state.settings, **context)


def months_with_data() -> list:
    """The months with stored data (a scan of the store's days: kept per data version)."""
    return cached("months with data", None, dashboard().months.months_with_data)


def latest_month():
    found = months_with_data()
    return found[-1] if found else None


def _choices(takes: tuple[str, ...], filters: bool = False) -> Choices:
    return read_choices(dashboard().settings, latest_month, request.args, takes=takes, filters=filters)


def _frozen(choices: Choices) -> tuple:
    return (choices.period, choices.group_by, tuple(sorted((k, tuple(v)) for k, v in choices.filters.items())),
            choices.sort, choices.page, choices.per_page)


# ------------------------------------------------------------------ overview


def _overview(choices: Choices) -> dict[str, Any]:
    state = dashboard()
    settings, store, months, period = state.settings, state.store, state.months, choices.period
    version = data_version()
    answer = reports.report(settings, store, period, None, {}, months=months, version=version, formats=("json",))
    # the largest cohorts and the smallest: two short answers (the API's sort and limit), not every cohort
    document, total = reports.document(store, answer, sort="-net_value", limit=CHART_ALL)
    if total > CHART_ALL:
        smallest, _ = reports.document(store, answer, sort="net_value", limit=CHART_BOTTOM)
        shown, hidden = document["cohorts"][:CHART_TOP] + smallest["cohorts"][::-1], total - CHART_TOP - CHART_BOTTOM
    else:
        shown, hidden = document["cohorts"], 0
    before = reports.report(settings, store, period.previous(), None, {}, months=months, version=version,
                            formats=("json",))
    previous, _ = reports.document(store, before, limit=0)
    first, last = trends.default_range(None, None, period)
    # the totals are those of any grouping: none is the least work
    series = trends.trend(settings, months, first, last, (), {}, TREND_METRICS, version=version,
                          with_data=months_with_data())
    bars = [{"label": " / ".join(display_dimension(str(v)) for v in record["cohort"].values()) or "(all)",
             "cohort": record["cohort"], "net_value": record["net_value"]} for record in shown]
    return {
        "document": document, "previous": previous["totals"], "previous_has_data": before.has_data,
        "total": total, "trend": series["totals"], "bars": bars, "hidden": hidden,
        "has_data": answer.has_data, "warning": answer.warning, "note": answer.note,
    }


@blueprint.get("/")
def overview() -> str:
    choices = _choices(COMMON)
    if choices.period is None:
        return page("overview.html", choices=choices, data=None, kpis=KPIS)
    data = cached("overview", choices.period, lambda: _overview(choices))
    chart = {
        "currency": dashboard().settings.service.currency,
        "trend": [{"period": point["period"], "net_value": point["net_value"],
                   "cost_per_resolved_case": point["cost_per_resolved_case"]} for point in data["trend"]],
        "bars": [{"label": bar["label"], "net_value": bar["net_value"]} for bar in data["bars"]],
    }
    return page("overview.html", choices=choices, data=data, kpis=KPIS, chart=chart)


# ------------------------------------------------------------------ cohorts


def _table(choices: Choices):
    state = dashboard()
    return cached("cohorts", _frozen(choices), lambda: cohort_page(
        state.settings, state.store, state.months, choices.period, choices.group_by, choices.filters,
        sort=choices.sort, page=choices.page, per_page=choices.per_page, version=data_version()))


@blueprint.get("/cohorts")
def cohorts():
    choices = _choices(TABLE, filters=True)
    if any(value == "" for value in request.args.values()):
        # the form sends every field, empty ones too: the view's own short address instead, to bookmark
        return redirect(f"{url_for('pages.cohorts')}?{choices.query()}", code=303)
    state = dashboard()
    table = _table(choices) if choices.period is not None else None
    values = cached("dimension values", choices.period, lambda: month_values(
        state.settings, state.months, choices.period, data_version())) if table else {}
    periods = [str(item.period) for item in cached("periods", None, lambda: list_periods(state.store))]
    return page("cohorts.html", choices=choices, table=table, metrics=SHOWN_METRICS, all_metrics=REPORT_METRICS,
                dimensions=state.settings.dimensions, values=values, page_sizes=PAGE_SIZES, periods=periods)


def _download(fmt: str) -> Response:
    choices = _choices(TABLE, filters=True)
    if choices.period is None:
        return Response("no month has data yet\n", status=404, mimetype="text/plain")
    content, media_type, filename = page_file(_table(choices), fmt)
    response = Response(content, content_type=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blueprint.get("/cohorts.csv")
def cohorts_csv() -> Response:
    return _download("csv")


@blueprint.get("/cohorts.xlsx")
def cohorts_xlsx() -> Response:
    return _download("xlsx")


# ------------------------------------------------------------------ one cohort


@blueprint.get("/cohort")
def cohort() -> str:
    choices = _choices(("period", "group_by"), filters=True)
    state = dashboard()
    missing = [name for name in choices.group_by if len(choices.filters.get(name, [])) != 1]
    values = {name: choices.filters[name][0] for name in choices.group_by if name not in missing}
    if missing or choices.period is None:
        return page("cohort.html", choices=choices, profile=None, missing=missing)
    profile = cached("cohort", _frozen(choices), lambda: cohort_profile(
        state.settings, state.store, state.months, choices.period, choices.group_by, values,
        version=data_version(), with_data=months_with_data()))
    chart = {"currency": state.settings.service.currency,
             "points": profile.trend["series"][0]["points"] if profile.trend["series"] else []}
    return page("cohort.html", choices=choices, profile=profile, missing=[], chart=chart)


# ------------------------------------------------------------------ risk


@blueprint.get("/risk")
def risk():
    """Bands, tornado and break-even, and the bridge from last month, for one question."""
    choices = _choices(RISK_CHOICES, filters=True)
    if any(value == "" for value in request.args.values()):
        return redirect(f"{url_for('pages.risk')}?{choices.query()}", code=303)
    if choices.period is None:
        return page("risk.html", choices=choices, answers=None, main=_risk_main(choices, None, None))
    answers, shown = _risk_data(choices)
    # the page's content is the same for everyone: rendered once per view (its query) and data version
    main, chart = cached("risk html", choices.query(), lambda: (_risk_main(choices, answers, shown), chart_data(
        answers, shown, choices.group_by, dashboard().settings.service.currency)))
    return page("risk.html", choices=choices, answers=answers, main=main, chart=chart)


def _risk_main(choices: Choices, answers: RiskAnswers | None, shown: RiskPage | None) -> Markup:
    state = dashboard()
    return Markup(render_template(
        "_risk_main.html", choices=choices, answers=answers, shown=shown, effects=EFFECT_LABELS,
        label_of=lambda cohort: cohort_label(cohort, choices.group_by), dimensions=state.settings.dimensions,
        page_sizes=PAGE_SIZES, currency=state.settings.service.currency, settings=state.settings))


RISK_CHOICES = ("period", "group_by", "page", "per_page")


def _risk_data(choices: Choices) -> tuple[RiskAnswers, RiskPage]:
    """The question's answers and the page's cohorts with their bands, once per data version and config."""
    state = dashboard()
    question = (choices.period, choices.group_by, _frozen(choices)[2])
    answers = cached("risk", question, lambda: risk_answers(
        state.settings, state.store, state.months, choices.period, choices.group_by, choices.filters,
        data_version()))
    shown = cached("risk page", (question, choices.page, choices.per_page), lambda: risk_page(
        state.settings, state.store, state.months, data_version(), answers, choices.group_by, choices.filters,
        choices.page, choices.per_page))
    return answers, shown


def warm_risk() -> None:
    """The Risk page of the newest month in the config's grouping, computed ahead (in the app's context):
    the page a person opens first, and the dearest to open (every cohort's sensitivity and change)."""
    choices = read_choices(dashboard().settings, latest_month, MultiDict(), takes=RISK_CHOICES, filters=True)
    if choices.period is not None:
        _risk_data(choices)


# ------------------------------------------------------------------ assumptions and operations


@blueprint.get("/assumptions")
def assumptions_page() -> str:
    _choices(())
    state = dashboard()
    return page("assumptions.html", models=cached("models", None, lambda: assumptions.value_models(state.settings)),
                closed=cached("closed", None, lambda: assumptions.closed_months(state.store)), dimensions=DIMENSIONS)


@blueprint.get("/operations")
def operations() -> str:
    _choices(())
    state = dashboard()
    settings, store = state.settings, state.store
    user = current_user(state.users)
    specs = job_specs(settings)
    rows = quarantined(settings, store, limit=20)[0] if user.admin else []
    return page("operations.html", sources=source_documents(settings, store), jobs=specs,
                next_runs=stored_next_runs(store), last=last_runs(store), runs=recent_runs(store, limit=20),
                periods=cached("periods", None, lambda: list_periods(store)), quarantine=rows)
