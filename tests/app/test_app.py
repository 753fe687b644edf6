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
def calibrated_model_dir(model_dir, videos, tmp_path_factory):
    """The tiny model with a calibration fitted on the sample videos, labelled 1.2 ... 4.8 in the order of their raw
    scores (isotonic: exact through them), so their MOS spread over every level."""
    import shutil

    import numpy as np
    from transformers import pipeline

    import qclip_hf  # noqa: F401
    from qclip_hf.calibration import fit_calibration

    folder = tmp_path_factory.mktemp("calibrated") / "model"
    shutil.copytree(model_dir, folder)
    clips = [str(v) for v in videos if v.name != BROKEN_NAME]
    raw = np.array([r["score"] for r in pipeline("video-quality", model=model_dir)(clips)])
    mos = np.empty(len(raw))
    mos[np.argsort(raw)] = np.linspace(1.2, 4.8, len(raw))
    fit_calibration(raw, mos, kind="isotonic", mos_range=(1, 5), data={"set": "sample videos"}).save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def app_url(calibrated_model_dir, videos):
    port = free_port()
    process = _serve([sys.executable, "-m", "qclip_hf.cli", "app", "--model", calibrated_model_dir, "--examples",
                      str(videos[0].parent), "--server_port", str(port)], port)
    yield f"http://127.0.0.1:{port}/"
    process.terminate()
    process.wait(timeout=30)


def _summary(driver) -> str:
    return driver.find_element("id", "score-summary").text


def _upload(driver, path: Path) -> None:
    driver.find_element("css selector", "#video-input input[type=file]").send_keys(str(path))


def test_upload_shows_mos_level_score_curve_and_frames(app_url, calibrated_model_dir, videos):
    from transformers import pipeline

    import qclip_hf  # noqa: F401

    video = next(v for v in videos if v.name.startswith("testsrc"))
    pipe = pipeline("video-quality", model=calibrated_model_dir)
    expected = pipe(str(video))
    assert expected["level"] == pipe.model.calibration.level_of(expected["mos"])
    with headless_chromium(1280, 1100) as driver:
        driver.get(app_url)
        WebDriverWait(driver, WAIT).until(lambda d: d.find_elements("css selector", "#video-input input[type=file]"))
        _upload(driver, video)
        WebDriverWait(driver, WAIT).until(lambda d: "MOS" in _summary(d))
        # The calibrated MOS and the level of its band, the raw score beside them, the scale and its bands.
        summary = _summary(driver)
        assert f"MOS {expected['mos']:.2f} · {expected['level']}" in summary
        assert f"Raw score: {expected['score']:.4f}" in summary and "1–5 (higher = better)" in summary
        assert "bad 1–1.8" in summary and "fitted on 'sample videos'" in summary
        labels = driver.find_element("id", "level-probabilities").text
        assert "Prompt similarity" in labels and all(name in labels for name in expected["prompt_level_probs"])
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
        WebDriverWait(driver, WAIT).until(lambda d: "MOS" in _summary(d))
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
