"""The Q-CLIP demo app, ready for a Hugging Face Space (`sdk: gradio`, `app_file: app.py`).

Locally: `python app.py` (or `qclip-vqa app --model DIR_OR_ID`). In a Space, add a `requirements.txt` that installs
this package with its app extra (`qclip-hf[app]`) and set the Space variable `QCLIP_MODEL` to the model's Hub id.

Environment variables:
    QCLIP_MODEL: Hub id or directory of a saved Q-CLIP model (default: the model `make demo` trains).
    QCLIP_EXAMPLES: example videos or folders, separated by the OS path separator (default: `examples/` beside
        this file, else a few held-out videos of `make demo`, from pristine to the most degraded).
    QCLIP_MAX_FILE_SIZE: the largest upload, e.g. `50MB` (default 200MB; `none`: no limit).
    QCLIP_MAX_QUEUE: scoring requests that may wait before visitors are told the queue is full (default 20).
    GRADIO_SERVER_NAME / GRADIO_SERVER_PORT: where to listen (Gradio's own variables; a Space sets them).
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
# What `make demo` writes (training/demo.py): the selected epoch's model, and the held-out test videos.
DEMO_MODELS = [HERE / "outputs" / "demo" / "run" / name for name in ("best", "final", "last")]
DEMO_EXAMPLES = HERE / "outputs" / "demo" / "synthetic_vqa" / "test"
MAX_DEFAULT_EXAMPLES = 6


def default_model() -> str:
    if os.environ.get("QCLIP_MODEL"):
        return os.environ["QCLIP_MODEL"]
    for path in DEMO_MODELS:
        if (path / "config.json").is_file():
            return str(path)
    raise SystemExit("app.py: no model — set QCLIP_MODEL to a Hub id or a saved model directory, "
                     "or run `make demo` first to train the demo model")


def default_examples() -> list[str]:
    if os.environ.get("QCLIP_EXAMPLES"):
        return [entry for entry in os.environ["QCLIP_EXAMPLES"].split(os.pathsep) if entry]
    if (HERE / "examples").is_dir():
        return [str(HERE / "examples")]
    return demo_examples(DEMO_EXAMPLES)


def demo_examples(folder: Path, count: int = MAX_DEFAULT_EXAMPLES) -> list[str]:
    """`count` held-out videos of the generated dataset (`folder/metadata.csv`, videos in one sub-folder per
    source), spread over the MOS range from the best to the worst, so the examples show what the score does."""
    import csv

    metadata = folder / "metadata.csv"
    if not metadata.is_file():
        return []
    with metadata.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if (folder / row["file_name"]).is_file()]
    rows.sort(key=lambda row: (-float(row["mos"]), row["file_name"]))
    if len(rows) > count:  # evenly spaced ranks, the best and the worst included
        rows = [rows[round(i * (len(rows) - 1) / (count - 1))] for i in range(count)]
    return [str(folder / row["file_name"]) for row in rows]


def main() -> None:
    from qclip_hf.app import DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_QUEUE, build_demo

    max_file_size = os.environ.get("QCLIP_MAX_FILE_SIZE", DEFAULT_MAX_FILE_SIZE)
    max_file_size = None if max_file_size.strip().lower() == "none" else max_file_size.strip()
    demo = build_demo(default_model(), examples=default_examples(), max_file_size=max_file_size,
                      max_queue=int(os.environ.get("QCLIP_MAX_QUEUE", DEFAULT_MAX_QUEUE)) or None)
    # Server name and port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (Spaces set them).
    demo.launch(max_file_size=max_file_size)


if __name__ == "__main__":
    main()
