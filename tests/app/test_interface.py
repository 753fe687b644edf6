"""The app's page as a public Space needs it: bounded uploads and queue, the processor saved with the model, a word
on the temporal chart, levels in an evident order (issue 22 item 3, papercuts 8, 14 and 16)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from qclip_hf.testing.browser import free_port, headless_chromium, save_screenshot, wait_for_http
from qclip_hf.testing.sample_videos import write_sample_videos

REPO = Path(__file__).resolve().parents[2]
WAIT = 180  # seconds; the machine may be shared
LIMIT_KB = 200


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interface-videos")
    paths = write_sample_videos(folder, broken=False)
    big = folder / "big.mp4"  # over the limit (its bytes need not be a video: it must never reach the model)
    big.write_bytes(os.urandom((LIMIT_KB + 100) * 1024))
    return {"small": max((p for p in paths if p.stat().st_size < LIMIT_KB * 1024), key=lambda p: p.stat().st_size),
            "big": big}


@pytest.fixture(scope="module")
def app(edited_model_dir):
    """`qclip-vqa app` on the edited model with a 200 KB upload limit and a queue of 3; its output is collected."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "qclip_hf.cli", "app", "--model", edited_model_dir,
                                "--server_port", str(port), "--max_file_size", f"{LIMIT_KB}kb", "--max_queue", "3"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=WAIT, process=process)
    except RuntimeError:
        process.kill()
        reader.join(10)
        raise RuntimeError(f"app did not start: {''.join(output)[-3000:]}") from None
    yield {"url": f"http://127.0.0.1:{port}/", "output": output, "port": port}
    process.terminate()
    process.wait(timeout=30)


def _open(driver, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements("css selector", "#video-input input[type=file]"))


def _summary(driver) -> str:
    return driver.find_element("id", "score-summary").text


def test_the_cli_prints_where_it_serves_and_nothing_of_gradio(app):
    deadline = time.monotonic() + 30
    while not app["output"] and time.monotonic() < deadline:
        time.sleep(0.2)
    text = "".join(app["output"])
    assert text.startswith(f"serving the app on http://127.0.0.1:{app['port']} (uploads up to {LIMIT_KB}kb, queue "
                           "of 3); Ctrl+C to stop"), text
    assert "share=True" not in text and "Running on local URL" not in text


def test_the_page_uses_the_processor_saved_with_the_model(app, edited_model_dir, videos):
    from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor

    saved = QClipVideoProcessor.from_pretrained(edited_model_dir)  # 6 frames, RandSampl, seed 5
    expected = saved(str(videos["small"]), return_frame_indices=True)["frame_indices"][0].tolist()
    with headless_chromium(1280, 1100) as driver:
        _open(driver, app["url"])
        driver.find_element("css selector", "#video-input input[type=file]").send_keys(str(videos["small"]))
        WebDriverWait(driver, WAIT).until(lambda d: "Score:" in _summary(d))
        frames = WebDriverWait(driver, WAIT).until(
            lambda d: [i for i in d.find_elements("css selector", "#sampled-frames img")
                       if d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", i)])
        assert len(frames) == len(expected) == 6
        captions = driver.find_element("id", "sampled-frames").text
        assert [f"frame {i}" for i in expected] == [line.split(" (")[0] for line in captions.splitlines()
                                                    if line.startswith("frame ")], captions
        # Papercut 14: a word under the chart on why the whole-video line may sit below every segment.
        WebDriverWait(driver, WAIT).until(lambda d: d.find_elements("css selector", "#temporal-curve img"))
        assert "not the average of the segments" in driver.find_element("id", "temporal-note").text
        save_screenshot(driver, "app_saved_processor_and_temporal_note")


def test_an_upload_over_the_limit_is_refused_with_a_message_in_the_page(app, videos):
    with headless_chromium() as driver:
        _open(driver, app["url"])
        assert f"Video (up to {LIMIT_KB} KB)" in driver.find_element("id", "video-input").text
        driver.find_element("css selector", "#video-input input[type=file]").send_keys(str(videos["big"]))
        toast = WebDriverWait(driver, WAIT).until(
            lambda d: [t for t in d.find_elements("css selector", ".toast-body, [data-testid='toast-body']")
                       if "maximum allowed size" in t.text])
        assert "big.mp4" in toast[0].text and f"{LIMIT_KB}" in toast[0].text
        save_screenshot(driver, "app_upload_over_the_limit")
        assert "Score:" not in _summary(driver)  # never scored
    uploads = Path(os.environ.get("GRADIO_TEMP_DIR", "/tmp/gradio"))
    assert not list(uploads.rglob("big.mp4")), "the refused upload reached the disk"


def test_the_queue_is_bounded(edited_model_dir):
    from qclip_hf.app import DEFAULT_MAX_QUEUE, VideoScorer, build_demo

    scorer = VideoScorer(edited_model_dir)
    assert build_demo(scorer)._queue.max_size == DEFAULT_MAX_QUEUE == 20
    assert build_demo(scorer, max_queue=3)._queue.max_size == 3
    with pytest.raises(ValueError, match="max_queue must be a positive int or None"):
        build_demo(scorer, max_queue=0)


def test_levels_that_read_the_same_keep_the_model_order():
    """Papercut 14: probabilities that all display as 0 % are listed excellent ... bad, not by invisible noise."""
    import gradio as gr

    from qclip_hf.app.interface import level_display

    levels = {"excellent": 3e-9, "good": 2e-7, "fair": 0.02, "poor": 0.98, "bad": 4e-8}
    shown = gr.Label(num_top_classes=5).postprocess(level_display(levels))
    assert [c.label for c in shown.confidences] == ["poor", "fair", "excellent", "good", "bad"]
