"""Regenerate the dashboard screenshots in docs/screenshots/ from the project's data (run `devmentor demo` first).

    python benchmarks/screenshots.py

Serves the dashboard, opens every page in headless Chromium (Debian packages chromium and
chromium-driver), saves a PNG per page and prints each page's load time.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import (  # noqa: E402
    PAGES,
    chromium,
    chromium_binaries,
    full_page_screenshot,
    load_page,
    streamlit_server,
)


def main() -> None:
    if chromium_binaries() is None:
        raise SystemExit("headless Chromium not found: apt-get install chromium chromium-driver")
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with streamlit_server({}) as base, chromium() as drv:
        for path, title in PAGES.items():
            load_page(drv, base, path, title)  # first load fills the caches
            page = load_page(drv, base, path, title)
            if page["exceptions"] or not page["title_shown"]:
                raise SystemExit(f"{title}: {page['exceptions'] or 'did not render'}")
            target = out / f"{path or 'overview'}.png"
            full_page_screenshot(drv, target)
            print(f"{title:20} {page['seconds']:5.2f}s  {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
