"""Real-browser test helpers: headless Chromium through Selenium, screenshots kept as test artefacts.

Debian's `chromium` and `chromium-driver` packages (installed by `make setup`) provide the browser and its driver;
as root Chromium needs `--no-sandbox`. Screenshots go to `outputs/test-artifacts/` (or `$QCLIP_TEST_ARTIFACTS`) so
a person can look at them after the run.

Example:
    ```python
    >>> from qclip_hf.testing.browser import headless_chromium, save_screenshot
    >>> with headless_chromium() as driver:  # doctest: +SKIP
    ...     driver.get("file:///tmp/report.html")
    ...     print(save_screenshot(driver, "report"))
    ```
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
SETUP_HINT = "install it with `make setup` (apt-get install chromium chromium-driver)"


def artifacts_dir() -> Path:
    """Where screenshots are written: `$QCLIP_TEST_ARTIFACTS` or `<repo>/outputs/test-artifacts`."""
    path = Path(os.environ.get("QCLIP_TEST_ARTIFACTS", REPO_ROOT / "outputs" / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_chromium() -> tuple[str, str]:
    """Paths of the Chromium binary and of chromedriver; `RuntimeError` naming what is missing otherwise."""
    browser = next((shutil.which(name) for name in CHROMIUM_CANDIDATES if shutil.which(name)), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = " and ".join(name for name, path in (("chromium", browser), ("chromedriver", driver)) if not path)
        raise RuntimeError(f"{missing} not found on PATH — {SETUP_HINT}")
    return browser, driver


@contextlib.contextmanager
def headless_chromium(width: int = 1280, height: int = 1000) -> Iterator[Any]:
    """A Selenium WebDriver on headless Chromium (quit on exit)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = find_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def save_screenshot(driver: Any, name: str, *, full_page: bool = True) -> Path:
    """Screenshot the page into the artefacts folder as `<name>.png` (the whole page height when `full_page`)."""
    path = artifacts_dir() / f"{name}.png"
    if full_page:
        height = driver.execute_script("return Math.max(document.body.scrollHeight, "
                                       "document.documentElement.scrollHeight)")
        width = driver.get_window_size()["width"]
        driver.set_window_size(width, min(max(int(height) + 40, 600), 6000))
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 180.0, process: Any = None) -> None:
    """Poll `url` until it answers; `RuntimeError` if `process` exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server process exited with code {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


__all__ = ["artifacts_dir", "find_chromium", "free_port", "headless_chromium", "save_screenshot", "wait_for_http"]
