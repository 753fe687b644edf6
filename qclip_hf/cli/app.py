"""`qclip-vqa app --model DIR_OR_ID`: the Gradio demo app (needs `pip install "qclip-hf[app]"`).

Nothing heavy is imported at module level (the top-level parser must start fast); see `run_app`.
"""

from __future__ import annotations

import argparse
import errno
import socket
import time
from typing import Any

# Kept equal to qclip_hf.app.interface's defaults (not imported: the parser must build without Gradio).
DEFAULT_MAX_FILE_SIZE = "200MB"
DEFAULT_MAX_QUEUE = 20


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
    parser.add_argument("--max_file_size", default=DEFAULT_MAX_FILE_SIZE, metavar="SIZE",
                        help=f"largest upload, e.g. 50MB, 2GB (default {DEFAULT_MAX_FILE_SIZE}); a larger file is "
                             "refused with a message in the page, before it reaches the disk; 'none': no limit")
    parser.add_argument("--max_queue", type=int, default=DEFAULT_MAX_QUEUE, metavar="N",
                        help=f"scoring requests that may wait (default {DEFAULT_MAX_QUEUE}); a visitor beyond them "
                             "is told the queue is full; 0: no bound")
    parser.set_defaults(func=run_app)
    return parser


def run_app(args: argparse.Namespace) -> int:
    """Run `app` with parsed arguments: serves until interrupted (Ctrl+C), then returns 0.

    Everything that can fail is checked before the line saying where the app serves: Gradio installed, the port
    free, the limits valid, the model loadable (the model is loaded before the server starts).
    """
    import importlib.util

    from ..errors import QClipError

    if importlib.util.find_spec("gradio") is None:
        raise ValueError('the app needs Gradio, which is not installed — run: pip install "qclip-hf[app]"')
    if not 0 < args.server_port < 65536:
        raise ValueError(f"--server_port must be in 1..65535, got {args.server_port}")
    max_file_size = _max_file_size(args.max_file_size)
    if args.max_queue < 0:
        raise QClipError(f"--max_queue must be >= 0, got {args.max_queue}", "pass a positive number (0: no bound)")
    check_port(args.server_name, args.server_port)
    from ..models.qclip.checks_qclip import check_saved_model

    check_saved_model(args.model)  # a wrong --model fails in a second, before torch and Gradio load
    from ..app import build_demo

    demo = build_demo(args.model, examples=args.examples, device=args.device, max_file_size=max_file_size,
                      max_queue=args.max_queue or None)
    try:
        # quiet: Gradio's own lines ("Running on local URL", "set share=True in launch()") are not for CLI users.
        demo.launch(server_name=args.server_name, server_port=args.server_port, share=False, quiet=True,
                    prevent_thread_lock=True, max_file_size=max_file_size)
    except OSError as error:  # the port was taken between the check and the start
        raise QClipError(f"cannot serve on {args.server_name}:{args.server_port} ({error})",
                         _port_fix(args)) from error
    limits = f"uploads up to {max_file_size or 'any size'}, queue of {args.max_queue or 'unbounded'}"
    print(f"serving the app on http://{args.server_name}:{args.server_port} ({limits}); Ctrl+C to stop", flush=True)
    try:
        while demo.is_running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        demo.close()
    return 0


def _max_file_size(text: str) -> str | None:
    """`--max_file_size` checked with Gradio's own parser (`<int><b|kb|mb|gb|tb>`); `none` for no limit."""
    from gradio.utils import _parse_file_size

    from ..errors import QClipError

    if text.strip().lower() == "none":
        return None
    try:
        _parse_file_size(text.strip())
    except (ValueError, KeyError) as error:
        raise QClipError(f"--max_file_size {text!r} is not a size", "write it like 200MB, 50mb or 2GB") from error
    return text.strip()


def check_port(server_name: str, server_port: int) -> None:
    """Raise `QClipError` (naming the CLI's own flag) when `server_port` is taken on `server_name`."""
    from ..errors import QClipError

    with socket.socket(socket.AF_INET6 if ":" in server_name else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no conflict
        try:
            probe.bind((server_name, server_port))
        except OSError as error:
            taken = error.errno in (errno.EADDRINUSE, errno.EACCES)
            raise QClipError(
                f"port {server_port} on {server_name} is {'already in use' if taken else 'not available'} "
                f"({error.strerror or error})",
                _port_fix(argparse.Namespace(server_name=server_name, server_port=server_port)),
            ) from error


def _port_fix(args: argparse.Namespace) -> str:
    return f"pass another port with --server_port, e.g. --server_port {_free_port(args.server_name, args.server_port)}"


def _free_port(server_name: str, start: int) -> int:
    """The first port after `start` that is free on `server_name` (for the message), else `start + 1`."""
    for port in range(start + 1, min(start + 100, 65536)):
        with socket.socket(socket.AF_INET6 if ":" in server_name else socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((server_name, port))
            except OSError:
                continue
            return port
    return start + 1


__all__ = ["add_app_parser", "check_port", "run_app"]
