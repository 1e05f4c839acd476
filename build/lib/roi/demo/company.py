"""`roi demo`: a fictional company's AI support data, generated deterministically.

Northwind Commerce runs a support bot for four client brands (web chat, email,
voice) and an internal knowledge assistant on Slack. Three months of events,
with weekly seasonality, a wage-driven assumption change mid-quarter, reopened
tickets arriving days later, a self-hosted model priced by override, one model
nobody can price, and a handful of broken rows.
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from ..errors import RoiError
from ..services.files import write_atomically

FIRST_DAY = date(2026, 8, 1)
DAYS = 92  # August, September, October 2026
SEED = 20260801

# tenant: (plan tier, language, daily conversations on a weekday)
TENANTS = {
    "acme": ("enterprise", "en", 220),
    "globex": ("pro", "de", 140),
    "initech": ("pro", "en", 90),
    "umbrella": ("starter", "fr", 60),
}
# channel: (share of a tenant's conversations, model calls per conversation)
CHANNELS = {"web": (0.62, 3), "email": (0.26, 2), "voice": (0.12, 4)}
TOPICS = ["billing", "shipping", "returns", "account", "technical"]
TOPIC_WEIGHTS = [0.28, 0.24, 0.2, 0.16, 0.12]
# outcome odds by topic: resolved, escalated, abandoned
TOPIC_OUTCOMES = {
    "billing": (0.66, 0.2, 0.14),
    "shipping": (0.74, 0.12, 0.14),
    "returns": (0.62, 0.24, 0.14),
    "account": (0.58, 0.3, 0.12),
    "technical": (0.41, 0.45, 0.14),
}
WEEKDAY_FACTOR = [1.0, 1.02, 0.98, 0.97, 0.92, 0.45, 0.35]
INTERNAL_DAILY = 120
INTERNAL_TOPICS = ["hr", "it", "policy"]

COLUMNS = [
    "event_id", "ts", "conversation_id", "tenant", "channel", "topic", "language", "plan_tier",
    "provider", "model", "input_tokens", "output_tokens", "cached_input_tokens", "cost_usd", "outcome",
    "human_review_minutes",
]


def _model_for(rng: random.Random, tenant: str, channel: str) -> tuple[str, str]:
    if channel == "voice":
        return ("openai", "gpt-4o-mini")
    if tenant == "acme" and rng.random() < 0.35:
        return ("openai", "gpt-4o")
    if tenant == "globex":
        return ("selfhosted", "support-llama-8b")
    if tenant == "umbrella" and rng.random() < 0.08:
        return ("acme-labs", "ft-router-v2")  # nobody knows its price: shows up as unpriced
    return ("openai", "gpt-4o-mini")


def _pick(rng: random.Random, odds: tuple[float, ...]) -> int:
    return rng.choices(range(len(odds)), weights=odds)[0]


def _conversation_rows(rng, conversation: str, start: datetime, dims: dict, calls: int, outcome: str,
                       provider_model: tuple[str, str], billed: bool) -> list[dict]:
    rows = []
    moment = start
    cached_share = 0.0
    for call in range(calls):
        input_tokens = int(rng.randrange(900, 2600)) + call * 400
        cached = int(input_tokens * cached_share)
        output_tokens = int(rng.randrange(80, 420))
        cached_share = 0.55  # the system prompt and history are cached after the first call
        rows.append({
            **dims,
            "event_id": f"{conversation}-{call}",
            "ts": moment.isoformat().replace("+00:00", "Z"),
            "conversation_id": conversation,
            "provider": provider_model[0],
            "model": provider_model[1],
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cached_input_tokens": cached,
            # the gateway reports cost for some calls; the others are priced by roi
            "cost_usd": f"{(input_tokens * 0.16 + output_tokens * 0.62) / 1e6:.8f}" if billed else "",
            "outcome": outcome if call == calls - 1 else "",
            "human_review_minutes": "",
        })
        moment += timedelta(seconds=int(rng.randrange(8, 90)))
    return rows


def generate_events(rng: random.Random, counts: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """Customer-facing events (CSV) and internal assistant events (JSON Lines)."""
    customer: list[dict] = []
    internal: list[dict] = []
    reopen_rows: list[dict] = []
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        growth = 1.0 + 0.04 * offset / 30
        weekday = WEEKDAY_FACTOR[day.weekday()]
        for tenant, (plan, language, daily) in TENANTS.items():
            conversations = int(counts.poisson(daily * weekday * growth))
            for number in range(conversations):
                channel = list(CHANNELS)[_pick(rng, tuple(share for share, _ in CHANNELS.values()))]
                topic = TOPICS[_pick(rng, tuple(TOPIC_WEIGHTS))]
                odds = TOPIC_OUTCOMES[topic]
                outcome = ("resolved", "escalated", "abandoned")[_pick(rng, odds)]
                start = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                    seconds=int(rng.randrange(6 * 3600, 22 * 3600))
                )
                conversation = f"{tenant[:3]}-{day:%m%d}-{number:04d}"
                dims = {"tenant": tenant, "channel": channel, "topic": topic, "language": language,
                        "plan_tier": plan}
                calls = max(1, CHANNELS[channel][1] + int(rng.randrange(-1, 2)))
                rows = _conversation_rows(rng, conversation, start, dims, calls, outcome,
                                          _model_for(rng, tenant, channel), billed=rng.random() < 0.3)
                if rng.random() < 0.05:
                    rows[-1]["human_review_minutes"] = f"{rng.uniform(1, 6):.1f}"
                customer.extend(rows)
                if outcome == "resolved" and rng.random() < 0.06:
                    # the ticketing system reports a reopen days later: an outcome-only row
                    later = start + timedelta(days=int(rng.randrange(1, 6)), hours=3)
                    reopen_rows.append({**dims, "event_id": f"{conversation}-reopen", "conversation_id": conversation,
                                        "ts": later.isoformat().replace("+00:00", "Z"), "outcome": "reopened"})
        for number in range(int(counts.poisson(INTERNAL_DAILY * (0.15 if day.weekday() >= 5 else 1.0)))):
            topic = INTERNAL_TOPICS[number % 3]
            outcome = ("resolved", "escalated", "abandoned")[_pick(rng, (0.78, 0.12, 0.10))]
            start = datetime(day.year, day.month, day.day, 7, tzinfo=UTC) + timedelta(
                seconds=int(rng.randrange(0, 10 * 3600))
            )
            conversation = f"kb-{day:%m%d}-{number:04d}"
            dims = {"tenant": "northwind-internal", "channel": "slack", "topic": topic, "language": "en",
                    "plan_tier": "internal"}
            internal.extend(_conversation_rows(rng, conversation, start, dims, 2, outcome,
                                               ("anthropic", "claude-3-5-haiku-latest"), billed=False))
    last = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC) + timedelta(days=DAYS)
    customer.extend(row for row in reopen_rows if datetime.fromisoformat(row["ts"]) < last)
    return customer, internal


BROKEN_ROWS = [
    # what a real export contains now and then; each is quarantined with its reason
    {"event_id": "broken-1", "ts": "2026-10-14 25:61", "tenant": "acme", "channel": "web", "outcome": "resolved"},
    {"event_id": "broken-2", "ts": "2026-10-14T10:00:00Z", "tenant": "acme", "channel": "web",
     "input_tokens": "-120", "output_tokens": "40"},
    {"event_id": "broken-3", "ts": "2026-10-15T11:00:00Z", "tenant": "globex", "channel": "email",
     "outcome": "solved"},
    {"event_id": "", "ts": "2026-10-16T12:00:00Z", "tenant": "initech", "channel": "web", "outcome": "resolved"},
    {"event_id": "broken-5", "ts": "2026-10-17T09:30:00", "tenant": "umbrella", "channel": "web",
     "input_tokens": "800", "output_tokens": "120"},
]


def _write_csv(path: Path, rows: list[dict]) -> None:
    handle = io.StringIO(newline="")
    writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: row.get(name, "") for name in COLUMNS})
    write_atomically(path, handle.getvalue().encode("utf-8"))


def write_data(folder: Path) -> dict[str, int]:
    customer, internal = generate_events(random.Random(SEED), np.random.default_rng(SEED))
    customer.sort(key=lambda row: row["ts"])
    events = folder / "data" / "events"
    events.mkdir(parents=True, exist_ok=True)
    by_month: dict[str, list[dict]] = {}
    for row in customer:
        by_month.setdefault(row["ts"][:7], []).append(row)
    last_month = max(by_month)
    # a re-sent line (the same event twice) and the broken rows land in the last month's export
    by_month[last_month].insert(100, dict(by_month[last_month][99]))
    by_month[last_month].extend(BROKEN_ROWS)
    for month, rows in by_month.items():
        _write_csv(events / f"support-{month}.csv", rows)
    lines = (json.dumps({key: value for key, value in row.items() if value != ""}) + "\n" for row in internal)
    write_atomically(folder / "data" / "knowledge-assistant.jsonl", "".join(lines).encode("utf-8"))
    return {"customer": len(customer) + 1 + len(BROKEN_ROWS), "internal": len(internal)}


DEMO_CONFIG = """\
# Northwind Commerce: the demo company made by `roi demo`.
[service]
database_url = "sqlite:///roi.db"
currency = "USD"
timezone = "Europe/Berlin"
models_dir = "models"
reports_dir = "reports"

[store]
dimensions = ["tenant", "channel", "topic", "language", "plan_tier", "provider", "model"]

[report]
group_by = ["tenant", "channel"]
schedule = "0 6 2 * *"

[[sources]]
name = "support-bot"
type = "events"
path = "data/events/*.csv"
schedule = "*/15 * * * *"

[[sources]]
name = "knowledge-assistant"
type = "events"
path = "data/knowledge-assistant.jsonl"
schedule = "*/15 * * * *"

[[fixed_costs]]
name = "vector-db"
amount = 1200.0
allocate_by = "requests"
description = "Managed vector database, shared by every assistant."

[[fixed_costs]]
name = "telephony"
amount = 450.0
allocate_by = "cases"
match = { channel = "voice" }
description = "SIP trunk and speech services for the voice agent."

[[fixed_costs]]
name = "gpu-reservation"
amount = 2000.0
allocate_by = "token_cost"
match = { provider = "selfhosted" }
description = "Reserved GPUs serving the self-hosted model."

[[fixed_costs]]
name = "sms-pilot"
amount = 150.0
allocate_by = "requests"
match = { channel = "sms" }
description = "SMS channel pilot: no traffic yet, so it stays unallocated."

[[assignments]]
match = { channel = "voice" }
model = "voice_support"

[[assignments]]
match = { tenant = "northwind-internal" }
model = "knowledge_assistant"

[[assignments]]
match = {}
model = "support_deflection"

[pricing.overrides]
# the self-hosted model: GPU cost is a fixed cost above; this is the marginal serving cost
"selfhosted/support-llama-8b" = { input_per_mtok = 0.05, output_per_mtok = 0.10, cached_input_per_mtok = 0.02 }

[api]
tokens = [
  { name = "finance", token = "${ROI_FINANCE_TOKEN:-demo-finance-token-change-me}", role = "reader" },
  { name = "ops", token = "${ROI_ADMIN_TOKEN:-demo-admin-token-change-me}", role = "admin" },
]
"""


def _models_source() -> Path:
    candidates = [Path.cwd() / "models", Path(__file__).resolve().parents[2] / "models"]
    for candidate in candidates:
        if (candidate / "support_deflection.toml").is_file():
            return candidate
    raise RoiError("roi demo: cannot find the models/ folder of the roi repository; run it from the repository")
