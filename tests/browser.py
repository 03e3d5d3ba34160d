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
# Page title → what it must show when the run has the data it needs (the browser test checks each).
EXPECTED = {
    "Cohort overview": {"metrics": 4, "charts": 2},
    "At-risk learners": {"metrics": 1, "tables": 1},
    "Learner drill-down": {"metrics": 2, "tables": 3},
    "Skill matrix": {"charts": 2, "tables": 1},
    "Engagement": {"charts": 3, "tables": 1},
    "Models": {"trees": 2, "charts": 1, "tables": 3},
    "Data quality": {"metrics": 3, "tables": 1},
}


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


ELEMENTS = {  # what a page can show, by Streamlit's test ids
    "charts": "stVegaLiteChart", "trees": "stGraphVizChart", "tables": "stDataFrame", "metrics": "stMetric",
    "notes": "stAlert",
}


def _texts(drv, selector: str) -> list[str]:
    """The texts of the elements ``selector`` finds; [] when Streamlit replaces one while it is read (a rerender
    in progress: the caller looks again)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return [e.text for e in drv.find_elements(By.CSS_SELECTOR, selector)]
    except StaleElementReferenceException:
        return []


def _wait_rendered(drv, title: str, timeout: float) -> bool:
    """Wait until the page's title is shown and Streamlit has stopped running; False if the title never showed."""
    from selenium.webdriver.common.by import By

    deadline = time.time() + timeout
    seen_title = False
    while time.time() < deadline:
        h1 = _texts(drv, '[data-testid="stMain"] h1')
        running = drv.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        if title in h1:
            seen_title = True
            if not running:
                break
        time.sleep(0.25)
    # Let elements paint: wait until what the main area holds has stopped changing (at most 10 s more).
    last, stable_since, until = None, time.time(), time.time() + 10
    while time.time() < until:
        now = tuple(len(drv.find_elements(By.CSS_SELECTOR, f'[data-testid="stMain"] [data-testid="{v}"]')) for v in ELEMENTS.values())
        if now != last:
            last, stable_since = now, time.time()
        elif time.time() - stable_since >= 1.0:
            break
        time.sleep(0.25)
    return seen_title


def _report(drv, seen_title: bool, started: float, attempts: int = 5) -> dict:
    """What the page shows; read again (up to ``attempts`` times, 0.5 s apart) if Streamlit replaces an element
    while it is being read."""
    from selenium.common.exceptions import StaleElementReferenceException

    for attempt in range(attempts):
        try:
            return _read_report(drv, seen_title, started)
        except StaleElementReferenceException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


def _read_report(drv, seen_title: bool, started: float) -> dict:
    from selenium.webdriver.common.by import By

    main = drv.find_elements(By.CSS_SELECTOR, '[data-testid="stMain"]')
    deploy = drv.find_elements(By.CSS_SELECTOR, '[data-testid="stAppDeployButton"]') or [
        b for b in drv.find_elements(By.CSS_SELECTOR, '[data-testid="stToolbar"] button') if b.text.strip() == "Deploy"]
    return {"title_shown": seen_title, "seconds": round(time.perf_counter() - started, 2),
            "exceptions": [e.text for e in drv.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')],
            "text": drv.find_element(By.TAG_NAME, "body").text, "main": main[0].text if main else "",
            "deploy_button": bool(deploy),
            **{k: len(drv.find_elements(By.CSS_SELECTOR, f'[data-testid="stMain"] [data-testid="{v}"]'))
               for k, v in ELEMENTS.items()}}


def load_page(drv, base: str, path: str, title: str, timeout: float = 45) -> dict:
    """Open a page by its address (a new session), wait until it has rendered; report what is on it."""
    started = time.perf_counter()
    drv.get(f"{base}/{path}")
    return _report(drv, _wait_rendered(drv, title, timeout), started)


def click_page(drv, title: str, timeout: float = 45) -> dict:
    """Go to a page the way an instructor does, through the sidebar's navigation (the same session)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    started = time.perf_counter()
    for attempt in range(5):  # the sidebar may be re-rendering: find the link again
        try:
            link = next(a for a in drv.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a')
                        if a.text.strip() == title)
            link.click()
            break
        except StaleElementReferenceException:
            if attempt == 4:
                raise
            time.sleep(0.5)
    return _report(drv, _wait_rendered(drv, title, timeout), started)


def sidebar_choice(drv, label: str) -> str:
    """The value a sidebar selectbox shows."""
    from selenium.webdriver.common.by import By

    return drv.find_element(By.CSS_SELECTOR, f'[data-testid="stSidebar"] input[aria-label="{label}"]').get_attribute("value")


def choose(drv, label: str, option_prefix: str, title: str, timeout: float = 45) -> None:
    """Pick the option starting with ``option_prefix`` in the sidebar selectbox ``label``, and wait for the rerun."""
    from selenium.webdriver.common.by import By

    box = drv.find_element(By.CSS_SELECTOR, f'[data-testid="stSidebar"] input[aria-label="{label}"]')
    box.click()
    deadline = time.time() + 10
    while time.time() < deadline:
        options = [o for o in drv.find_elements(By.CSS_SELECTOR, '[role="option"]') if o.text.strip().startswith(option_prefix)]
        if options:
            options[0].click()
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no option starting with {option_prefix!r} in {label!r}")
    time.sleep(0.5)
    _wait_rendered(drv, title, timeout)


def full_page_screenshot(drv, target, width: int = 1400, max_height: int = 4000) -> None:
    """Save the whole page (not just the window): grow the window to the main area's height, then restore it."""
    height = drv.execute_script(
        "const m = document.querySelector('[data-testid=\"stMain\"]'); return m ? m.scrollHeight : 1000;")
    drv.set_window_size(width, min(max(1000, int(height) + 80), max_height))
    time.sleep(1.0)  # charts re-lay out at the new size
    drv.save_screenshot(str(target))
    drv.set_window_size(width, 1000)
