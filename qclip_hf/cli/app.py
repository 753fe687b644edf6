"""`qclip-vqa app --model DIR_OR_ID`: the Gradio demo app (needs `pip install "qclip-hf[app]"`).

Nothing heavy is imported at module level (the top-level parser must start fast); see `run_app`.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_app_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "app",
        help="start the demo web app (Gradio): upload a video, see its score, levels, curve and frames",
        description=(
            "Start a local web page that scores an uploaded (or example) video with a Q-CLIP model and shows the "
            "MOS and its level (when the model is calibrated), the raw score, the prompt similarities, the temporal "
            'quality curve and the frames the model sampled. Needs Gradio: pip install "qclip-hf[app]".'
        ),
    )
    parser.add_argument("--model", required=True, help="Hub id or directory of a saved Q-CLIP model")
    parser.add_argument("--examples", nargs="*", default=None,
                        help="example videos (files or folders) offered on the page")
    parser.add_argument("--server_name", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 to serve the network)")
    parser.add_argument("--server_port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    parser.set_defaults(func=run_app)
    return parser


def run_app(args: argparse.Namespace) -> int:
    """Run `app` with parsed arguments: serves until interrupted (Ctrl+C), then returns 0."""
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise ValueError('the app needs Gradio, which is not installed — run: pip install "qclip-hf[app]"')
    if not 0 < args.server_port < 65536:
        raise ValueError(f"--server_port must be in 1..65535, got {args.server_port}")
    from ..app import launch_demo

    print(f"starting the app on http://{args.server_name}:{args.server_port} (Ctrl+C to stop)", flush=True)
    launch_demo(args.model, examples=args.examples, device=args.device, server_name=args.server_name,
                server_port=args.server_port)
    return 0


__all__ = ["add_app_parser", "run_app"]
