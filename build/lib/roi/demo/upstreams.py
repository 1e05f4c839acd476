"""`roi demo --upstreams`: a LiteLLM proxy and a Zendesk account, played by two servers on 127.0.0.1.

Two more client brands run on a newer stack: model calls go through a LiteLLM proxy
(it knows what each call cost), tickets live in Zendesk (it knows how each case
ended); neither alone gives a cost per resolved case. The demo serves one
deterministic month of both APIs in their real shapes, pulls them with the
connectors, and shows cost and outcomes meeting in the same tenant / channel
cohorts: LiteLLM cost / net resolved equals the report's cost_per_resolved_case.
"""

from __future__ import annotations

import base64
import bisect
import hmac
import json
import math
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from ..connectors import registry
from ..domain import Period
from ..errors import RoiError
from ..services.ingest import pull_source
from .company import TENANTS, WEEKDAY_FACTOR

SEED = 20261001
GATEWAY, HELPDESK = "gateway", "helpdesk"
SPEND_LOGS = "/spend/logs/v2"
EXPORT = "/api/v2/incremental/tickets/cursor.json"

# tenant (the proxy's end_user): (Zendesk organization id, tickets on a weekday)
PARTNERS = {"hooli": (7001, 46), "vandelay": (7002, 28)}
# channel: (share of tickets, Zendesk via.channel, model, model calls per ticket)
CHANNELS = {
    "web": (0.7, "native_messaging", "gpt-4o", 3),
    "email": (0.3, "email", "claude-sonnet-4-20250514", 2),
}
# model: (provider, USD per million tokens of input, cached input, output): what the proxy charges (`spend`)
PRICES = {"gpt-4o": ("openai", 2.50, 1.25, 10.00), "claude-sonnet-4-20250514": ("anthropic", 3.00, 0.30, 15.00)}
OUTCOME_TAGS = ("ai_resolved", "ai_handoff", "ai_abandoned", "")  # "": still open, not a case yet
OUTCOME_ODDS = (0.64, 0.23, 0.07, 0.06)
REOPEN_ODDS = 0.07
FAILURE_ODDS = 0.015
AGENTS = (381001, 381002, 381003)

SOURCES = """
# ---- added by `roi demo --upstreams` -------------------------------------------
# Two client brands on the newer stack: model calls go through a LiteLLM proxy
# (cost), tickets live in Zendesk (outcomes). Both map tenant and channel to the
# same values, so cost and outcomes land in the same cohorts. The demo's servers
# are gone once it ends, so these sources are disabled (`roi ingest` skips them):
# point base_url at your proxy and help desk and remove `enabled = false`.

[[sources]]
name = "gateway"
type = "litellm"
base_url = "{gateway}"
api_key = "${{ROI_DEMO_LITELLM_KEY:-sk-demo-litellm-master-key}}"
enabled = false
[sources.dimensions]
tenant = "end_user"                                         # the proxy's customer: "hooli", "vandelay"
channel = {{ field = "request_tags", prefix = "channel:" }}   # tags like "channel:web"

[[sources]]
name = "helpdesk"
type = "zendesk"
base_url = "{helpdesk}"
email = "bot-admin@northwind.example"
api_token = "${{ROI_DEMO_ZENDESK_TOKEN:-demo-zendesk-api-token}}"
page_size = 500
enabled = false
[sources.abandoned]
tags = ["ai_abandoned"]                                     # resolved: ai_resolved, escalated: ai_handoff (defaults)
[sources.dimensions]
tenant = {{ field = "organization_id", lookup = {{ "7001" = "hooli", "7002" = "vandelay" }}, default = "other" }}
channel = {{ field = "via.channel", lookup = {{ native_messaging = "web", email = "email" }} }}
"""
ORGANIZATIONS = {7001: "hooli", 7002: "vandelay"}  # the helpdesk's lookups above, as the demo checks them
VIA = {"native_messaging": "web", "email": "email"}

VECTOR_DB = 'allocate_by = "requests"\ndescription = "Managed vector database, shared by every assistant."'


# ------------------------------------------------------------------ the month's payloads


@dataclass
class Payloads:
    spend_logs: list[dict] = field(default_factory=list)  # LiteLLM_SpendLogs rows
    tickets: list[dict] = field(default_factory=list)  # Zendesk tickets, each with its metric set
    metric_sets: dict[int, dict] = field(default_factory=dict)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _zendesk_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _call(rng: random.Random, ticket_id: int, tenant: str, channel: str, model: str, start: datetime) -> dict:
    failed = rng.random() < FAILURE_ODDS
    prompt = 0 if failed else rng.randrange(3_000, 9_000)  # the retrieved help articles make prompts long
    cached = 0 if failed else int(prompt * rng.choice((0.0, 0.4, 0.6)))
    completion = 0 if failed else rng.randrange(90, 520)
    provider, per_input, per_cached, per_output = PRICES[model]
    spend = 0.0 if failed else ((prompt - cached) * per_input + cached * per_cached + completion * per_output) / 1e6
    metadata: dict[str, Any] = {
        "user_api_key_alias": "partner-bot", "user_api_key_team_alias": "partner-support",
        "additional_usage_values": {"prompt_tokens_details": {"cached_tokens": cached}},
        "error_information": {"error_code": "429", "error_class": "RateLimitError"} if failed else {},
    }
    return {
        "request_id": f"chatcmpl-{uuid.UUID(int=rng.getrandbits(128), version=4)}", "call_type": "acompletion",
        "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b", "spend": spend,
        "total_tokens": prompt + completion, "prompt_tokens": prompt, "completion_tokens": completion,
        "startTime": _stamp(start), "endTime": _stamp(start + timedelta(milliseconds=rng.randrange(600, 9_000))),
        "model": model, "model_group": model, "custom_llm_provider": provider,
        "user": "", "end_user": tenant, "team_id": "team-partner-support", "organization_id": None,
        "session_id": f"zendesk-{ticket_id}", "status": "failure" if failed else "success",
        "request_tags": [f"channel:{channel}", f"zendesk:{ticket_id}"], "metadata": metadata,
        "cache_hit": "False", "requester_ip_address": "",
    }


def _ticket(rng: random.Random, ticket_id: int, org: int, via: str, created: datetime) -> tuple[dict, dict]:
    tag = rng.choices(OUTCOME_TAGS, weights=OUTCOME_ODDS)[0]
    reopens = 1 if tag == "ai_resolved" and rng.random() < REOPEN_ODDS else 0
    solved = created + timedelta(minutes=rng.randrange(3, 240))
    updated = solved + timedelta(days=rng.randrange(1, 5)) if reopens else solved
    handed_off = tag == "ai_handoff"
    ticket = {
        "url": f"https://northwind-partners.zendesk.com/api/v2/tickets/{ticket_id}.json", "id": ticket_id,
        "external_id": None, "via": {"channel": via, "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": _zendesk_time(created), "updated_at": _zendesk_time(updated if tag else created),
        "type": "question", "subject": "Order question", "priority": None,
        "status": {"": "open", "ai_abandoned": "closed"}.get(tag, "solved"),
        "requester_id": 500000 + rng.randrange(100_000), "assignee_id": rng.choice(AGENTS) if handed_off else None,
        "organization_id": org, "group_id": 360001 if handed_off else 360002, "brand_id": 9001,
        "tags": ["partner_bot", tag] if tag else ["partner_bot"], "custom_fields": [{"id": 360011, "value": None}],
        "satisfaction_rating": {"score": "unoffered"}, "generated_timestamp": int(updated.timestamp()),
    }
    minutes = int((solved - created).total_seconds() // 60)
    metric_set = {
        "id": ticket_id + 9_000_000, "ticket_id": ticket_id, "created_at": ticket["created_at"],
        "updated_at": ticket["updated_at"], "reopens": reopens, "replies": rng.randrange(2, 6) if handed_off else 0,
        "solved_at": _zendesk_time(solved) if tag else None,
        "full_resolution_time_in_minutes": {"calendar": minutes, "business": minutes} if tag else None,
        "agent_wait_time_in_minutes": {"calendar": 0, "business": 0},
    }
    return ticket, metric_set


def generate(period: Period, seed: int = SEED) -> Payloads:
    """One month of both upstreams. Tickets open 06:00-19:00 UTC: the same day in UTC and in Berlin."""
    rng = random.Random(seed)
    payloads = Payloads()
    ticket_id = 240_000
    day = period.start
    while day < period.end:
        for tenant, (org, daily) in PARTNERS.items():
            for _ in range(round(daily * WEEKDAY_FACTOR[day.weekday()] * rng.uniform(0.85, 1.15))):
                ticket_id += 1
                channel = rng.choices(list(CHANNELS), weights=[spec[0] for spec in CHANNELS.values()])[0]
                _, via, model, calls = CHANNELS[channel]
                created = datetime(day.year, day.month, day.day, 6, tzinfo=UTC) + timedelta(
                    seconds=rng.randrange(13 * 3600))
                moment = created
                for _ in range(max(1, calls + rng.randrange(-1, 2))):
                    payloads.spend_logs.append(_call(rng, ticket_id, tenant, channel, model, moment))
                    moment += timedelta(seconds=rng.randrange(5, 70))
                ticket, metric_set = _ticket(rng, ticket_id, org, via, created)
                payloads.tickets.append(ticket)
                payloads.metric_sets[ticket_id] = metric_set
        day += timedelta(days=1)
    return payloads


# ------------------------------------------------------------------ the two APIs


def litellm_routes(rows: list[dict]) -> dict[str, Callable[[Request], tuple[int, Any]]]:
    """``/spend/logs/v2``: startTime between start_date and end_date (both inclusive), newest first, paged."""
    ordered = sorted(rows, key=lambda row: row["startTime"])
    stamps = [row["startTime"][:19].replace("T", " ") for row in ordered]

    def spend_logs(request: Request) -> tuple[int, Any]:
        page, size = int(request.args.get("page", 1)), int(request.args.get("page_size", 50))
        if page < 1 or not 1 <= size <= 100:
            return 422, {"detail": "page must be >= 1 and page_size between 1 and 100"}
        low = bisect.bisect_left(stamps, request.args["start_date"])
        high = bisect.bisect_right(stamps, request.args["end_date"])
        found = ordered[low:high][::-1]
        return 200, {"data": found[(page - 1) * size: page * size], "total": len(found), "page": page,
                     "page_size": size, "total_pages": math.ceil(len(found) / size)}

    return {SPEND_LOGS: spend_logs}


def zendesk_routes(payloads: Payloads) -> dict[str, Callable[[Request], tuple[int, Any]]]:
    """The cursor-based incremental ticket export (ordered by update), metric sets sideloaded on request."""
    ordered = sorted(payloads.tickets, key=lambda ticket: (ticket["updated_at"], ticket["id"]))
    updates = [ticket["updated_at"] for ticket in ordered]

    def export(request: Request) -> tuple[int, Any]:
        size = min(int(request.args.get("per_page", 1000)), 1000)
        if "cursor" in request.args:
            since, offset = base64.urlsafe_b64decode(request.args["cursor"]).decode().split("|")
            low = int(offset)
        else:
            since = _zendesk_time(datetime.fromtimestamp(int(request.args["start_time"]), UTC))
            low = bisect.bisect_left(updates, since)
        page = ordered[low:low + size]
        end = low + size >= len(ordered)
        cursor = base64.urlsafe_b64encode(f"{since}|{low + size}".encode()).decode()
        answer: dict[str, Any] = {"tickets": page, "after_cursor": None if end else cursor,
                                  "before_cursor": None, "after_url": None, "before_url": None, "end_of_stream": end}
        if "metric_sets" in request.args.get("include", "").split(","):
            answer["metric_sets"] = [payloads.metric_sets[ticket["id"]] for ticket in page]
        return 200, answer

    return {EXPORT: export}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # a line per request would drown the demo's output (errors are still logged)


class LocalServer:
    """JSON routes on 127.0.0.1 at an ephemeral port, served from a thread until stop()."""

    def __init__(self, name: str, routes: dict[str, Callable[[Request], tuple[int, Any]]]):
        self.name = name
        self.routes = routes
        self.authorization: str | None = None  # the Authorization header to accept; none before it is set
        self.requests = 0
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"demo-{name}", daemon=True)
        self._thread.start()

    def _app(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.requests += 1
        given = request.headers.get("Authorization", "")
        handler = self.routes.get(request.path)
        if self.authorization is None or not hmac.compare_digest(given.encode(), self.authorization.encode()):
            status, body = 401, {"error": "Couldn't authenticate you"}
        elif handler is None:
            status, body = 404, {"detail": "Not Found"}
        else:
            try:
                status, body = handler(request)
            except (KeyError, ValueError) as exc:
                status, body = 400, {"detail": f"bad request: {exc}"}
        return Response(json.dumps(body), status, mimetype="application/json")(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# ------------------------------------------------------------------ the demo's side


@dataclass
class Joined:
    """One tenant / channel cohort as the two upstreams tell it: cost from LiteLLM, outcomes from Zendesk."""

    calls: int = 0
    cost: float = 0.0
    resolved: int = 0
    reopened: int = 0

    @property
    def net_resolved(self) -> int:
        return self.resolved - self.reopened

    @property
    def cost_per_resolved_case(self) -> float | None:
        return self.cost / self.net_resolved if self.net_resolved > 0 else None


def joined_cohorts(payloads: Payloads, period: Period) -> dict[tuple[str, str], Joined]:
    """Straight from the payloads, with the config's mapping: what the report must say per cohort."""
    cohorts: dict[tuple[str, str], Joined] = {}
    first, last = period.start.isoformat(), period.end.isoformat()
    for row in payloads.spend_logs:
        if first <= row["startTime"][:10] < last:
            channel = next(tag.removeprefix("channel:") for tag in row["request_tags"] if tag.startswith("channel:"))
            cohort = cohorts.setdefault((row["end_user"], channel), Joined())
            cohort.calls += 1
            cohort.cost += row["spend"]
    for ticket in payloads.tickets:
        if first <= ticket["created_at"][:10] < last and "ai_resolved" in ticket["tags"]:
            cohort = cohorts.setdefault((ORGANIZATIONS[ticket["organization_id"]], VIA[ticket["via"]["channel"]]),
                                        Joined())
            cohort.resolved += 1
            cohort.reopened += payloads.metric_sets[ticket["id"]]["reopens"] > 0
    return dict(sorted(cohorts.items()))


class Upstreams:
    """The two servers of a demo month, and what the demo does with them."""

    def __init__(self, period: Period, running: ExitStack):
        self.period = period
        self.payloads = generate(period)
        self.gateway = LocalServer(GATEWAY, litellm_routes(self.payloads.spend_logs))
        running.callback(self.gateway.stop)
        self.helpdesk = LocalServer(HELPDESK, zendesk_routes(self.payloads))
        running.callback(self.helpdesk.stop)

    def config(self, base: str) -> str:
        """The demo config with the two sources added.

        The vector database is scoped to the brands that use it (the partner brands retrieve from
        their own index), so the new cohorts' cost is their LiteLLM spend alone and the other
        cohorts keep the figures of the plain demo."""
        if VECTOR_DB not in base:
            raise RoiError("roi demo --upstreams: the demo config has no vector-db fixed cost to scope")
        tenants = ", ".join(f'"{tenant}"' for tenant in [*TENANTS, "northwind-internal"])
        scoped = base.replace(VECTOR_DB, VECTOR_DB.replace(
            "\ndescription", f"\nmatch = {{ tenant = [{tenants}] }}  # not the partner brands: own index"
                             "\ndescription"))
        return scoped + SOURCES.format(gateway=self.gateway.url, helpdesk=self.helpdesk.url)

    def pull(self, settings, store, echo: Callable[[str], None]) -> None:
        """Pull both sources over the demo month (local days), as `roi ingest --since --until` would."""
        gateway = registry.validate_options(settings.source(GATEWAY), settings.base_dir)
        self.gateway.authorization = f"Bearer {gateway.api_key.get_secret_value()}"
        helpdesk = registry.validate_options(settings.source(HELPDESK), settings.base_dir)
        token = base64.b64encode(f"{helpdesk.email}/token:{helpdesk.api_token.get_secret_value()}".encode())
        self.helpdesk.authorization = f"Basic {token.decode()}"
        until = self.period.end - timedelta(days=1)
        for server, kind in ((self.gateway, "LiteLLM proxy"), (self.helpdesk, "Zendesk")):
            result = pull_source(settings, store, settings.source(server.name), since=self.period.start, until=until)
            run = result.run
            if run.failed:
                raise RoiError(f"roi demo --upstreams: pulling {server.name} failed: {'; '.join(run.errors)}")
            last = result.window.end.date() - timedelta(days=1)
            echo(f"  pulled {server.name} ({kind} at {server.url}): UTC days {result.window.start:%Y-%m-%d} to "
                 f"{last:%Y-%m-%d}, {server.requests:,} HTTP requests, {run.rows_read:,} rows read, "
                 f"{run.stored:,} stored, {run.quarantined} quarantined")

    def joined_table(self, frame) -> str:
        """The joined cohorts, each checked against the report's cost_per_resolved_case."""
        report = {(record["cohort"]["tenant"], record["cohort"]["channel"]): record
                  for record in frame.cohort_records()}
        lines = [
            f"Joined cohorts {self.period}: cost from LiteLLM ({GATEWAY}), outcomes from Zendesk ({HELPDESK}), "
            f"{frame.currency}",
            f"{'cohort':<18} {'calls':>6} {'LiteLLM cost':>12} {'resolved':>8} {'reopened':>8} {'net':>5} "
            f"{'cost/resolved':>13} {'report':>8}",
        ]
        joined = joined_cohorts(self.payloads, self.period)
        differ = []
        for (tenant, channel), cohort in joined.items():
            unit = cohort.cost_per_resolved_case
            reported = report.get((tenant, channel), {}).get("cost_per_resolved_case")
            if (unit is None) != (reported is None) or (unit is not None and not math.isclose(unit, reported,
                                                                                              rel_tol=1e-9)):
                differ.append(f"{tenant} / {channel}")
            lines.append(
                f"{tenant + ' / ' + channel:<18} {cohort.calls:>6,} {cohort.cost:>12,.4f} {cohort.resolved:>8,} "
                f"{cohort.reopened:>8,} {cohort.net_resolved:>5,} {'-' if unit is None else f'{unit:.4f}':>13} "
                f"{'-' if reported is None else f'{reported:.4f}':>8}"
            )
        lines.append("cost/resolved: LiteLLM cost / net resolved (resolved - reopened), from the upstreams' payloads")
        if differ:
            raise RoiError("\n".join(lines) + f"\nroi demo --upstreams: the report disagrees for {', '.join(differ)}")
        lines.append(f"report: its cost_per_resolved_case, equal for all {len(joined)} cohorts (joined on tenant "
                     "and channel)")
        return "\n".join(lines)


@contextmanager
def serve_upstreams(period: Period) -> Iterator[Upstreams]:
    """Both servers, each stopped when the block ends (also on error, and if the other failed to start)."""
    with ExitStack() as running:
        yield Upstreams(period, running)
