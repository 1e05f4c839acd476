"""The Risk page over HTTP: its bands, tornado, break-even values and bridge are the API's answers to
the same question (GET /api/v1/roi?uncertainty=true, /roi/sensitivity, /roi/changes), figure for
figure; its chart data; paging; and the state of a project whose assumptions are all point values."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from html.parser import HTMLParser

import time_machine

from roi.dashboard import create_dashboard
from roi.domain import display_dimension
from roi.serving import create_site

from .conftest import NOW, READER, ingest_project, write_dashboard_project
from .test_pages import money

BANDS = ("net_value", "net_value_p5", "net_value_p50", "net_value_p95", "roi_p5", "roi_p50", "roi_p95",
         "probability_net_value_positive")


class Rows(HTMLParser):
    """Per table id: its rows as (the row header's text, {metric: (unrounded value, text shown)})."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[tuple[str, dict[str, tuple[str, str]]]]] = {}
        self._table: str | None = None
        self._header: list[str] | None = None
        self._row: dict | None = None
        self._data: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id"):
            self._table = attributes["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row, self._header = {}, []
        elif tag == "th" and self._row is not None and attributes.get("scope") == "row":
            self._header = [""]
        elif tag == "data" and self._row is not None:
            self._data = (attributes.get("data-metric", ""), attributes.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "th" and self._header:
            self._header = [self._header[0], "done"]
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(((self._header or [""])[0].strip(), self._row))
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._data is not None:
            self._row.setdefault(self._data[0], self._data[1:] + (data,))
            self._data = None
        elif self._header and len(self._header) == 1:
            self._header[0] += data


def tables(body: bytes) -> dict[str, list[tuple[str, dict[str, tuple[str, str]]]]]:
    parser = Rows()
    parser.feed(body.decode())
    return parser.tables


def label(cohort: dict[str, str], group: list[str]) -> str:
    return " / ".join(display_dimension(cohort.get(name) or "") for name in group) or "(all)"


def page(server, query: str) -> bytes:
    status, _, body = server.get(f"/risk?{query}", token=READER)
    assert status == 200, body[:500]
    return body


def chart(body: bytes) -> dict:
    block = re.search(rb'<script type="application/json" id="chart-data">(.*?)</script>', body, re.S).group(1)
    return json.loads(block)


def test_the_bands_and_break_even_are_the_apis(dashboard_server):
    server = dashboard_server
    body = page(server, "period=2026-03&per_page=500")
    api = server.api("/api/v1/roi?period=2026-03&uncertainty=true")
    sensitivity = server.api("/api/v1/roi/sensitivity?period=2026-03")
    group = api["group_by"]
    assert api["uncertainty"]["parameters"] == ["support.value_per_resolution", "support.escalation_cost"]
    found = tables(body)
    rows = dict(found["risk-table"][1:-1])
    assert len(rows) == len(api["cohorts"]) == 48
    even = {label(item["cohort"], group): item["break_even_value_per_resolution"] for item in sensitivity["cohorts"]}
    for record in api["cohorts"]:
        shown = rows[label(record["cohort"], group)]
        for name in BANDS:
            value, _ = shown[name]
            assert (value == "" and record[name] is None) or float(value) == record[name], (record["cohort"], name)
        value, text = shown["break_even_value_per_resolution"]
        wanted = even[label(record["cohort"], group)]
        assert (value == "" and wanted is None and text == "—") or (
            float(value) == wanted and text == money(wanted)), record["cohort"]
    assert any(value is None for value in even.values()) and any(value is not None for value in even.values())
    # the largest net value first, as the API sorts it
    ordered = server.api("/api/v1/roi?period=2026-03&uncertainty=true&sort=-net_value")["cohorts"]
    assert [name for name, _ in found["risk-table"][1:-1]] == [label(item["cohort"], group) for item in ordered]
    totals = found["risk-table"][-1][1]
    for name in BANDS:
        assert float(totals[name][0]) == api["totals"][name], name
    # a person reads money, percentages, and a probability as a percentage
    assert totals["net_value_p5"][1] == money(api["totals"]["net_value_p5"])
    assert totals["probability_net_value_positive"][1] == f"{api['totals']['probability_net_value_positive'] * 100:.1f}%"
    assert api["totals"]["net_value_p5"] < api["totals"]["net_value_p50"] < api["totals"]["net_value_p95"]


def test_the_tornado_is_the_apis_largest_swing_first(dashboard_server):
    server = dashboard_server
    body = page(server, "period=2026-03")
    sensitivity = server.api("/api/v1/roi/sensitivity?period=2026-03")
    rows = tables(body)["tornado-table"][1:]
    assert [name for name, _ in rows] == [item["parameter"] for item in sensitivity["parameters"]]
    for (_, shown), item in zip(rows, sensitivity["parameters"], strict=True):
        for name in ("net_value_low", "net_value_high", "swing"):
            assert float(shown[name][0]) == item[name]
    swings = [item["swing"] for item in sensitivity["parameters"]]
    assert swings == sorted(swings, reverse=True) and swings[0] > 0
    drawn = chart(body)["tornado"]
    assert drawn["point"] == sensitivity["totals"]["net_value"]
    assert [(row["label"], row["low"], row["high"]) for row in drawn["rows"]] == [
        (item["parameter"], item["net_value_low"], item["net_value_high"]) for item in sensitivity["parameters"]]


def test_the_bridge_is_the_apis_changes(dashboard_server):
    server = dashboard_server
    body = page(server, "period=2026-03&per_page=100")
    changes = server.api("/api/v1/roi/changes?period=2026-03")
    group = changes["group_by"]
    found = tables(body)
    steps = {name: shown for name, shown in found["bridge-totals"][1:]}
    assert float(steps["Net value 2026-02"]["net_value_previous"][0]) == changes["totals"]["net_value_previous"]
    assert float(steps["Net value 2026-03"]["net_value"][0]) == changes["totals"]["net_value"]
    effects = [shown for name, shown in found["bridge-totals"][2:-1]]
    assert [float(next(iter(shown.values()))[0]) for shown in effects] == [
        changes["totals"][name] for name in changes["effects"]]
    rows = dict(found["changes-table"][1:])
    assert len(rows) == len(changes["cohorts"]) == 61
    for record in changes["cohorts"]:
        shown = rows[label(record["cohort"], group)]
        for name in ("net_value_previous", *changes["effects"], "net_value", "change"):
            assert float(shown[name][0]) == record[name], (record["cohort"], name)
    # an effect reads signed
    volume = changes["totals"]["volume"]
    assert steps["Volume (cases)"]["volume"][1] == ("+" if volume > 0 else "") + money(volume)
    # the chart: from last month's net value through each effect to this month's
    bridge = chart(body)["bridge"]
    assert bridge[0]["end"] == changes["totals"]["net_value_previous"] and bridge[-1]["end"] == changes["totals"]["net_value"]
    for before, step in zip(bridge[:-2], bridge[1:-1], strict=True):
        assert step["start"] == before["end"]
    assert abs(bridge[-2]["end"] - changes["totals"]["net_value"]) < 1e-6


def test_a_grouped_filtered_page_answers_that_question(dashboard_server):
    server = dashboard_server
    query = "period=2026-02&group_by=tenant&channel=web"
    body = page(server, query + "&per_page=25&page=2")
    api = server.api(f"/api/v1/roi?{query}&uncertainty=true&sort=-net_value")
    sensitivity = server.api(f"/api/v1/roi/sensitivity?{query}")
    rows = tables(body)["risk-table"][1:-1]
    assert [name for name, _ in rows] == [label(item["cohort"], ["tenant"]) for item in api["cohorts"][25:50]]
    # a page draws only its own cohorts, and shows the whole question's figures to the bit
    for (_, shown), record in zip(rows, api["cohorts"][25:50], strict=True):
        for name in BANDS:
            value, _ = shown[name]
            assert (value == "" and record[name] is None) or float(value) == record[name], (record["cohort"], name)
    totals = tables(body)["risk-table"][-1][1]
    for name in BANDS:
        assert float(totals[name][0]) == api["totals"][name], name
    # February has both model versions: the tornado lists each version's range
    versions = [item["effective_from"] for item in sensitivity["parameters"][0]["versions"]]
    assert versions == ["2025-01-01", "2026-02-15"]
    assert b"from 2025-01-01:" in body and b"from 2026-02-15:" in body
    # the pager keeps the question
    link = re.search(rb'rel="prev" href="\?([^"]+)"', body).group(1).decode().replace("&amp;", "&")
    assert urllib.parse.parse_qs(link) == {"period": ["2026-02"], "group_by": ["tenant"], "channel": ["web"],
                                           "per_page": ["25"]}


def test_the_page_has_no_inline_script_and_a_table_for_each_chart(dashboard_server):
    body = page(dashboard_server, "period=2026-03")
    for tag in re.findall(rb"<script[^>]*>", body):
        assert b" src=" in tag or b'type="application/json"' in tag, tag
    for canvas, table in (("risk-bands", "risk-table"), ("risk-tornado", "tornado-table"),
                          ("risk-bridge", "bridge-totals")):
        assert f'id="{canvas}" role="img" aria-label='.encode() in body and f'id="{table}"'.encode() in body
    assert b'aria-current="page">Risk<' in body


def test_only_point_values_say_so_and_how_to_add_a_range(project):
    write_dashboard_project(project)
    text = (project.root / "models" / "support.toml").read_text()
    text = re.sub(r"\{ low = [\d.]+, mode = ([\d.]+), high = [\d.]+ \}", r"\1", text)
    text = re.sub(r"\{ mean = ([\d.]+), sd = [\d.]+ \}", r"\1", text)
    project.write_model("support", text)
    with time_machine.travel(NOW, tick=False):
        ingest_project(project)
        site = create_site(project.settings(), version_ttl=0)
        try:
            client = site.dashboard.test_client()
            headers = {"Authorization": f"Bearer {READER}"}
            body = client.get("/risk?period=2026-03", headers=headers).data
            sensitivity = site.api.test_client().get("/api/v1/roi/sensitivity?period=2026-03", headers=headers).json
            api = site.api.test_client().get("/api/v1/roi?period=2026-03&uncertainty=true", headers=headers).json
        finally:
            site.api.extensions["roi"].store.engine.dispose()
    assert api["uncertainty"]["parameters"] == [] and sensitivity["parameters"] == []
    assert b'id="point-values"' in body and b"All assumptions are point values" in body
    assert b"value_per_resolution = { low = 5.00, mode = 6.50, high = 8.00 }" in body
    assert b'id="no-tornado"' in body and b'id="risk-bands"' not in body and b'data-metric="net_value_p5"' not in body
    # break-even needs no range: still the API's
    rows = dict(tables(body)["risk-table"][1:-1])
    group = sensitivity["group_by"]
    for item in sensitivity["cohorts"]:
        value = item["break_even_value_per_resolution"]
        shown = rows[label(item["cohort"], group)]["break_even_value_per_resolution"][0]
        assert (shown == "" and value is None) or float(shown) == value


def test_overview_and_one_cohort_link_to_their_risk(dashboard_server):
    status, _, body = dashboard_server.get("/?period=2026-02", token=READER)
    assert status == 200 and b'href="/risk?period=2026-02"' in body
    status, _, body = dashboard_server.get("/cohort?period=2026-03&group_by=tenant,channel&tenant=tenant-01&channel=web",
                                           token=READER)
    link = re.search(rb'id="risk-link" href="/risk\?([^"]+)"', body).group(1).decode().replace("&amp;", "&")
    assert urllib.parse.parse_qs(link) == {"period": ["2026-03"], "group_by": ["tenant,channel"],
                                           "tenant": ["tenant-01"], "channel": ["web"]}
    rows = tables(page(dashboard_server, link))["risk-table"][1:-1]
    assert [name for name, _ in rows] == ["tenant-01 / web"]


def test_a_served_site_has_the_newest_months_risk_page_ready(project):
    """roi serve's workers (create_site with warm) compute the newest month's Risk page in the background:
    the first person to open it gets it from the page cache (only its HTML is made then), the API's figures."""
    write_dashboard_project(project)
    with time_machine.travel(NOW, tick=False):
        ingest_project(project)
        site = create_site(project.settings(), version_ttl=0, warm=True)
        try:
            for thread in threading.enumerate():
                if thread.name in ("roi-warm-risk", "roi-warm"):
                    thread.join()
            pages = site.dashboard.extensions["roi_dashboard"].pages
            made = pages.misses
            headers = {"Authorization": f"Bearer {READER}"}
            body = site.dashboard.test_client().get("/risk?per_page=500", headers=headers).data
            assert pages.misses == made + 2  # its page of 500 rows and that page's HTML; not the answers
            made = pages.misses
            body = site.dashboard.test_client().get("/risk", headers=headers).data
            assert pages.misses == made + 1  # the newest month's first page: only its HTML
            api = site.api.test_client().get("/api/v1/roi?period=2026-03&uncertainty=true&sort=-net_value",
                                             headers=headers).json
        finally:
            site.api.extensions["roi"].store.engine.dispose()
    rows = tables(body)["risk-table"][1:-1]
    assert [name for name, _ in rows] == [label(item["cohort"], api["group_by"]) for item in api["cohorts"][:50]]
    for (_, shown), record in zip(rows, api["cohorts"], strict=False):
        for name in BANDS:
            value, _ = shown[name]
            assert (value == "" and record[name] is None) or float(value) == record[name], (record["cohort"], name)


EXTRA = ("event_id,ts,tenant,channel,topic,provider,model,input_tokens,output_tokens,cached_input_tokens,"
         "cost_usd,outcome,human_review_minutes\n"
         + "".join(f"x{n},2026-03-20T09:00:00Z,tenant-01,web,returns,openai,gpt-4o-mini,100,20,0,0.01,resolved,\n"
                   for n in range(50)))


def _total(body: bytes) -> str:
    return tables(body)["risk-table"][-1][1]["net_value"][0]


def test_a_batch_landing_during_a_request_never_leaves_its_old_figures_under_the_new_version(project):
    """A request reads the data version once: a page made from the data before a batch is never
    cached under the version after it (review finding: the Risk page's HTML was, and every later
    request of that version showed the old figures)."""
    write_dashboard_project(project)
    headers = {"Authorization": f"Bearer {READER}"}
    with time_machine.travel(NOW, tick=False):
        ingest_project(project)
        site = create_site(project.settings(), version_ttl=0)
        runtime = site.api.extensions["roi"]
        try:
            reads = []

            def counting():
                reads.append(1)
                return runtime.version.current()

            app = create_dashboard(project.settings(), runtime.store, runtime.months, counting)
            before = app.test_client().get("/risk?period=2026-03", headers=headers).data
            per_request = len(reads)

            seen = []

            def racing():  # the batch lands just before the request's last read of the version
                seen.append(1)
                if len(seen) == per_request:
                    project.write_data("extra.csv", EXTRA)
                    ingest_project(project)
                return runtime.version.current()

            app = create_dashboard(project.settings(), runtime.store, runtime.months, racing)
            app.test_client().get("/risk?period=2026-03", headers=headers)
            later = app.test_client().get("/risk?period=2026-03", headers=headers).data
            fresh = create_dashboard(project.settings(), runtime.store, runtime.months,
                                     runtime.version.current).test_client().get(
                "/risk?period=2026-03", headers=headers).data
        finally:
            runtime.store.engine.dispose()
    assert _total(fresh) != _total(before)  # the batch changes the month's net value
    assert _total(later) == _total(fresh)
