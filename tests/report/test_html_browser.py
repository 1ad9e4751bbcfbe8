"""report.html in headless Chromium: what a person sees, and that hostile values never run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from auditor.report.html import render_html
from tests.report.sample import HOSTILE_BUCKET, HOSTILE_ORIGIN, sample_result

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs Debian's chromium for the browser test (.ci/run installs it)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, tmp_path):
    report = render_html(sample_result(), tmp_path, previous_changes={
        "old_scan": 1, "new_scan": 2,
        "new": [{"rule_id": "v7-aws.cors", "status": "fail", "bucket": "radiology-scans", "resource": "r", "message": "m"}],
        "resolved": [], "still_failing": []})
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.goto(report.as_uri())
    pg.errors = errors
    yield pg
    context.close()


def visible_rows(pg):
    return pg.locator("#findings-table tbody tr:not(.hidden)")


def test_summary_counts_are_shown(page):
    # sample: 4 unsuppressed fails (one fail is suppressed), 1 unknown, 1 pass
    assert page.inner_text("#count-fail") == "4"
    assert page.inner_text("#count-unknown") == "1"
    assert page.inner_text("#count-pass") == "1"
    assert page.inner_text("#count-suppressed") == "1"
    assert page.inner_text("#meta-buckets") == "4"
    assert "partner" in page.inner_text("#skipped")
    assert "1 new" in page.inner_text("#changes")
    assert page.locator("#chart rect").count() > 0
    assert page.errors == []


def test_filter_to_one_vendor_hides_the_others(page):
    assert visible_rows(page).count() == 7
    page.select_option("#filter-vendor", "datature")
    rows = visible_rows(page)
    assert rows.count() == 1
    assert rows.first.get_attribute("data-vendor") == "datature"
    assert page.inner_text("#shown") == "1 of 7 findings shown"
    page.select_option("#filter-vendor", "")
    page.select_option("#filter-status", "fail")
    page.select_option("#filter-severity", "critical")
    assert visible_rows(page).count() == 1


def test_text_search_and_sort(page):
    page.fill("#search", "external")
    assert visible_rows(page).count() == 1
    page.fill("#search", "")
    page.click("th[data-sort=rule]")
    rules = [r.get_attribute("data-rule") for r in visible_rows(page).all()]
    assert rules == sorted(rules)
    page.click("th[data-sort=rule]")
    rules = [r.get_attribute("data-rule") for r in visible_rows(page).all()]
    assert rules == sorted(rules, reverse=True)


def test_copy_button_copies_the_remediation(page):
    button = page.locator("button.copy").first
    expected = button.locator("xpath=../following-sibling::pre").inner_text()
    button.click()
    page.wait_for_function("document.querySelector('button.copy').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == expected


def test_hostile_values_show_as_text_and_never_run(page):
    assert page.evaluate("window.__pwned") is None
    text = page.inner_text("body")
    assert HOSTILE_BUCKET in text
    page.click("#buckets details.bucket summary >> nth=0")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert HOSTILE_ORIGIN in page.inner_text("#buckets")
    assert page.locator("img").count() == 0 and page.locator("#buckets script").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_screenshot_for_the_readme(page):
    """AUDITOR_SCREENSHOT=1 writes docs/screenshots/report.png from the demo's report."""
    if os.environ.get("AUDITOR_SCREENSHOT") != "1":
        pytest.skip("set AUDITOR_SCREENSHOT=1 to refresh docs/screenshots/report.png")
    from concurrent.futures import ThreadPoolExecutor

    from auditor.demo import run_demo

    out = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(1) as pool:  # the scan runs its own event loop, away from Playwright's
        result = pool.submit(run_demo).result()
    report = render_html(result, out / "tmp")
    page.goto(report.as_uri())
    page.screenshot(path=str(out / "report.png"))
    shutil.rmtree(out / "tmp")
