"""How fast the app answers: cold start to the first page, and a cached revisit of the RBM page.

    python tests/benchmarks/bench_app.py

cold start = `streamlit run` launched -> the home page's title visible in headless Chromium.
cached revisit = the RBM page's script run for settings already in the disk cache (AppTest, a new
session each time; median of 5), and the same page reloaded in the browser until it stops running.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import core  # noqa: E402,F401

from streamlit.testing.v1 import AppTest  # noqa: E402

CHROMIUM = os.environ.get("GME_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def wait_idle(page, timeout=300):
    page.wait_for_selector("h1", timeout=timeout * 1000)
    end = time.time() + timeout
    while time.time() < end and page.locator('[data-testid="stStatusWidget"]').count():
        time.sleep(0.05)


def main():
    cache = tempfile.mkdtemp(prefix="gme-bench-")
    os.environ["GME_CACHE_DIR"] = cache
    page = str(ROOT / "pages" / "boltzmann_1_learn.py")
    t = time.perf_counter()
    AppTest.from_file(page, default_timeout=600).run()
    first = time.perf_counter() - t
    runs = []
    for _ in range(5):
        at = AppTest.from_file(page, default_timeout=600)
        t = time.perf_counter()
        at.run()
        runs.append(time.perf_counter() - t)
        assert not at.exception
    print(f"RBM page with default settings: first visit (trains) {first:.2f} s; cached revisits {[round(r, 2) for r in runs]}")

    from playwright.sync_api import sync_playwright

    port = 8765
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "explorer/app.py", "--server.port", str(port),
                             "--server.headless", "true"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, GME_CACHE_DIR=cache))
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            pg = b.new_page()
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            pg.goto(f"http://127.0.0.1:{port}/")
            wait_idle(pg)
            cold = time.perf_counter() - t0
            pg.goto(f"http://127.0.0.1:{port}/boltzmann_1_learn")
            wait_idle(pg)  # cached by the AppTest runs above
            t = time.perf_counter()
            pg.reload()
            wait_idle(pg)
            browser_revisit = time.perf_counter() - t
            b.close()
    finally:
        proc.terminate()
    print(f"cold_start_seconds: {cold:.2f}")
    print(f"cached_revisit_script_seconds: {statistics.median(runs):.3f}")
    print(f"cached_revisit_browser_seconds: {browser_revisit:.2f}")


if __name__ == "__main__":
    main()
