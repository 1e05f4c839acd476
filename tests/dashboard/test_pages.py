"""The dashboard over HTTP, without a browser: who gets data, the session cookie, CSRF, the downloads,
every figure against the API's, and each page's transfer size."""

from __future__ import annotations

import csv
import io
import re
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser

import openpyxl
import pytest
import time_machine

from roi.estimates import parse_estimate, point

from .conftest import ADMIN, READER, csrf_of

DATA_PAGES = ["/", "/cohorts", "/cohorts?group_by=tenant", "/cohort?group_by=tenant,channel&tenant=tenant-01&channel=web",
              "/risk", "/risk?group_by=tenant&channel=web", "/assumptions", "/operations", "/cohorts.csv", "/cohorts.xlsx"]


class Figures(HTMLParser):
    """The <data value> elements of a page: (metric, unrounded value, text shown), in order."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self._open: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "data":
            attributes = dict(attrs)
            self._open = (attributes.get("data-metric", ""), attributes.get("value", ""))

    def handle_data(self, data):
        if self._open is not None:
            self.found.append((*self._open, data))
            self._open = None


def figures(body: bytes) -> list[tuple[str, str, str]]:
    parser = Figures()
    parser.feed(body.decode())
    return parser.found


def money(value: float) -> str:
    """Independently of roi.dashboard.formatting: half up on the printed decimal, $ and separators."""
    cents = Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{'-' if cents < 0 else ''}${abs(cents):,.2f}"


def test_no_session_or_token_gets_no_data(dashboard_server):
    for path in DATA_PAGES:
        status, headers, body = dashboard_server.get(path)
        assert status == 302 and headers["Location"].startswith("/sign-in?next="), (path, status)
        assert b"<data" not in body and b"net" not in body and b"$" not in body
        status, _, body = dashboard_server.get(path, token="not-a-configured-token-at-all")
        assert status == 401 and b"<data" not in body and b"$" not in body, path
    # a token is never taken from a URL
    status, headers, _ = dashboard_server.get(f"/?token={READER}")
    assert status == 302 and "sign-in" in headers["Location"]
    # the static files hold no data and need no session; the sign-in page none either
    assert dashboard_server.get("/static/dashboard/chart.min.js")[0] == 200
    assert dashboard_server.get("/sign-in")[0] == 200
    # the API is untouched: its own 401 without a token
    assert dashboard_server.get("/api/v1/roi?period=2026-03")[0] == 401


def test_sign_in_cookie_is_signed_httponly_samesite_and_expiring(dashboard_server):
    status, headers, body = dashboard_server.get("/sign-in")
    first = headers.get_all("Set-Cookie")[0].split(";", 1)[0]
    status, headers, _ = dashboard_server.request(
        "POST", "/sign-in", headers={"Cookie": first}, data={"csrf_token": csrf_of(body), "token": READER, "next": "/"})
    assert status == 303
    cookie = headers.get_all("Set-Cookie")[-1]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=28800" in cookie
    assert READER not in cookie
    value = cookie.split(";", 1)[0]
    assert dashboard_server.get("/", cookie=value)[0] == 200
    # a tampered cookie is no session
    name, _, signed = value.partition("=")
    assert dashboard_server.get("/", cookie=f"{name}={signed[:-2]}xx")[0] == 302
    # nine hours later the session has ended
    with time_machine.travel("2026-04-10T21:30:00Z", tick=False):
        assert dashboard_server.get("/", cookie=value)[0] == 302


def test_a_wrong_token_and_a_missing_csrf_token_are_refused(dashboard_server):
    status, headers, body = dashboard_server.get("/sign-in")
    cookie = headers.get_all("Set-Cookie")[0].split(";", 1)[0]
    status, _, page = dashboard_server.request("POST", "/sign-in", headers={"Cookie": cookie},
                                               data={"csrf_token": csrf_of(body), "token": "wrong-token-0123456789"})
    assert status == 401 and b"not one of the configured" in page
    status, _, page = dashboard_server.request("POST", "/sign-in", headers={"Cookie": cookie}, data={"token": READER})
    assert status == 400 and b"CSRF" in page


def test_a_reader_cannot_reach_admin_actions(dashboard_server):
    cookie = dashboard_server.sign_in(READER)
    status, _, body = dashboard_server.get("/operations", cookie=cookie)
    assert status == 200 and b"Run now" not in body and b"Close\xe2\x80\xa6" not in body
    for path in ("/operations/run?job=source:bot", "/operations/close?period=2026-03"):
        assert dashboard_server.get(path, cookie=cookie)[0] == 403
    token = csrf_of(body)
    for path, data in (("/operations/run", {"job": "source:bot"}), ("/operations/close", {"period": "2026-03"})):
        status, _, _ = dashboard_server.request("POST", path, headers={"Cookie": cookie},
                                                data={"csrf_token": token, **data})
        assert status == 403
    assert dashboard_server.api("/api/v1/periods")["periods"][-1]["state"] == "open"
    # an admin's POST without the CSRF token is refused too
    admin = dashboard_server.sign_in(ADMIN)
    status, _, _ = dashboard_server.request("POST", "/operations/close", headers={"Cookie": admin},
                                            data={"period": "2026-03"})
    assert status == 400


def test_overview_figures_equal_the_api(dashboard_server):
    status, _, body = dashboard_server.get("/?period=2026-03", token=READER)
    assert status == 200
    shown = figures(body)
    totals = dashboard_server.api("/api/v1/roi?period=2026-03")["totals"]
    before = dashboard_server.api("/api/v1/roi?period=2026-02")["totals"]
    for metric in ("total_cost", "failure_cost", "value", "net_value", "cost_per_resolved_case",
                   "unallocated_fixed_cost"):
        values = [(value, text) for name, value, text in shown if name == metric]
        assert values[0] == (repr(totals[metric]), money(totals[metric])), metric
        assert values[1] == (repr(before[metric]), money(before[metric])), metric
    assert totals["unallocated_fixed_cost"] == 50.0
    trend = dashboard_server.api("/api/v1/roi/trend?to=2026-03&metrics=net_value,cost_per_resolved_case")
    table = body.split(b'id="trend-table"')[1].split(b"</table>")[0]
    trend_shown = [value for name, value, _ in figures(table) if name == "net_value"]
    assert trend_shown == [repr(point["net_value"]) for point in trend["totals"]]
    ranked = dashboard_server.api("/api/v1/roi?period=2026-03&sort=-net_value")["cohorts"]
    bars = body.split(b'id="cohort-net"')[1].split(b"</table>")[0]
    net = [float(value) for _, value, _ in figures(bars)]
    assert net == [c["net_value"] for c in ranked[:15]] + [c["net_value"] for c in ranked[-10:]]
    assert min(net) < 0  # negatives are shown


def test_cohort_table_and_its_downloads_equal_the_api(dashboard_server):
    query = "period=2026-02&group_by=tenant,topic&channel=web&sort=-roi&page=2&per_page=25"
    status, _, body = dashboard_server.get(f"/cohorts?{query}", token=READER)
    assert status == 200
    api = dashboard_server.api("/api/v1/roi?period=2026-02&group_by=tenant,topic&channel=web&sort=-roi&limit=50")
    expected = api["cohorts"][25:]
    table = body.split(b'id="cohort-table"')[1].split(b"</table>")[0]
    rows = re.findall(rb"<tr>(.*?)</tr>", table.split(b"<tbody>")[1], re.S)
    assert len(rows) == len(expected) > 0
    for row, cohort in zip(rows, expected, strict=True):
        assert re.search(rb'data-dimension="tenant">(?:<a [^>]*>)?([^<]*)', row).group(1).decode() == (
            cohort["cohort"]["tenant"] or "(unattributed)").replace("&", "&amp;")
        assert dict((name, value) for name, value, _ in figures(row))["net_value"] == repr(cohort["net_value"])
    footer = figures(body.split(b"<tfoot>")[1])
    assert dict((name, value) for name, value, _ in footer)["net_value"] == repr(api["totals"]["net_value"])

    status, headers, data = dashboard_server.get(f"/cohorts.csv?{query}", token=READER)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(data.decode())))
    assert [line["tenant"] for line in lines[:-1]] == [c["cohort"]["tenant"] or "(unattributed)" for c in expected]
    assert [line["net_value"] for line in lines[:-1]] == [f"{Decimal(repr(c['net_value'])).quantize(Decimal('0.01'), ROUND_HALF_UP)}" for c in expected]
    assert lines[-1]["tenant"].startswith("(total of")
    status, headers, data = dashboard_server.get(f"/cohorts.xlsx?{query}", token=READER)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    values = [row for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert [row[0] for row in values[:-1]] == [c["cohort"]["tenant"] or "(unattributed)" for c in expected]
    header = [cell.value for cell in sheet[3]]
    # a workbook keeps 15 significant digits, as Excel does
    assert [row[header.index("net_value")] for row in values[:-1]] == [
        pytest.approx(c["net_value"], rel=1e-14) for c in expected]


def test_a_formula_like_cohort_name_stays_text_in_the_csv(dashboard_server):
    status, _, data = dashboard_server.get("/cohorts.csv?period=2026-02&group_by=tenant&tenant==1%2B2", token=READER)
    assert status == 200
    assert data.decode().splitlines()[1].startswith("'=1+2,")


def test_bad_choices_are_named(dashboard_server):
    status, _, body = dashboard_server.get("/cohorts?group_by=color", token=READER)
    assert status == 400 and b"color" in body
    status, _, body = dashboard_server.get("/cohorts?per_page=7", token=READER)
    assert status == 400 and b"per_page" in body


@pytest.mark.parametrize("path", ["/", "/cohorts?per_page=500&group_by=tenant,channel", "/cohort?group_by=tenant&tenant=tenant-03",
                                  "/assumptions", "/operations"])
def test_a_page_with_its_assets_is_under_1_mb(dashboard_server, path):
    status, _, body = dashboard_server.get(path, token=ADMIN)
    assert status == 200
    total = len(body)
    for asset in set(re.findall(rb'(?:src|href)="(/static/dashboard/[^"]+)"', body)):
        total += len(dashboard_server.get(asset.decode())[2])
    assert total < 1_000_000, total


def test_assumptions_show_each_version_with_its_comment(dashboard_server):
    status, _, body = dashboard_server.get("/assumptions", token=READER)
    models = dashboard_server.api("/api/v1/models")["models"]
    shown = [float(value) for name, value, _ in figures(body) if name == "value"]
    # a range's point value: its mode or mean
    expected = [point(parse_estimate(version[key])) for model in models for version in model["versions"]
                for key in ("value_per_resolution", "escalation_cost", "reopen_cost", "abandonment_cost",
                            "review_cost_per_hour")]
    assert shown == expected
    assert b"10 minutes of an agent at $39/h." in body and b"a reopened ticket costs a full agent handling" in body
    assert b"Wages rose on 15 February." in body
    assert b"triangular 4.5 / 6.5 / 8" in body and b"normal mean 2.2, sd 0.6, truncated at 0" in body


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_sign_in_returns_only_to_a_page_of_this_site(dashboard_server, target):
    status, headers, body = dashboard_server.get("/sign-in")
    cookie = headers.get_all("Set-Cookie")[0].split(";", 1)[0]
    status, headers, _ = dashboard_server.request(
        "POST", "/sign-in", headers={"Cookie": cookie}, data={"csrf_token": csrf_of(body), "token": READER,
                                                            "next": target})
    assert status == 303 and headers["Location"] == "/"


def test_a_cohort_whose_name_holds_a_comma_opens_from_its_link(dashboard_server):
    status, _, body = dashboard_server.get("/cohorts?period=2026-03&group_by=tenant&per_page=100", token=READER)
    link = re.search(rb'<a href="(/cohort\?[^"]+)">Acme, Inc\.</a>', body).group(1).decode().replace("&amp;", "&")
    assert "Acme%5C%2C+Inc." in link  # the comma escaped as a filter needs it
    status, _, page = dashboard_server.get(link, token=READER)
    assert status == 200 and b"Acme, Inc." in page
    expected = dashboard_server.api("/api/v1/roi?period=2026-03&group_by=tenant&tenant=Acme%5C%2C%20Inc.")["cohorts"]
    assert len(expected) == 1 and expected[0]["cohort"]["tenant"] == "Acme, Inc."
    shown = dict((name, value) for name, value, _ in figures(page.split(b'id="cohort-figures"')[1].split(b"</dl>")[0]))
    assert shown["net_value"] == repr(expected[0]["net_value"]) and shown["requests"] == "3"
