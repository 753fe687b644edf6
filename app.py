"""The Q-CLIP demo app, ready for a Hugging Face Space (`sdk: gradio`, `app_file: app.py`).

Locally: `python app.py` (or `qclip-vqa app --model DIR_OR_ID`). In a Space, add a `requirements.txt` that installs
this package with its app extra (`qclip-hf[app]`) and set the Space variable `QCLIP_MODEL` to the model's Hub id.

Environment variables:
    QCLIP_MODEL: Hub id or directory of a saved Q-CLIP model (default: the model `make demo` trains).
    QCLIP_EXAMPLES: example videos or folders, separated by the OS path separator (default: `examples/` beside
        this file, else a few held-out videos of `make demo`).
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
    if DEMO_EXAMPLES.is_dir():
        return [str(path) for path in sorted(DEMO_EXAMPLES.glob("*.mp4"))[:: 5][:MAX_DEFAULT_EXAMPLES]]
    return []


def main() -> None:
    from qclip_hf.app import build_demo

    demo = build_demo(default_model(), examples=default_examples())
    demo.launch()  # server name and port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (Spaces set them)


if __name__ == "__main__":
    main()
