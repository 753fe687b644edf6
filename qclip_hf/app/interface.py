"""The Gradio page of the demo app: upload or pick a video -> score, level, level bars, temporal curve, frames.

Example:
    ```python
    >>> from qclip_hf.app import build_demo
    >>> demo = build_demo("outputs/demo/run/best", examples=["clip.mp4"])  # doctest: +SKIP
    >>> demo.launch(server_name="127.0.0.1", server_port=7860)  # doctest: +SKIP
    ```
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .scoring import VideoScorer

TITLE = "Q-CLIP video quality"
INTRO = (
    "Upload a video (or pick an example) to score its perceptual quality with a Q-CLIP model: a frozen "
    "vision-language backbone with a small trained adapter compares the video's frames with the prompts "
    "*excellent / good / fair / poor / bad quality*. A calibrated model gives the MOS (the score on the scale of "
    "its training labels) and its level (the band of that MOS); the raw score is on the model's own scale "
    "(higher = better)."
)
EMPTY_MESSAGE = "Upload a video or pick an example, then press **Score**."
# A public Space must bound what one visitor can cost the others: the size of one upload (Gradio refuses a larger
# file with a message in the page, before it reaches the disk) and the number of scoring requests waiting (a visitor
# beyond it is told the queue is full instead of waiting without a word). `qclip-vqa app --max_file_size/--max_queue`.
DEFAULT_MAX_FILE_SIZE = "200MB"
DEFAULT_MAX_QUEUE = 20
TEMPORAL_NOTE = (
    "Each segment is scored from frames sampled inside it; the whole-video score (dashed line) pools frames from the "
    "whole video into one feature, so it is not the average of the segments and may lie above or below all of them "
    "(mixing different-looking frames moves the pooled feature). Compare segments with each other to see where "
    "quality drops."
)


def undecodable_message(path: str, error: BaseException) -> str:
    """The message shown for a file that cannot be scored: what went wrong and what to do.

    The upload's temporary path is replaced by its file name: the user knows the file by that name only.
    """
    name = os.path.basename(path)
    reason = f"{type(error).__name__}: {error}".replace(f"'{path}'", f"'{name}'").replace(path, name)
    return (f"### Could not read this video\n`{name}` cannot be decoded as a video ({reason}).\n\n"
            "Upload a video file that a media player can play (e.g. MP4/H.264, WebM, MKV, AVI).")


def _example_files(examples: Sequence[str | os.PathLike] | None) -> list[str]:
    """Example videos: files as given, folders expanded to the videos inside (sorted)."""
    from ..inference.files import is_video_file

    files: list[str] = []
    for entry in examples or []:
        entry = os.fspath(entry)
        if os.path.isdir(entry):
            files += sorted(os.path.join(root, name) for root, _, names in os.walk(entry) for name in names
                            if is_video_file(name))
        elif os.path.isfile(entry):
            files.append(entry)
        else:
            raise FileNotFoundError(f"example video '{entry}' does not exist")
    return [os.path.abspath(path) for path in files]


def level_display(levels: dict[str, float]) -> dict[str, float]:
    """The prompt-level probabilities as the page shows them: rounded to the whole percent the label displays, so
    levels that read the same (e.g. several at 0 %) keep the model's order (excellent ... bad) instead of an order set
    by differences too small to see.

    Example:
        ```python
        >>> list(level_display({"excellent": 1e-9, "good": 3e-7, "fair": 0.01, "poor": 0.98, "bad": 2e-8}))
        ['excellent', 'good', 'fair', 'poor', 'bad']
        ```
    """
    return {name: round(float(p), 2) for name, p in levels.items()}


def build_demo(model: str | os.PathLike | VideoScorer, *, examples: Sequence[str | os.PathLike] | None = None,
               device: str | None = None, title: str = TITLE, max_file_size: str | int | None = DEFAULT_MAX_FILE_SIZE,
               max_queue: int | None = DEFAULT_MAX_QUEUE) -> Any:
    """Build the Gradio `Blocks` of the demo app (not launched).

    Args:
        model (`str` or [`VideoScorer`]): a saved model directory, a Hub id, or an already-built scorer.
        examples (`Sequence[str]`, *optional*): example videos or folders of videos to offer.
        device (`str`, *optional*): where the model runs.
        title (`str`, *optional*): page title.
        max_file_size (`str` or `int`, *optional*, defaults to `"200MB"`): the largest upload, shown on the page;
            pass the same value to `launch(max_file_size=...)`, which enforces it ([`launch_demo`] does both).
            `None`: no limit.
        max_queue (`int`, *optional*, defaults to 20): scoring requests that may wait; more are refused with
            "queue is full". `None`: unbounded.
    """
    if max_queue is not None and (isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1):
        raise ValueError(f"max_queue must be a positive int or None, got {max_queue!r}")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home from a local demo
    import gradio as gr

    from ..reporting.scoring_plots import plot_temporal_curve

    scorer = model if isinstance(model, VideoScorer) else VideoScorer(model, device=device)
    example_files = _example_files(examples)

    def score(video: str | None) -> tuple[Any, ...]:
        if not video:
            return EMPTY_MESSAGE, None, None, None
        try:
            result = scorer(video)
        except (ValueError, OSError, RuntimeError) as error:  # VideoDecodeError is a ValueError
            return undecodable_message(video, error), None, None, None
        curve = plot_temporal_curve(result.temporal, overall=result.score) if result.temporal else None
        return result.summary_markdown(), level_display(result.prompt_level_probs), curve, result.frames

    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(f"# {title}\n{INTRO}\n\nModel: `{scorer.model_name}`")
        with gr.Row():
            with gr.Column(scale=1):
                # A file input, not gr.Video: an undecodable upload must reach our message, not a player error.
                limit = f" (up to {_size_text(max_file_size)})" if max_file_size is not None else ""
                upload = gr.File(label=f"Video{limit}", file_types=["video", ".yuv", ".y4m"], type="filepath",
                                 elem_id="video-input")
                button = gr.Button("Score", variant="primary", elem_id="score-button")
            with gr.Column(scale=2):
                summary = gr.Markdown(EMPTY_MESSAGE, elem_id="score-summary")
                # No heading: the prompt the video matches best is not its level (the MOS band above is).
                levels = gr.Label(label="Prompt similarity (softmax over the quality prompts; not the level)",
                                  num_top_classes=len(scorer.level_names), show_heading=False,
                                  elem_id="level-probabilities")
        curve = gr.Plot(label="Quality over time (per segment)", elem_id="temporal-curve")
        gr.Markdown(TEMPORAL_NOTE, elem_id="temporal-note")
        frames = gr.Gallery(label="Frames the model looked at", columns=min(8, scorer.pipe.video_processor.num_frames),
                            height="auto", elem_id="sampled-frames", object_fit="contain")
        if example_files:
            with upload.parent:  # under the upload box; a click scores the example at once
                gr.Examples(examples=[[path] for path in example_files], inputs=[upload],
                            outputs=[summary, levels, curve, frames], fn=score, run_on_click=True,
                            cache_examples=False, label="Examples (click one to score it)")
        button.click(score, inputs=[upload], outputs=[summary, levels, curve, frames])
        upload.upload(score, inputs=[upload], outputs=[summary, levels, curve, frames])
    demo.queue(max_size=max_queue)
    return demo


def launch_demo(model: str | os.PathLike, *, examples: Sequence[str | os.PathLike] | None = None,
                device: str | None = None, server_name: str | None = "127.0.0.1", server_port: int | None = None,
                max_file_size: str | int | None = DEFAULT_MAX_FILE_SIZE, max_queue: int | None = DEFAULT_MAX_QUEUE,
                **launch_kwargs: Any) -> Any:
    """Build and launch the app (blocks until interrupted, like `gradio app.py`), with the upload limit and the
    queue bound of [`build_demo`]. `server_name` / `server_port` `None`: Gradio's `GRADIO_SERVER_NAME` /
    `GRADIO_SERVER_PORT` (what a Space sets)."""
    demo = build_demo(model, examples=examples, device=device, max_file_size=max_file_size, max_queue=max_queue)
    return demo.launch(server_name=server_name, server_port=server_port, share=False, max_file_size=max_file_size,
                       **launch_kwargs)


def _size_text(size: str | int) -> str:
    """`"200MB"` -> `"200 MB"`, `1048576` -> `"1048576 bytes"`: the limit as the page states it."""
    if isinstance(size, int):
        return f"{size} bytes"
    number = size.strip().rstrip("bBkKmMgGtT").strip()
    return f"{number} {size.strip()[len(number):].strip().upper()}"


__all__ = ["DEFAULT_MAX_FILE_SIZE", "DEFAULT_MAX_QUEUE", "EMPTY_MESSAGE", "build_demo", "launch_demo",
           "level_display", "undecodable_message"]
