"""Run `training/train.py` several times with test hooks: real runs, perturbed or interrupted on purpose.

    python tests/training/hooked_train.py PLAN.json

PLAN.json is a list of runs, done one after the other; each is `{"args": [TRAIN_ARGS...]}` plus optional hooks:

- `"forward_chunks": N`: the model scores each training batch in N consecutive shares of `ceil(n / N)` videos (the
  shares N processes would score, see `GlobalBatchSampler`) instead of all at once. Mathematically the same run;
  only the order of float sums differs (batched matrix products, gradient sums over the batch), so its difference
  to an unchunked run measures the rounding noise of splitting a batch.
- `"kill_at": [PATTERN, ...]`: SIGKILL the run (no clean-up, no `finally`, like a power loss or the OOM killer) at
  the first file-system event that matches one of the patterns. Events are those Python's audit hooks report
  (`sys.addaudithook`, called before the operation runs) on a checkpoint directory (`step_N`, `step_N.tmp`, ...):
  `open` (for writing), `mkdir`, `remove`, `rmdir`, `rename`, `rmtree`, `copytree`, each named by its kind and its
  paths relative to `--output_dir`, e.g. `open step_4.tmp/best/model.safetensors`. Removals inside an `rmtree` are
  named inside the removed directory (`remove step_2/optimizer.bin`). A pattern is an `fnmatch` pattern, optionally
  followed by `#K` for its K-th match. Before a kill at an `open`, the file is created empty: what a process killed
  between creating a file and writing it leaves behind.
- `"trace": FILE`: append every such event, one per line, to FILE.
- `"snapshot": DIR`: after the run ends (or is killed), copy `--output_dir` to DIR, as the run left it.
- `"log": FILE`: the run's stdout and stderr go to FILE.

Each run is a child process forked from this one (which imports the training script and its libraries once, runs no
computation, and so forks safely), so the runs cost one start-up. The outcome of each run (its exit code, or
`-9` when killed, and the event it was killed at) is printed as one JSON line per run on stdout.

Not a test module: `tests/training/test_*.py` start it as a subprocess.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import math
import os
import shutil
import signal
import sys
import traceback
from pathlib import Path

TRAIN_SCRIPT = Path(__file__).resolve().parents[2] / "training" / "train.py"
_KINDS = {"open": "open", "os.mkdir": "mkdir", "os.remove": "remove", "os.rmdir": "rmdir", "os.rename": "rename",
          "shutil.rmtree": "rmtree", "shutil.copytree": "copytree"}


def _is_write_open(mode, flags) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))


def install_checkpoint_hook(output_dir: str, kill_at: list[str], trace: str | None) -> None:
    """Name the file-system events on checkpoint directories; SIGKILL this process at the first one matching
    `kill_at` (see the module docstring)."""
    root = os.path.abspath(output_dir) + os.sep
    patterns = []
    for pattern in kill_at:
        glob, _, nth = pattern.partition("#")
        patterns.append([glob, int(nth or 1)])
    trace_handle = open(trace, "a", buffering=1) if trace else None  # opened before the hook exists: not an event
    removing: list[str] = []  # the directories an rmtree in progress is emptying (it removes by name + dir_fd)
    busy = False

    def relative(path) -> str | None:
        path = os.fsdecode(path)
        if not os.path.isabs(path):
            return f"{removing[-1]}/{path}" if removing else None
        path = os.path.abspath(path)
        return path[len(root):] if path.startswith(root) else None

    def hook(event: str, args: tuple) -> None:
        nonlocal busy
        kind = _KINDS.get(event)
        if kind is None or busy:
            return
        if kind == "open":
            if not isinstance(args[0], (str, bytes, os.PathLike)) or not _is_write_open(args[1], args[2]):
                return
            paths = [args[0]]
        elif kind in ("rename", "copytree"):
            paths = list(args[:2])
        else:
            paths = [args[0]]
        names = [relative(p) for p in paths if isinstance(p, (str, bytes, os.PathLike))]
        if not names or None in names or not any(name.startswith("step_") for name in names):
            return
        if kind == "rmtree":
            removing.append(names[0])
        elif kind == "rmdir" and removing and names[0] == removing[-1]:
            removing.pop()
        description = f"{kind} {' '.join(names)}"
        if trace_handle is not None:
            trace_handle.write(description + "\n")
        for entry in patterns:
            if fnmatch.fnmatchcase(description, entry[0]):
                entry[1] -= 1
                if entry[1] == 0:
                    busy = True
                    if kind == "open":
                        open(os.fsdecode(paths[0]), "wb").close()
                    sys.stderr.write(f"hooked_train: killed at {description}\n")
                    sys.stderr.flush()
                    os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)


def install_chunked_forward(chunks: int) -> None:
    """Score each training batch in `chunks` shares of `ceil(n / chunks)` videos and concatenate the scores."""
    import torch

    from qclip_hf import QClipModel
    from qclip_hf.models.qclip.modeling_qclip import QClipOutput

    forward = QClipModel.forward

    def chunked(self, pixel_values_videos, *args, **kwargs):
        if not self.training or pixel_values_videos.shape[0] < 2:
            return forward(self, pixel_values_videos, *args, **kwargs)
        size = math.ceil(pixel_values_videos.shape[0] / chunks)
        parts = [forward(self, part, *args, **kwargs) for part in pixel_values_videos.split(size)]
        return QClipOutput(scores=torch.cat([part.scores for part in parts]))

    QClipModel.forward = chunked


def _output_dir(args: list[str]) -> str:
    return args[args.index("--output_dir") + 1]


def _child(train, run: dict) -> None:
    """The body of one forked run; never returns."""
    code = 0
    if run.get("log"):
        log = os.open(run["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
    try:
        if run.get("kill_at") or run.get("trace"):
            install_checkpoint_hook(_output_dir(run["args"]), run.get("kill_at") or [], run.get("trace"))
        if run.get("forward_chunks"):
            install_chunked_forward(run["forward_chunks"])
        train.main(run["args"])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except train.QClipError as error:  # as train.py's own __main__ block
        print(f"error: {error}", file=sys.stderr)
        code = 2
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    spec = importlib.util.spec_from_file_location("train", TRAIN_SCRIPT)
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)  # imports torch, transformers, accelerate, qclip_hf: once for every run
    for run in plan:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(train, run)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if run.get("snapshot"):
            shutil.copytree(_output_dir(run["args"]), run["snapshot"], symlinks=True)
        print(json.dumps({"output_dir": _output_dir(run["args"]), "returncode": code}), flush=True)


if __name__ == "__main__":
    main()
