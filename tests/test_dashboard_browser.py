"""Serve the dashboard and go through every page in headless Chromium as an instructor would.

On the shared pipeline run (fixture ``pipeline_run``): every page renders its title, no exception, a main
area with what the page exists to show (tests/browser.py EXPECTED), no "Deploy" button; a course chosen
in the sidebar stays chosen while moving between pages through the sidebar's navigation.
"""

from __future__ import annotations

import time

import pytest

from tests.browser import (
    EXPECTED,
    PAGES,
    choose,
    chromium,
    chromium_binaries,
    click_page,
    load_page,
    sidebar_choice,
    streamlit_server,
)

pytestmark = pytest.mark.e2e


def check(page: dict, title: str) -> None:
    assert page["title_shown"], f"{title}: page did not render ({page['text'][:300]})"
    assert not page["exceptions"], f"{title}: {page['exceptions']}"
    for word in ("Traceback", "Error:", "Exception"):
        assert word not in page["main"], f"{title}: {word} on the page: {page['main'][:500]}"
    body = page["main"].replace(title, "", 1).strip()
    assert len(body) > 40, f"{title}: the main area is empty ({body!r})"
    missing = {k: (page[k], n) for k, n in EXPECTED[title].items() if page[k] < n}
    assert not missing, f"{title}: fewer elements than the page shows with data (found, expected): {missing}"
    assert not page["deploy_button"], f"{title}: Streamlit's Deploy button is visible"


# Needs Debian's chromium and chromium-driver (.ci/run installs them when missing).
def test_every_page_renders_with_data_and_filters_persist_in_headless_chromium(pipeline_run):
    if chromium_binaries() is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install chromium chromium-driver)")
    settings, url, _, _ = pipeline_run
    env = {"DEVMENTOR_HOME": str(settings.home), "DEVMENTOR_DATABASE_URL": url,
           "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri}
    started = time.perf_counter()
    with streamlit_server(env) as base, chromium() as drv:
        first = "Cohort overview"
        page = load_page(drv, base, "", first)
        check(page, first)
        assert "Learners" in page["main"]
        for title in [t for t in PAGES.values() if t != first]:
            check(click_page(drv, title), title)
        # The course filter survives page changes (it lives in the entrypoint), and the pages apply it.
        choose(drv, "Course", "C01", "Data quality")
        for title in ("Engagement", "Cohort overview"):
            page = click_page(drv, title)
            check(page, title)
            assert sidebar_choice(drv, "Course").startswith("C01"), f"{title}: the course filter was reset"
        assert "C01" in page["main"]  # the overview's caption names the filters it applied
    assert time.perf_counter() - started < 120, "the browser walk should take well under two minutes"
