"""Serve the dashboard with `streamlit run` and drive headless Chromium through its pages (tests and the screenshot script)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PAGES = {  # url path → title shown on the page
    "": "Cohort overview",
    "at_risk": "At-risk learners",
    "learner": "Learner drill-down",
    "skills": "Skill matrix",
    "engagement": "Engagement",
    "models": "Models",
    "quality": "Data quality",
}
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage", "--window-size=1400,1000")


def chromium_binaries() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(env: dict[str, str]):
    port = free_port()
    cmd = [str(Path(sys.executable).parent / "streamlit"), "run", str(PROJECT_ROOT / "dashboards" / "app.py"),
           "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        import urllib.request

        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/_stcore/health", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stdout.read().decode()[-3000:])
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    drv = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield drv
    finally:
        drv.quit()


def load_page(drv, base: str, path: str, title: str, timeout: float = 45) -> dict:
    """Open a page, wait until its title is shown and Streamlit has stopped running; report what is on it."""
    from selenium.webdriver.common.by import By

    started = time.perf_counter()
    drv.get(f"{base}/{path}")
    deadline = time.time() + timeout
    seen_title = False
    while time.time() < deadline:
        h1 = [e.text for e in drv.find_elements(By.CSS_SELECTOR, "h1")]
        running = drv.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        if title in h1:
            seen_title = True
            if not running:
                break
        time.sleep(0.25)
    time.sleep(0.5)  # let charts paint
    exceptions = [e.text for e in drv.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')]
    return {"title_shown": seen_title, "exceptions": exceptions, "seconds": round(time.perf_counter() - started, 2),
            "text": drv.find_element(By.TAG_NAME, "body").text}
