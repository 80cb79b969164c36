"""The running app in headless Chromium: every page opens, finishes, shows no exception.

Screenshots go to artifacts/screenshots/ (look at them). Needs Debian's Chromium at
/usr/bin/chromium (or $GME_CHROMIUM); skipped without it unless GME_REQUIRE_BROWSER=1 (CI).
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from explorer.registry import discover

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("GME_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = [pytest.mark.browser, pytest.mark.shared_cache]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(page_cache):
    if not Path(CHROMIUM).exists():
        if os.environ.get("GME_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    port = _free_port()
    env = dict(os.environ, GME_CACHE_DIR=str(page_cache))  # the runs the AppTest page tests trained (or will reuse)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "explorer/app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the app did not start: " + (proc.stdout.read() if proc.stdout else ""))
    yield url, t0
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, url, shot_name, timeout_s=600):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("h1", timeout=60_000)
    deadline = time.time() + timeout_s
    time.sleep(1.0)
    while time.time() < deadline:  # the "running" indicator disappears when the script finishes
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            time.sleep(0.5)
            if page.locator('[data-testid="stStatusWidget"]').count() == 0:
                break
        time.sleep(0.5)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{shot_name}.png"), full_page=True)
    exceptions = page.locator('[data-testid="stException"]').all_inner_texts()
    title = page.locator("h1").first.inner_text()
    page.close()
    return title, exceptions, errors


def test_home_page(app, browser):
    url, t0 = app
    title, exceptions, errors = open_page(browser, url, "home")
    print(f"cold start to first page: {time.perf_counter() - t0:.1f} s")
    assert title == "Generative Models Explorer"
    assert not exceptions, exceptions


@pytest.mark.parametrize("page", discover(), ids=[p.path.stem for p in discover()])
def test_every_page_opens_without_exception(app, browser, page):
    url, _ = app
    title, exceptions, errors = open_page(browser, f"{url}/{page.url_path}", page.path.stem)
    assert title.strip() == page.title
    assert not exceptions, exceptions


def test_old_page_addresses_open_the_same_pages(app, browser):
    """Links made before the pages were named by topic (e.g. /rbm_1_learn?...) open the same page, settings kept."""
    from explorer.registry import OLD_URLS

    url, _ = app
    by_stem = {p.url_path: p for p in discover()}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        for old, stem in list(OLD_URLS.items())[:2]:
            page.goto(f"{url}/{old}?n_show=8" if old.startswith("inpaint") else f"{url}/{old}?gibbs=10")
            page.wait_for_function(f"window.location.pathname.endsWith('/{stem}')", timeout=60_000)
            page.wait_for_selector("h1", timeout=60_000)
            assert page.locator("h1").first.inner_text().strip() == by_stem[stem].title
            assert "gibbs=10" in page.url or "n_show=8" in page.url  # the settings in the link were kept
    finally:
        page.close()
