"""Serve the dashboard and load every page in headless Chromium: no Streamlit exception on any page."""

from __future__ import annotations

import pytest

from tests.browser import (
    PAGES,
    chromium,
    chromium_binaries,
    load_page,
    streamlit_server,
)

pytestmark = pytest.mark.e2e


def test_every_page_loads_in_headless_chromium_without_exceptions(pipeline_run, tmp_path):
    if chromium_binaries() is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install chromium chromium-driver)")
    settings, url, _, _ = pipeline_run
    env = {"DEVMENTOR_HOME": str(settings.home), "DEVMENTOR_DATABASE_URL": url,
           "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri}
    with streamlit_server(env) as base, chromium() as drv:
        for path, title in PAGES.items():
            page = load_page(drv, base, path, title)
            assert page["title_shown"], f"{title}: page did not render ({page['text'][:300]})"
            assert not page["exceptions"], f"{title}: {page['exceptions']}"
            assert "Traceback" not in page["text"], title
            drv.save_screenshot(str(tmp_path / f"{path or 'overview'}.png"))
        assert "Learners" in load_page(drv, base, "", "Cohort overview")["text"]
    assert len(list(tmp_path.glob("*.png"))) == len(PAGES)
