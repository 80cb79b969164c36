"""The report kit in headless Chromium: add three figures from three pages (moving between pages through the
sidebar, so the collection's id must survive navigation), reload, open the Report page, export, read the ZIP.

Screenshots go to artifacts/screenshots/report-*.png. Uses tests/test_browser.py's app and browser fixtures
(skipped without Chromium unless GME_REQUIRE_BROWSER=1).
"""
import io
import re
import time
import zipfile

import pytest

from tests.test_browser import SHOTS, app, browser  # noqa: F401  (the fixtures: the running app, Chromium)

pytestmark = [pytest.mark.browser, pytest.mark.shared_cache]
PAGES = ["transport_1_transport_1d", "gan_2_mlp", "transport_3_sinkhorn"]  # a chart, a grid, a heatmap


def settle(page, timeout_s=300):
    """Wait until the script has finished (the running indicator is gone twice in a row)."""
    deadline = time.time() + timeout_s
    time.sleep(1.0)
    while time.time() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            time.sleep(0.7)
            if page.locator('[data-testid="stStatusWidget"]').count() == 0:
                return
        time.sleep(0.5)


def go_by_sidebar(page, stem):
    """Open a page by its link in the sidebar's navigation (showing all of them first when it is collapsed)."""
    more = page.locator('[data-testid="stSidebarNavViewButton"]')
    if more.count() and "more" in more.first.inner_text().lower():
        more.first.click()
    page.locator(f'[data-testid="stSidebarNav"] a[href$="/{stem}"]').first.click()
    page.wait_for_function(f"window.location.pathname.endsWith('/{stem}')", timeout=60_000)
    settle(page)


def report_id(page) -> str:
    m = re.search(r"[?&]report=([0-9a-f]{32})", page.url)
    assert m, f"no report id in {page.url}"
    return m.group(1)


def test_add_three_figures_from_three_pages_then_export(app, browser):  # noqa: F811
    url, _ = app
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(f"{url}/{PAGES[0]}")
        page.wait_for_selector("h1", timeout=60_000)
        settle(page)
        sid = report_id(page)
        for i, stem in enumerate(PAGES):
            if i:  # by the sidebar's navigation, as a student would: the id must come back in the URL
                go_by_sidebar(page, stem)
                assert report_id(page) == sid
            button = page.get_by_role("button", name=re.compile("Add to report")).first
            button.scroll_into_view_if_needed()
            button.click()
            page.get_by_text("Added to the report").first.wait_for(timeout=60_000)
            settle(page)
            if i == 0:
                page.screenshot(path=str(SHOTS / "report-page-with-buttons.png"), full_page=True)
        page.reload()  # a new Streamlit session: the URL keeps the id
        page.wait_for_selector("h1", timeout=60_000)
        settle(page)
        assert report_id(page) == sid
        go_by_sidebar(page, "report_1_report")
        assert report_id(page) == sid
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert body.count("Reopen this view") == 3 and "Figure 3." in body
        page.screenshot(path=str(SHOTS / "report-report-page.png"), full_page=True)
        with page.expect_download(timeout=120_000) as dl:
            page.get_by_role("button", name=re.compile("Export the report")).click()
        blob = open(dl.value.path(), "rb").read()
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            names = z.namelist()
            tex = z.read("report/report.tex").decode()
            md = z.read("report/report.md").decode()
            assert z.read("report/report.pdf").startswith(b"%PDF")
        assert len([n for n in names if re.fullmatch(r"report/figures/0[123]-[a-z0-9-]+\.png", n)]) == 3
        assert tex.count(r"\caption{") == 3 and md.count("![") == 3
        assert f"{url}/{PAGES[0]}" in tex  # the link that reopens the first view
        assert "report=" not in tex  # the collection's own id is not in the links
        assert not page.locator('[data-testid="stException"]').count()
    finally:
        page.close()
    assert not errors, errors
