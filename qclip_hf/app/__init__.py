"""The demo app: a Gradio page that scores an uploaded (or example) video with a Q-CLIP model.

`pip install "qclip-hf[app]"`, then `qclip-vqa app --model DIR_OR_ID` (or `python app.py` in a Hugging Face Space).
`gradio` is imported only when the app is built.

- `scoring`: one video -> MOS and level (calibrated models), raw score, prompt similarities, temporal curve, frames;
- `interface`: the Gradio Blocks page around it.
"""

from .interface import DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_QUEUE, build_demo, launch_demo
from .scoring import VideoScorer

__all__ = ["DEFAULT_MAX_FILE_SIZE", "DEFAULT_MAX_QUEUE", "VideoScorer", "build_demo", "launch_demo"]
