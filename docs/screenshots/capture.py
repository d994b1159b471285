"""Refresh the README's dashboard screenshots: ``.venv/bin/python -m docs.screenshots.capture`` (from the repository
root; needs chromium and chromium-driver).

Seeds a temporary store with ``tests/dashboard_store.py``, by default with the real monitor (MiniLM descriptors,
the embedded guard, Evidently drift: about a minute on a CPU), serves it with ``evalkit dashboard`` and saves one
PNG per page into this folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tests.dashboard_browser import chromium, dashboard_server, missing_browser, screenshot, wait_for_page
from tests.dashboard_store import seed_store

HERE = Path(__file__).resolve().parent
# file name: (URL path, texts to wait for)
PAGES = {
    "overview": ("", ["Production model", "Last gate", "open incidents"]),
    "runs": ("runs", ["3 of 4 runs", "per task (95% interval)", "Items"]),
    "compare": ("compare", ["Run B (candidate)", "inconclusive", "B - A per metric"]),
    "safety": ("safety", ["unsafe_response_rate", "Example items"]),
    "monitoring": ("monitoring", ["windows checked", "Requests behind a window", "Prompt embeddings"]),
    "registry": ("registry", ["Promotion history", "Actions"]),
}


def capture(out: Path, *, real_monitor: bool) -> list[Path]:
    """Seed a store, serve it, and save a screenshot of each page.

    Args:
        out: the folder for the PNGs.
        real_monitor: run the real monitor on the seeded traffic (else synthetic descriptors, seconds faster).

    Returns:
        The saved files.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="evalkit-shots-") as folder:
        started = time.perf_counter()
        store = seed_store(Path(folder) / "home", real_monitor=real_monitor)
        print(f"seeded {store.home} in {time.perf_counter() - started:.1f} s")
        saved = []
        with dashboard_server(store.home, Path(folder) / "server.log") as url, \
                chromium(Path(folder) / "profile") as driver:
            for name, (path, expected) in PAGES.items():
                driver.set_window_size(1440, 1000)  # type: ignore[attr-defined]
                driver.get(f"{url}/{path}")  # type: ignore[attr-defined]
                wait_for_page(driver, expected)
                saved.append(screenshot(driver, out / f"{name}.png", max_height=4200))
                print(f"saved {saved[-1]}")
    return saved


def main() -> None:
    """Parse the options and capture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the PNGs (default: docs/screenshots)")
    parser.add_argument("--synthetic-monitor", action="store_true", help="skip the real monitor (faster)")
    options = parser.parse_args()
    reason = missing_browser()
    if reason:
        raise SystemExit(f"error: {reason}")
    capture(options.out, real_monitor=not options.synthetic_monitor)


if __name__ == "__main__":
    main()
