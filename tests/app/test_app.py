"""The demo app, started as users start it (`qclip-vqa app`, `python app.py`) and used in a headless browser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from qclip_hf.testing.browser import free_port, headless_chromium, save_screenshot, wait_for_http
from qclip_hf.testing.sample_videos import BROKEN_NAME, write_sample_videos

REPO = Path(__file__).resolve().parents[2]
WAIT = 180  # seconds; the machine may be shared


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return write_sample_videos(tmp_path_factory.mktemp("app-videos"))


def _serve(args: list[str], port: int, env: dict | None = None):
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **(env or {})})
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=WAIT, process=process)
    except RuntimeError:
        process.kill()
        raise RuntimeError(f"app did not start: {process.communicate()[0][-3000:]}") from None
    return process


@pytest.fixture(scope="module")
def app_url(model_dir, videos):
    port = free_port()
    process = _serve([sys.executable, "-m", "qclip_hf.cli", "app", "--model", model_dir, "--examples",
                      str(videos[0].parent), "--server_port", str(port)], port)
    yield f"http://127.0.0.1:{port}/"
    process.terminate()
    process.wait(timeout=30)


def _summary(driver) -> str:
    return driver.find_element("id", "score-summary").text


def _upload(driver, path: Path) -> None:
    driver.find_element("css selector", "#video-input input[type=file]").send_keys(str(path))


def test_upload_shows_score_levels_curve_and_frames(app_url, model_dir, videos):
    from transformers import pipeline

    import qclip_hf  # noqa: F401

    video = next(v for v in videos if v.name.startswith("testsrc"))
    pipe = pipeline("video-quality", model=model_dir)
    expected = pipe(str(video))
    with headless_chromium(1280, 1100) as driver:
        driver.get(app_url)
        WebDriverWait(driver, WAIT).until(lambda d: d.find_elements("css selector", "#video-input input[type=file]"))
        _upload(driver, video)
        WebDriverWait(driver, WAIT).until(lambda d: "Score:" in _summary(d))
        assert f"Score: {expected['score']:.4f}" in _summary(driver)
        level = max(expected["levels"], key=expected["levels"].get)
        assert f"Most likely level: {level}" in _summary(driver)
        labels = driver.find_element("id", "level-probabilities").text
        assert all(name in labels for name in expected["levels"])
        frames = WebDriverWait(driver, WAIT).until(
            lambda d: [i for i in d.find_elements("css selector", "#sampled-frames img")
                       if d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", i)])
        assert len(frames) == pipe.video_processor.num_frames  # the frames the model itself samples
        curve = WebDriverWait(driver, WAIT).until(
            lambda d: d.find_elements("css selector", "#temporal-curve img"))
        assert driver.execute_script("return arguments[0].naturalWidth > 0", curve[0])
        save_screenshot(driver, "app_scored_upload")


def test_undecodable_upload_gets_a_clear_message(app_url, videos):
    broken = next(v for v in videos if v.name == BROKEN_NAME)
    with headless_chromium() as driver:
        driver.get(app_url)
        WebDriverWait(driver, WAIT).until(lambda d: d.find_elements("css selector", "#video-input input[type=file]"))
        _upload(driver, broken)
        WebDriverWait(driver, WAIT).until(lambda d: "Could not read this video" in _summary(d))
        message = _summary(driver)
        assert BROKEN_NAME in message and "Upload a video file that a media player can play" in message
        assert "/tmp/gradio" not in message  # the upload's temporary path means nothing to the user
        save_screenshot(driver, "app_undecodable_upload")


def test_clicking_an_example_scores_it(app_url, videos):
    example = videos[0].name
    with headless_chromium() as driver:
        driver.get(app_url)
        buttons = WebDriverWait(driver, WAIT).until(
            lambda d: [b for b in d.find_elements("css selector", "button") if b.text.strip() == example])
        buttons[0].click()
        WebDriverWait(driver, WAIT).until(lambda d: "Score:" in _summary(d))
        assert Path(example).stem in driver.find_element("id", "video-input").text


def test_space_entry_point_serves_the_app(model_dir):
    port = free_port()
    process = _serve([sys.executable, "app.py"], port,
                     env={"QCLIP_MODEL": model_dir, "GRADIO_SERVER_NAME": "127.0.0.1",
                          "GRADIO_SERVER_PORT": str(port)})
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as response:
            config = json.loads(response.read())
        assert config["title"] == "Q-CLIP video quality"
    finally:
        process.terminate()
        process.wait(timeout=30)
