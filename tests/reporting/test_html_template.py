"""The report's page in headless Chromium at a laptop's width: nothing clipped, no row many lines tall, no frame
strip to scroll, no alarm colour for zero failures (issue 22, papercut 13)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qclip_hf.reporting.html_report import write_report
from qclip_hf.testing.browser import headless_chromium, save_screenshot
from qclip_hf.testing.sample_videos import BROKEN_NAME, write_sample_videos

RED = "rgb(207, 34, 46)"  # --bad


@pytest.fixture(scope="module")
def reports(model_dir, tmp_path_factory):
    """Two reports of one scored folder: with its broken file (a long error) and with the scored videos only."""
    root = tmp_path_factory.mktemp("layout")
    folder = root / "a folder with a rather long name for the videos of this quality report"
    write_sample_videos(folder)
    (folder / BROKEN_NAME).write_bytes(b"\x00" * 4096)  # an error message of several sentences
    results = {}
    for name, inputs in (("with_failure", [str(folder)]),
                         ("all_ok", [str(p) for p in sorted(folder.glob("*noise*.mp4"))])):
        results[name] = root / f"{name}.csv"
        subprocess.run([sys.executable, "-m", "qclip_hf.cli", "score", *inputs, "--model", model_dir, "--output",
                        str(results[name]), "--return_temporal", "--allow_failures", "--no_progress"],
                       check=True, capture_output=True, text=True, timeout=600)
    # 8 frames per card, as the model's default processor shows: wider than a card at 1280 px in one line.
    return {name: write_report(path, root / f"{name}.html", top_n=2, num_frames=8) for name, path in results.items()}


def _box(driver, element) -> dict:
    return driver.execute_script("const r = arguments[0].getBoundingClientRect();"
                                 "return {left: r.left, right: r.right, height: r.height, "
                                 "scroll: arguments[0].scrollWidth, client: arguments[0].clientWidth};", element)


def test_the_table_fits_and_a_failure_reads_in_full(reports):
    with headless_chromium(1280, 1000) as driver:
        driver.get(reports["with_failure"].as_uri())
        wrap = driver.find_element("css selector", ".table-wrap")
        assert _box(driver, wrap)["scroll"] <= _box(driver, wrap)["client"] + 1  # nothing off to the right
        error = next(e for e in driver.find_elements("css selector", "#videos-body td")
                     if "VideoDecodeError" in e.text)
        assert _box(driver, error)["right"] <= _box(driver, wrap)["right"] + 1
        rows = [r for r in driver.find_elements("css selector", "#videos-body tr")
                if "detail" not in r.get_attribute("class").split()]
        failed = [r for r in rows if BROKEN_NAME in r.text and "failed" in r.get_attribute("class").split()]
        ok = [_box(driver, r)["height"] for r in rows if " ok " in f" {r.text} "]
        assert failed and ok
        assert _box(driver, failed[0])["height"] <= 1.5 * max(ok)  # the failed row is one line, like the others
        save_screenshot(driver, "report_layout_with_failure")


def test_frame_strips_fit_their_card(reports):
    with headless_chromium(1280, 1000) as driver:
        driver.get(reports["with_failure"].as_uri())
        strips = driver.find_elements("css selector", ".strip")
        assert strips
        for strip in strips:
            box = _box(driver, strip)
            assert box["scroll"] <= box["client"] + 1, box


def test_zero_failures_are_not_shown_in_red(reports):
    with headless_chromium(1280, 1000) as driver:
        colour = "return getComputedStyle(document.getElementById('stat-failed')).color"
        driver.get(reports["all_ok"].as_uri())
        assert driver.find_element("id", "stat-failed").text == "0"
        assert driver.execute_script(colour) != RED
        driver.get(reports["with_failure"].as_uri())
        assert driver.find_element("id", "stat-failed").text == "1"
        assert driver.execute_script(colour) == RED
