"""The dashboard in a real browser: ``evalkit dashboard`` on a free port of 127.0.0.1 and headless Chromium driven
by Selenium, shared by the browser test and the README screenshot script (``docs/screenshots/capture.py``)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")
# While a script runs Streamlit shows its status widget; charts are drawn by vega-embed after the data arrives.
_BUSY = "return document.querySelector('[data-testid=\"stStatusWidget\"]') !== null"
_CHARTS_DRAWN = ("const charts = document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]');"
                 "return Array.from(charts).every(c => c.querySelector('canvas, svg'));")
_PAGE_HEIGHT = ("const main = document.querySelector('[data-testid=\"stMain\"]');"
                "return Math.max(main ? main.scrollHeight : 0, document.body.scrollHeight);")


def missing_browser() -> str | None:
    """Why the browser tests cannot run here (``None`` when Chromium and its driver are installed)."""
    absent = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if absent:
        return (f"{' and '.join(absent)} not installed: apt-get install chromium chromium-driver (.ci/run does)")
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def dashboard_server(home: Path, log: Path, *, auth: Path | None = None, timeout: float = 90) -> Iterator[str]:
    """Run ``evalkit dashboard --home HOME --port PORT`` (the command a user runs) until the block ends.

    Args:
        home: the run store.
        log: where the server's output goes.
        auth: an auth config, to serve with login on.
        timeout: seconds to wait for the server to answer its health check.

    Yields:
        The base URL, e.g. ``http://127.0.0.1:40123``.
    """
    port = free_port()
    command = [sys.executable, "-m", "evalkit", "dashboard", "--home", str(home), "--port", str(port)]
    command += ["--auth", str(auth)] if auth else []
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("EVALKIT_DASHBOARD_AUTH", None)
    url = f"http://127.0.0.1:{port}"
    with open(log, "w", encoding="utf-8") as output:
        # A session of its own, so the streamlit child goes down with it.
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while not _healthy(url):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the dashboard did not start (see {log}):\n{log.read_text()[-2000:]}")
                time.sleep(0.5)
            yield url
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


@contextmanager
def chromium(user_data_dir: Path, *, width: int = 1440, height: int = 1000) -> Iterator[object]:
    """Headless Chromium with a fresh profile, driven through chromedriver.

    Args:
        user_data_dir: an empty folder for the profile.
        width: window width in pixels.
        height: window height in pixels.

    Yields:
        The Selenium WebDriver.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(user_data_dir, ignore_errors=True)


def wait_for_page(driver: object, expected: list[str], *, timeout: float = 90) -> str:
    """Wait until the app is idle, every expected text is on the page and every chart is drawn.

    Args:
        driver: the WebDriver, on the page.
        expected: texts that must appear in the page's visible text.
        timeout: seconds to wait.

    Returns:
        The page's visible text.

    Raises:
        AssertionError: a text did not appear in time (the message lists the missing ones).
    """
    from selenium.webdriver.common.by import By

    deadline, missing = time.monotonic() + timeout, list(expected)
    while time.monotonic() < deadline:
        text = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
        missing = [item for item in expected if item not in text]
        if not missing and not driver.execute_script(_BUSY) and driver.execute_script(_CHARTS_DRAWN):  # type: ignore[attr-defined]
            time.sleep(0.5)  # let the last chart finish its transition before a screenshot
            return text
        time.sleep(0.5)
    raise AssertionError(f"not on the page after {timeout:.0f} s: {missing}")


def click_chart_point(driver: object, title: str, tooltip: str) -> None:
    """Click the point of the Altair chart titled ``title`` whose tooltip contains ``tooltip``.

    Vega draws each point as an SVG path of its ``mark-symbol`` group; hovering one shows its tooltip.

    Raises:
        AssertionError: no such chart, or no point with that tooltip.
    """
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    charts = [chart for chart in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"]')  # type: ignore[attr-defined]
              if title in (chart.get_attribute("textContent") or "")]
    assert charts, f"no chart titled {title!r}"
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", charts[0])  # type: ignore[attr-defined]
    for point in charts[0].find_elements(By.CSS_SELECTOR, "g.mark-symbol path"):
        ActionChains(driver).move_to_element(point).perform()
        tips = driver.find_elements(By.CSS_SELECTOR, "#vg-tooltip-element")  # type: ignore[attr-defined]
        if tips and tips[0].is_displayed() and tooltip in tips[0].text:
            ActionChains(driver).move_to_element(point).click().perform()
            return
    raise AssertionError(f"no point with tooltip {tooltip!r} in the chart {title!r}")


def screenshot(driver: object, path: Path, *, width: int = 1440, max_height: int = 4000) -> Path:
    """Save a PNG of the whole page (the viewport grows to the page's height, up to ``max_height``)."""
    chrome = int(driver.execute_script("return window.outerHeight - window.innerHeight"))  # type: ignore[attr-defined]
    height = min(max_height, int(driver.execute_script(_PAGE_HEIGHT)) + 40)  # type: ignore[attr-defined]
    driver.set_window_size(width, max(height, 600) + chrome)  # type: ignore[attr-defined]
    time.sleep(0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    return path
