"""The dashboard in a real browser: Debian's chromium and chromium-driver, driven by selenium, offline.

Sign in, open every page, change grouping and filters, compare what is shown with the API's
answers (fetched over HTTP from the same server), download the CSV, bookmark a view, run the
admin actions with their confirmation, sign out. Screenshots of every page, at 1280 px and at
phone width, go to tests/artifacts/dashboard/.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import urllib.parse
from pathlib import Path

import pytest

from .conftest import ADMIN, ARTIFACTS, READER

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip("the browser tests need Debian's chromium and chromium-driver (.ci/run installs them)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402 - only once the browser is known to be there
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PHONE = (390, 844)
DESKTOP = (1280, 900)


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="roi-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def shoot(driver, name: str) -> None:
    """Screenshots of the page at desktop and phone width; at phone width nothing may stick out sideways."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}-1280.png"))
    driver.set_window_size(*PHONE)
    try:
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name}: the page is {overflow}px wider than a phone's screen"
        driver.save_screenshot(str(ARTIFACTS / f"{name}-phone.png"))
    finally:
        driver.set_window_size(*DESKTOP)


def go(driver, element) -> None:
    """Click a link or a submit button and wait until the next page has replaced this one.

    This page is marked with a script variable, and the wait ends when a complete page lacks it.
    Not selenium's `staleness_of`: chromedriver can answer a question about an element of the
    page being left with "Node with given id does not belong to the document", an error that
    condition does not take as stale (CI failed on it once, in a sign-out).
    """
    driver.execute_script("window.roiPageLeft = true")
    element.click()

    def replaced(d) -> bool:
        try:
            return d.execute_script("return document.readyState === 'complete' && !window.roiPageLeft")
        except WebDriverException:  # asked while the page changed: not there yet
            return False

    WebDriverWait(driver, 30).until(replaced, "the next page did not replace this one in 30 s")


def shown(driver, css: str) -> list[tuple[str, str, str]]:
    """(metric, unrounded value, text) of each <data> figure inside the elements matching `css`."""
    return [(item.get_attribute("data-metric"), item.get_attribute("value"), item.text)
            for item in driver.find_elements(By.CSS_SELECTOR, f"{css} data")]


def sign_in(driver, server, token: str, path: str = "/") -> None:
    driver.get(server.base + path)
    assert "/sign-in" in driver.current_url
    field = driver.find_element(By.ID, "token")
    assert driver.find_element(By.CSS_SELECTOR, "label[for=token]").text == "API token"
    field.send_keys(token)
    go(driver, driver.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]"))
    assert "/sign-in" not in driver.current_url


def sign_out(driver) -> None:
    go(driver, driver.find_element(By.CSS_SELECTOR, ".who button"))
    assert "/sign-in" in driver.current_url


def test_a_reader_signs_in_reads_every_page_and_signs_out(browser, dashboard_server):
    server = dashboard_server
    sign_in(browser, server, READER)
    assert browser.get_cookie("roi_session")["httpOnly"] is True
    assert READER not in browser.current_url

    # Overview: the latest month with data, its key figures and the previous month's, as the API has them
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Overview 2026-03")
    totals = server.api("/api/v1/roi?period=2026-03")["totals"]
    before = server.api("/api/v1/roi?period=2026-02")["totals"]
    for row in browser.find_elements(By.CSS_SELECTOR, "table.kpis tbody tr"):
        metric = row.get_attribute("data-kpi")
        now, then = shown(browser, f"tr[data-kpi={metric}]")[:2]
        assert float(now[1]) == totals[metric] and float(then[1]) == before[metric], metric
    assert browser.execute_script("return Chart.instances && Object.keys(Chart.instances).length") == 3
    # the keyboard's first stop is the link past the navigation
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("href").endswith("#main")
    shoot(browser, "overview")

    # Cohorts: change the grouping and a filter in the form; the URL carries them
    go(browser, browser.find_element(By.LINK_TEXT, "Cohorts"))
    for box in browser.find_elements(By.CSS_SELECTOR, "input[name=group_by]"):
        if box.is_selected() != (box.get_attribute("value") == "tenant"):
            box.click()
    browser.find_element(By.ID, "f-channel").send_keys("email")
    go(browser, browser.find_element(By.ID, "apply"))
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(browser.current_url).query)
    assert query["group_by"] == ["tenant"] and query["channel"] == ["email"]
    assert "=&" not in browser.current_url and not browser.current_url.endswith("=")  # the short address
    # every field of the form has a label
    for field in browser.find_elements(By.CSS_SELECTOR, "form.filters input:not([type=hidden]), form.filters select"):
        labelled = browser.execute_script("return arguments[0].labels.length", field)
        assert labelled >= 1, field.get_attribute("name")
    api = server.api("/api/v1/roi?period=2026-03&group_by=tenant&channel=email&sort=-net_value&limit=50")
    rows = browser.find_elements(By.CSS_SELECTOR, "#cohort-table tbody tr")
    assert [row.find_element(By.CSS_SELECTOR, "td[data-dimension=tenant]").text for row in rows] == [
        c["cohort"]["tenant"] or "(unattributed)" for c in api["cohorts"]]
    net = [float(value) for metric, value, _ in shown(browser, "#cohort-table tbody") if metric == "net_value"]
    assert net == [c["net_value"] for c in api["cohorts"]]
    footer = {metric: value for metric, value, _ in shown(browser, "#cohort-table tfoot")}
    assert float(footer["total_cost"]) == api["totals"]["total_cost"]

    # sort by ROI, smallest first, by its column header (twice: largest first, then smallest)
    go(browser, browser.find_element(By.XPATH, "//th/a[starts-with(normalize-space(.), 'ROI')]"))
    go(browser, browser.find_element(By.XPATH, "//th/a[starts-with(normalize-space(.), 'ROI')]"))
    assert "sort=roi" in browser.current_url
    api = server.api("/api/v1/roi?period=2026-03&group_by=tenant&channel=email&sort=roi&limit=50")
    roi = [value for metric, value, _ in shown(browser, "#cohort-table tbody") if metric == "roi"]
    assert roi == [repr(c["roi"]) if c["roi"] is not None else "" for c in api["cohorts"]]
    shoot(browser, "cohorts")

    # the CSV of what is shown: same cohorts, same order
    link = browser.find_element(By.ID, "download-csv").get_attribute("href")
    cookie = f"roi_session={browser.get_cookie('roi_session')['value']}"
    status, headers, body = server.get(urllib.parse.urlsplit(link).path + "?" + urllib.parse.urlsplit(link).query,
                                       cookie=cookie)
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(body.decode())))
    # a name a spreadsheet would run as a formula is written with an apostrophe first
    assert [line["tenant"] for line in lines[:-1]] == [
        ("'" if (c["cohort"]["tenant"] or "x")[0] in "=+-@" else "") + (c["cohort"]["tenant"] or "(unattributed)")
        for c in api["cohorts"]]

    # a bookmark reproduces the view, even after signing out and in again
    bookmark = browser.current_url
    table = browser.find_element(By.ID, "cohort-table").text
    sign_out(browser)
    browser.get(bookmark)
    assert "/sign-in" in browser.current_url
    browser.find_element(By.ID, "token").send_keys(READER)
    go(browser, browser.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]"))
    assert browser.current_url == bookmark
    assert browser.find_element(By.ID, "cohort-table").text == table

    # One cohort, from the table's link
    go(browser, browser.find_element(By.CSS_SELECTOR, "#cohort-table tbody tr td[data-dimension=tenant] a"))
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(browser.current_url).query)
    tenant = query["tenant"][0]
    wanted = "" if tenant == "(unattributed)" else tenant
    record = server.api("/api/v1/roi?" + urllib.parse.urlencode(
        {"period": "2026-03", "group_by": "tenant", "tenant": tenant}))["cohorts"][0]
    assert record["cohort"]["tenant"] == wanted
    for metric, value, text in shown(browser, "#cohort-figures"):
        assert (value == "" and record[metric] is None) or float(value) == record[metric], metric
        assert text
    series = server.api("/api/v1/roi/trend?" + urllib.parse.urlencode(
        {"to": "2026-03", "group_by": "tenant", "tenant": tenant,
         "metrics": "cost_per_resolved_case,resolution_rate,escalation_rate,net_value"}))["series"][0]["points"]
    assert [row.get_attribute("data-period") for row in browser.find_elements(By.CSS_SELECTOR, "#cohort-trend tbody tr")] == [
        point["period"] for point in series]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#cohort-versions tbody tr")) >= 1
    shoot(browser, "cohort")

    # its risk, from the cohort's link: the API's bands of the same question (one cohort)
    go(browser, browser.find_element(By.CSS_SELECTOR, "#risk-link"))
    query = urllib.parse.urlsplit(browser.current_url).query
    record = server.api(f"/api/v1/roi?{query}&uncertainty=true")["cohorts"][0]
    cells = {metric: value for metric, value, _ in shown(browser, "#risk-table tbody tr")}
    assert float(cells["net_value_p5"]) == record["net_value_p5"] and float(cells["net_value_p95"]) == record["net_value_p95"]

    # Risk of the month in the config's grouping: bands, tornado and bridge drawn, each with its table
    go(browser, browser.find_element(By.LINK_TEXT, "Risk"))
    api = server.api("/api/v1/roi?period=2026-03&uncertainty=true")["totals"]
    totals = {metric: value for metric, value, _ in shown(browser, "#risk-totals")}
    for name in ("net_value_p5", "net_value_p50", "net_value_p95", "probability_net_value_positive"):
        assert float(totals[name]) == api[name], name
    assert browser.execute_script("return Object.keys(Chart.instances).length") == 3
    sensitivity = server.api("/api/v1/roi/sensitivity?period=2026-03")["parameters"]
    assert [row.get_attribute("data-parameter") for row in browser.find_elements(By.CSS_SELECTOR, "#tornado-table tbody tr")] == [
        item["parameter"] for item in sensitivity]
    changes = server.api("/api/v1/roi/changes?period=2026-03")["totals"]
    steps = {row.get_attribute("data-step"): float(row.find_element(By.TAG_NAME, "data").get_attribute("value"))
             for row in browser.find_elements(By.CSS_SELECTOR, "#bridge-totals tbody tr")}
    assert steps == {name: changes[name] for name in steps} and len(steps) == 7
    for chart in ("risk-bands", "risk-tornado", "risk-bridge"):
        canvas = browser.find_element(By.ID, chart)
        browser.execute_script("arguments[0].scrollIntoView()", canvas)
        canvas.screenshot(str(ARTIFACTS / f"{chart}-chart.png"))
    shoot(browser, "risk")

    # Assumptions and Operations
    go(browser, browser.find_element(By.LINK_TEXT, "Assumptions"))
    assert "Wages rose on 15 February." in browser.page_source
    shoot(browser, "assumptions")
    go(browser, browser.find_element(By.LINK_TEXT, "Operations"))
    sources = {item["name"]: item for item in server.api("/api/v1/sources")["sources"]}
    row = {metric: value for metric, value, _ in shown(browser, "#quality tr[data-source=bot]")}
    assert int(row["quarantined"]) == sources["bot"]["quarantined"] > 0
    assert int(row["unpriced"]) == sources["bot"]["unpriced"] > 0
    assert not browser.find_elements(By.PARTIAL_LINK_TEXT, "Run now")
    assert not browser.find_elements(By.PARTIAL_LINK_TEXT, "Close")
    shoot(browser, "operations")

    # a reader who types an admin address gets 403
    browser.get(server.base + "/operations/close?period=2026-03")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Admins only"

    browser.get(server.base + "/")
    sign_out(browser)
    browser.get(server.base + "/cohorts")
    assert "/sign-in" in browser.current_url and "<data" not in browser.page_source
    shoot(browser, "sign-in")


def test_an_admin_runs_a_job_and_closes_a_month_after_confirming(browser, dashboard_server):
    server = dashboard_server
    sign_in(browser, server, ADMIN, "/operations")
    go(browser, browser.find_element(By.CSS_SELECTOR, "tr[data-job='source:bot'] a.button"))
    assert "Run the job source:bot now?" in browser.page_source
    shoot(browser, "confirm-run")
    go(browser, browser.find_element(By.ID, "confirm"))
    assert "Started source:bot" in browser.find_element(By.CSS_SELECTOR, ".flash").text

    go(browser, browser.find_element(By.CSS_SELECTOR, "tr[data-period='2026-03'] a.button"))
    assert "Close 2026-03?" in browser.page_source
    go(browser, browser.find_element(By.LINK_TEXT, "Cancel"))
    assert server.api("/api/v1/periods")["periods"][-1]["state"] == "open"
    go(browser, browser.find_element(By.CSS_SELECTOR, "tr[data-period='2026-03'] a.button"))
    go(browser, browser.find_element(By.ID, "confirm"))
    assert "Closed 2026-03: revision 1" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    closed = server.api("/api/v1/periods")["periods"][-1]
    assert closed["period"] == "2026-03" and closed["state"] == "closed" and closed["revision"] == 1
    go(browser, browser.find_element(By.LINK_TEXT, "Assumptions"))
    assert browser.find_element(By.CSS_SELECTOR, "#closed-months tbody td code").text == (
        server.api("/api/v1/models")["config_hash"])
    sign_out(browser)
