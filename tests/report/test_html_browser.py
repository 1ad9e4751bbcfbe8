"""report.html in headless Chromium: what a person sees, and that hostile values never run.

Needs Debian's chromium at /usr/bin/chromium and Playwright for Python (no `playwright install`).
Outside CI the module is skipped when chromium is missing; in CI (CI=true) that is an error.
AUDITOR_SCREENSHOT=1 also writes docs/screenshots/report.png from the demo's report.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from auditor.report.html import render_html
from tests.report.sample import HOSTILE_BUCKET, HOSTILE_ORIGIN, sample_result
from tests.report.test_golden import CHANGES

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "report.png"
IN_CI = os.environ.get("CI") == "true"

if not Path(CHROMIUM).exists():
    if IN_CI:
        raise RuntimeError(f"the browser test needs Debian's chromium at {CHROMIUM} in CI (apt-get install chromium)")
    pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)",
                allow_module_level=True)

if IN_CI:
    from playwright import sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_report(browser, path: Path, **context_args):
    context = browser.new_context(viewport={"width": 1300, "height": 1000}, **context_args)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    pg = context.new_page()
    pg.errors = []
    pg.requests = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type in ("error", "warning") else None)
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.goto(path.as_uri())
    return context, pg


@pytest.fixture
def page(browser, tmp_path):
    context, pg = open_report(browser, render_html(sample_result(), tmp_path, previous_changes=CHANGES))
    yield pg
    context.close()


def visible_rows(pg):
    return pg.locator("#findings-table tbody tr:not(.hidden)")


def test_summary_shows_the_counts(page):
    # sample: 5 unsuppressed fails (a sixth is suppressed), 1 unknown, 2 passes, over 2 accounts
    assert page.inner_text("#count-fail") == "5"
    assert page.inner_text("#count-unknown") == "1"
    assert page.inner_text("#count-pass") == "2"
    assert page.inner_text("#count-suppressed") == "1"
    assert page.inner_text("#meta-accounts") == "2"
    assert page.inner_text("#meta-buckets") == "5"
    assert "210987654321" in page.inner_text("header")
    fail_row = page.locator("#severity-table tr[data-status=fail] td")
    assert fail_row.all_inner_texts() == ["1", "3", "0", "1", "0", "5"]  # critical high medium low info total
    assert page.locator("#vendor-table tr[data-vendor=baseline] td").all_inner_texts() == ["2", "0", "0"]
    assert page.locator("#vendor-table tr[data-vendor=tenyks] td").all_inner_texts() == ["0", "1", "0"]
    baseline_bar = page.locator('#chart g[data-vendor="baseline"] rect')
    assert baseline_bar.count() == 2  # one high, one low (the suppressed medium is not drawn)
    assert page.locator('#chart g[data-vendor="tenyks"]').count() == 0  # unknown is not a failure
    assert "partner" in page.inner_text("#skipped") and "AccessDenied" in page.inner_text("#skipped")
    assert "1 new, 1 resolved, 0 still failing" in page.inner_text("#changes")
    assert "ListAccessKeys failed with AccessDenied" in page.inner_text("#unknown")
    assert page.errors == []
    assert all(url.startswith("file://") for url in page.requests), page.requests  # no network


def test_status_colours_and_severity_badges(page):
    def colour(selector):
        return page.eval_on_selector(selector, "e => getComputedStyle(e).color")

    assert colour("#count-fail") == "rgb(201, 42, 42)"  # red
    assert colour("#count-pass") == "rgb(43, 138, 62)"  # green
    assert colour("#count-unknown") == "rgb(179, 92, 0)"  # amber
    critical = page.eval_on_selector(".sev-critical", "e => getComputedStyle(e).backgroundColor")
    assert critical == "rgb(139, 26, 26)"


def test_filter_to_one_vendor_hides_the_others(page):
    total = len(sample_result().findings)
    assert visible_rows(page).count() == total
    page.select_option("#filter-vendor", "datature")
    rows = visible_rows(page)
    assert rows.count() == 1
    assert rows.first.get_attribute("data-vendor") == "datature"
    assert page.locator('#findings-table tbody tr[data-vendor="v7-aws"]').first.is_hidden()
    assert page.inner_text("#shown") == f"1 of {total} findings shown"
    page.select_option("#filter-vendor", "")
    page.select_option("#filter-status", "fail")
    page.select_option("#filter-severity", "critical")
    assert [r.get_attribute("data-rule") for r in visible_rows(page).all()] == ["redbrick.read-grant"]
    page.select_option("#filter-severity", "info")
    assert visible_rows(page).count() == 0 and page.is_visible("#no-match")
    page.click("#reset")
    assert visible_rows(page).count() == total


def test_text_search(page):
    page.fill("#search", "external id")
    assert sorted(r.get_attribute("data-rule") for r in visible_rows(page).all()) == [
        "baseline.trust-external-id", "datature.external-id"]
    page.fill("#search", "WASABI-SLIDES")  # case-insensitive, matches the bucket column
    assert [r.get_attribute("data-rule") for r in visible_rows(page).all()] == ["v7-wasabi.bucket-name"]
    page.fill("#search", "")
    assert visible_rows(page).count() == len(sample_result().findings)


def test_sort_by_column(page):
    def column(attr):
        return [r.get_attribute(attr) for r in visible_rows(page).all()]

    page.click("th[data-sort=rule]")
    assert column("data-rule") == sorted(column("data-rule"))
    assert page.get_attribute("th[data-sort=rule]", "aria-sort") == "ascending"
    page.click("th[data-sort=rule]")
    assert column("data-rule") == sorted(column("data-rule"), reverse=True)
    page.click("th[data-sort=severity]")
    ranks = [int(x) for x in column("data-severity-rank")]
    assert ranks == sorted(ranks) and column("data-severity")[0] == "critical"
    page.focus("th[data-sort=vendor]")
    page.keyboard.press("Enter")
    assert column("data-vendor") == sorted(column("data-vendor"))


def test_copy_button_puts_the_remediation_on_the_clipboard(page):
    button = page.locator("#buckets button.copy").first
    expected = button.locator("xpath=../following-sibling::pre").text_content()  # remediation folded: copied all the same
    button.click()
    # Waits with Playwright's own matcher: a wait_for_function predicate that is not true at once is polled
    # through eval, which the report's Content Security Policy refuses ('unsafe-eval' is not allowed).
    from playwright.sync_api import expect

    expect(button).to_have_text("Copied", timeout=30_000)
    assert button.inner_text() == "Copied"
    assert page.evaluate("navigator.clipboard.readText()") == expected


def test_hostile_values_show_as_text_and_never_run(page):
    assert page.evaluate("window.__pwned") is None
    assert HOSTILE_BUCKET in page.inner_text("#findings-table")
    assert HOSTILE_BUCKET in page.locator("#buckets .bname").all_inner_texts()
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert HOSTILE_ORIGIN in page.inner_text("#buckets")
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 2  # the JSON data block and the report's own script
    page.fill("#search", "onerror")  # interacting re-renders nothing from data as markup
    page.click("#buckets button.copy >> nth=0")
    assert page.evaluate("window.__pwned") is None
    assert page.errors == []  # and no CSP violation was reported


def test_a_finding_link_opens_its_evidence(page):
    page.click('#findings-table tr[data-rule="tenyks.access-key"] a.rule')
    detail = page.locator("article.detail.unknown").first
    assert detail.is_visible()
    assert "ListAccessKeys failed with AccessDenied" in detail.inner_text()


def test_print_hides_filters_and_shows_every_bucket_with_the_evidence_opened(page):
    page.locator("#buckets details.evidence summary").first.click()  # opened by the reader: printed
    page.select_option("#filter-vendor", "datature")
    closed_id = page.locator("#buckets details.bucket:not([open]) .detail").first.get_attribute("id")
    page.emulate_media(media="print")
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    assert page.is_hidden(".filters")
    rows = page.locator("#findings-table tbody tr").all()
    # Every failing and unknown row, whatever the filter; passing checks print as one line under their bucket.
    assert all(r.is_visible() == (r.get_attribute("data-status") != "pass") for r in rows)
    closed = page.locator(f"#{closed_id}")
    assert closed.is_visible()  # a closed bucket's findings are printed too
    assert page.locator("details.evidence pre").first.is_visible()
    assert not page.locator("details.evidence").nth(1).is_visible()  # not opened: left to the HTML and JSON
    passing = page.locator("details.detail.pass").first
    assert passing.locator("summary").is_visible() and not passing.locator("pre").is_visible()
    pdf = page.pdf()
    assert pdf.startswith(b"%PDF")


def test_narrow_screen_shows_findings_as_cards(browser, tmp_path):
    report = render_html(sample_result(), tmp_path)
    context, pg = open_report(browser, report)
    pg.set_viewport_size({"width": 400, "height": 800})
    assert pg.is_hidden("#findings-table thead")
    width = pg.evaluate("document.documentElement.scrollWidth")
    assert width <= 400
    context.close()


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    from auditor.demo import run_demo

    with ThreadPoolExecutor(1) as pool:  # the scan runs its own event loop, away from Playwright's
        result = pool.submit(run_demo).result()
    return result, render_html(result, tmp_path_factory.mktemp("demo"))


def test_demo_report_titles_failures_as_problems_and_collapses_passes(browser, demo_report):
    result, path = demo_report
    context, pg = open_report(browser, path)
    try:
        titles = {f.rule_id: f.title for f in result.findings}
        fail_rows = pg.locator("#findings-table tr.finding[data-status=fail]")
        assert fail_rows.count() == sum(1 for f in result.findings if f.status.value == "fail") > 0
        for row in fail_rows.all():
            shown = row.locator(".headline").inner_text()
            # Titled with the problem, not with the condition that failed ("The bucket policy is not public").
            assert shown != titles[row.get_attribute("data-rule")], shown
            assert "Requirement: " + titles[row.get_attribute("data-rule")] in row.inner_text()
        public = pg.locator("#findings-table tr.finding[data-status=fail][data-rule='baseline.public-policy'] .headline")
        assert "grants public access" in public.inner_text()

        # Passing checks: one line each; their evidence only when asked for.
        passing = pg.locator("#buckets details.detail.pass")
        assert passing.count() == sum(1 for f in result.findings if f.status.value == "pass")
        first = passing.first
        assert first.locator("summary").is_visible() and not first.locator("pre").is_visible()
        assert first.locator("summary").bounding_box()["height"] < 30
        first.locator("summary").click()
        assert first.locator("pre").is_visible()
        first.locator("summary").click()
        assert not pg.locator("#findings-table tr.finding[data-status=pass] .message").first.is_visible()

        height = pg.evaluate("document.documentElement.scrollHeight")
        assert height < 25000, height  # was 49,000 px with every passing check's evidence open
        pg.emulate_media(media="print")
        assert not first.locator("pre").is_visible()
        pg.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
        assert pg.locator("#buckets details.bucket:not([open])").count() == 0  # every bucket prints
        assert not first.locator("pre").is_visible()
        pdf = pg.pdf(format="A4")
        pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
        assert 1 <= pages <= 14, pages  # 31 fails and 65 passes; was 49 pages
    finally:
        context.close()


def test_demo_report_keeps_readiness_and_exposure_apart(browser, demo_report):
    result, path = demo_report
    context, pg = open_report(browser, path)
    try:
        kinds = {"readiness": 0, "exposure": 0}
        for f in result.findings:
            kinds[f.kind] += 1
        assert all(kinds.values())
        for kind, n in kinds.items():
            pg.select_option("#filter-kind", kind)
            rows = visible_rows(pg)
            assert rows.count() == n
            assert {r.get_attribute("data-kind") for r in rows.all()} == {kind}
            assert all(r.locator(f".tag.kind-{kind}").inner_text().lower() == kind for r in rows.all()[:5])
        pg.click("#reset")
        fails = [f for f in result.findings if f.status.value == "fail"]
        split = pg.inner_text("#fail-split")
        assert split.startswith(f"{sum(f.kind == 'readiness' for f in fails)} readiness · ")
        assert split.endswith(f"{sum(bool(f.required_by) for f in fails)} required by a vendor's guide")
        # What RedBrick's guide asks for (a '*' CORS origin) reads as required by it, citing the guide, not as a problem.
        required = [f for f in result.findings if f.required_by]
        assert required
        row = pg.locator(f"#findings-table tr.finding[data-rule='{required[0].rule_id}'][data-bucket='{required[0].bucket}']")
        note = row.locator(".required-by").inner_text()
        assert note.startswith("Required by RedBrick AI") and "not a violation" in note
        # A vendor finding's reference names the guide and links to it; no file name of our copy shows anywhere.
        f = next(f for f in result.findings if f.guide and f.status.value == "fail")
        anchor = pg.locator(f"#findings-table tr.finding[data-rule='{f.rule_id}'] a.rule").first.get_attribute("href")
        assert pg.locator(f"{anchor} .ref a").get_attribute("href") == f.guide["url"]
        assert f.guide["title"] in pg.inner_text(f"{anchor} .ref")
        assert not re.search(r"\d{3}_[0-9a-f]{16}\.txt", pg.inner_text("body"))
    finally:
        context.close()


def test_chart_labels_stay_legible_at_400_px(browser, demo_report):
    _, path = demo_report
    context, pg = open_report(browser, path)
    try:
        pg.set_viewport_size({"width": 400, "height": 800})
        labels = pg.locator("#chart text")
        assert labels.count() > 0
        sizes = pg.evaluate("""() => Array.from(document.querySelectorAll('#chart text')).map(t => {
            const svg = t.ownerSVGElement, scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
            return parseFloat(t.getAttribute('font-size')) * scale; })""")
        assert min(sizes) >= 10.5, sizes
        box = pg.locator("#chart").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 400
        vendor_labels = pg.locator("#chart g.bar > text:first-child")
        for label in vendor_labels.all():
            b = label.bounding_box()
            assert b["x"] >= 0, label.inner_text()  # not clipped at the left edge
    finally:
        context.close()


def test_screenshot_for_the_readme(browser, tmp_path):
    """AUDITOR_SCREENSHOT=1 writes docs/screenshots/report.png from the demo's report."""
    if os.environ.get("AUDITOR_SCREENSHOT") != "1":
        pytest.skip("set AUDITOR_SCREENSHOT=1 to refresh docs/screenshots/report.png")
    from auditor.demo import run_demo

    with ThreadPoolExecutor(1) as pool:  # the scan runs its own event loop, away from Playwright's
        result = pool.submit(run_demo).result()
    context, pg = open_report(browser, render_html(result, tmp_path), device_scale_factor=1)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SCREENSHOT))
    context.close()
