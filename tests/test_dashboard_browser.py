"""The dashboard in headless Chromium: ``evalkit dashboard`` serves the seeded store on a free port of 127.0.0.1,
each page is opened by its URL, its key content must appear, and a screenshot per page is saved in the test's
temporary folder. Skipped where Chromium is not installed, except in CI (``.ci/run`` installs it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from dashboards.widgets import rate
from tests.dashboard_browser import (
    chromium,
    click_chart_point,
    dashboard_server,
    missing_browser,
    screenshot,
    wait_for_page,
)
from tests.dashboard_store import BASELINE_RUN, CANDIDATE_RUN, SeededStore, seed_store

if missing_browser() and not os.environ.get("CI"):
    pytest.skip(missing_browser() or "", allow_module_level=True)


def expected_texts(store: SeededStore) -> dict[str, list[str]]:
    """Per URL path, texts of the seeded data that the page must show (table cells are drawn on a canvas, so
    these come from tiles, captions and selections)."""
    injection = store.monitor.window_metrics[2]["injection_rate"]
    unsafe = next(metric for metric in store.safety.summary if metric.name == "unsafe_response_rate")
    return {
        "": ["Production model", store.versions["v2"], "PASS", "open incidents"],
        "runs": ["3 of 4 runs", CANDIDATE_RUN, "60 items · mean score 0.6333"],
        "compare": [f"{BASELINE_RUN} · suite quick", f"{CANDIDATE_RUN} · suite quick", "inconclusive"],
        "safety": ["unsafe_response_rate", rate(unsafe.value), "Example items"],
        "monitoring": ["windows checked", "1,200", f"{injection:.3f}", "injection-campaign"],
        "registry": ["Promotion history", store.gate_id, "Promote…", "Roll back…"],
    }


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, str, SeededStore, Path]]:
    """The seeded store served by ``evalkit dashboard``, and a Chromium with a fresh profile."""
    reason = missing_browser()
    if reason:
        pytest.fail(f"CI must run the browser test: {reason}")
    folder = tmp_path_factory.mktemp("browser")
    store = seed_store(folder / "home")
    with dashboard_server(store.home, folder / "server.log") as url, chromium(folder / "profile") as driver:
        yield driver, url, store, folder / "screenshots"


@pytest.mark.parametrize("path", ["", "runs", "compare", "safety", "monitoring", "registry"])
def test_each_page_shows_its_content_in_chromium(browser: tuple[object, str, SeededStore, Path], path: str) -> None:
    driver, url, store, shots = browser
    driver.set_window_size(1440, 1000)  # type: ignore[attr-defined]
    driver.get(f"{url}/{path}")  # type: ignore[attr-defined]
    wait_for_page(driver, expected_texts(store)[path])
    assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')  # type: ignore[attr-defined]
    saved = screenshot(driver, shots / f"{path or 'overview'}.png")
    assert saved.stat().st_size > 20_000


def test_clicking_a_window_on_a_chart_lists_its_requests(browser: tuple[object, str, SeededStore, Path]) -> None:
    driver, url, store, shots = browser
    driver.set_window_size(1440, 1000)  # type: ignore[attr-defined]
    driver.get(f"{url}/monitoring")  # type: ignore[attr-defined]
    injection = [metrics["injection_rate"] for metrics in store.monitor.window_metrics]
    wait_for_page(driver, [f"injection_rate\n{injection[2]:.3f}"])  # opens on the window that fired
    click_chart_point(driver, "injection_rate", store.monitor.window_ids[0])
    text = wait_for_page(driver, [f"injection_rate\n{injection[0]:.3f}"])
    assert f"injection_rate\n{injection[2]:.3f}" not in text
    screenshot(driver, shots / "monitoring-clicked.png")
