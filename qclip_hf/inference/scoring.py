"""Error-tolerant, resumable batch scoring of videos with a [`VideoQualityPipeline`], on one or N processes.

The pipeline's own `__call__` stops at the first unreadable file, as every transformers pipeline does. Here each
input is preprocessed on its own (in DataLoader workers when `num_workers > 0`), an input that raises is recorded
with its error, and the readable ones are batched through the pipeline's `forward` and `postprocess`: the same
scoring as `pipe(paths, batch_size=...)`, file by file identical.

Resume: a row of an earlier run into the same output is reused only when its resume key (file identity, model
fingerprint, scoring options; see :mod:`.resume_key`) matches; every other input is scored (again).

Under `accelerate launch` (N processes) each rank scores the rank-strided shard `todo[rank::N]`, writes its rows to
its own journal, and the main process merges the journals into the one output: every input exactly once, whatever
the number of processes (see :mod:`.results`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..pipelines.video_quality import VideoQualityPipeline, collate_model_inputs
from .names import encode_path
from .results import JournalWriter, check_output, merge_results, previous_rows, result_row
from .resume_key import file_identity, model_fingerprint, run_key, scoring_options


def _needs_file_object(path: str) -> bool:
    # Names that are not valid UTF-8 reach Python as str with lone surrogates, which torchcodec's C++ binding
    # rejects; an open binary file (its `.name` still names the file in errors) decodes with either backend.
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return not path.lower().endswith(".yuv")
    return False


class _PreprocessedFiles(Dataset):
    """Item `i`: `(path, model_inputs, None)` or `(path, None, error message)` for an input that cannot be read."""

    def __init__(self, pipe: VideoQualityPipeline, files: Sequence[str], preprocess_params: dict[str, Any]):
        self.pipe, self.files, self.params = pipe, list(files), preprocess_params

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[str, dict[str, torch.Tensor] | None, str | None]:
        path = self.files[index]
        try:
            with contextlib.ExitStack() as stack:
                video = stack.enter_context(open(path, "rb")) if _needs_file_object(path) else path
                return path, self.pipe.preprocess(video, **self.params), None
        except Exception as error:  # noqa: BLE001 — any failure of one input is that input's result, not the run's
            return path, None, f"{type(error).__name__}: {error}"


def _keep_items(items: list) -> list:
    return items


def iter_scored_rows(
    pipe: VideoQualityPipeline,
    files: Sequence[str],
    batch_size: int = 1,
    num_workers: int = 0,
    identities: dict[str, dict[str, Any]] | None = None,
    key: str | None = None,
    **pipeline_params: Any,
) -> Iterator[list[dict[str, Any]]]:
    """Score `files` and yield the result rows batch by batch (failed inputs included, with their error).

    Args:
        pipe ([`VideoQualityPipeline`]): the pipeline (its model, processor and device).
        files (`Sequence[str]`): video paths or URLs.
        batch_size (`int`, *optional*, defaults to 1): videos per forward pass.
        num_workers (`int`, *optional*, defaults to 0): DataLoader workers decoding ahead of the model.
        identities (`dict`, *optional*): `file_identity` per path, stored in the rows (for resuming).
        key (`str`, *optional*): the run key stored in the rows (for resuming).
        pipeline_params: `num_frames`, `sampling_strategy`, `return_temporal`, `num_segments`.

    Example:
        ```python
        >>> for rows in iter_scored_rows(pipe, ["a.mp4", "broken.mp4"], batch_size=8):  # doctest: +SKIP
        ...     print([(r["path"], r["status"]) for r in rows])
        ```
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be a non-negative int, got {num_workers!r}")
    identities = identities or {}
    preprocess_params, forward_params, postprocess_params = pipe._sanitize_parameters(**pipeline_params)
    preprocess_params = {**pipe._preprocess_params, **preprocess_params}
    loader = DataLoader(_PreprocessedFiles(pipe, files, preprocess_params), batch_size=batch_size,
                        num_workers=num_workers, collate_fn=_keep_items)
    for items in loader:
        rows: dict[int, dict[str, Any]] = {}
        good = [(i, path, inputs) for i, (path, inputs, _) in enumerate(items) if inputs is not None]
        for i, (path, inputs, error) in enumerate(items):
            if inputs is None:
                rows[i] = result_row(path, error=error, identity=identities.get(path), key=key)
        if good:
            outputs = pipe.forward(collate_model_inputs([inputs for _, _, inputs in good]), **forward_params)
            for j, (i, path, _) in enumerate(good):
                single = {name: value[j:j + 1] for name, value in outputs.items()}
                rows[i] = result_row(path, pipe.postprocess(single, **postprocess_params),
                                     identity=identities.get(path), key=key)
        yield [rows[i] for i in range(len(items))]


@dataclass
class ScoringSummary:
    """Counts of one run.

    `new`: inputs with no row in the output; `rescored`: inputs whose earlier row did not match the resume key (or
    had failed); `reused`: inputs whose earlier row matched and was kept. `ok` / `failed`: outcome of the inputs
    scored in this run (the summary line counts the reused rows, all scored fine, among the ok ones).
    `skipped_files`: files in the walked folders that are not videos; `missing_inputs`: paths and patterns that
    named nothing (both set by the caller).
    """

    total: int
    ok: int
    failed: int
    reused: int
    rescored: int
    new: int
    seconds: float
    output: str
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped_files: int = 0
    missing_inputs: int = 0

    @property
    def videos_per_second(self) -> float:
        """Videos scored (successfully) in this run per second; 0 when none was."""
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """The one-line summary the CLI prints: every input's state after the run (reused rows count as ok), how
        many were scored now, and the rate of those only.

        Example:
            ```python
            >>> summary = ScoringSummary(total=13, ok=0, failed=1, reused=12, rescored=0, new=1, seconds=2.0,
            ...                          output="s.csv")
            >>> summary.line()
            '13 videos: 1 new, 0 rescored, 12 reused; 12 ok, 1 failed in 2.0 s (none scored) -> s.csv'
            ```
        """
        extra = ""
        if self.missing_inputs:
            extra += f"; {_count(self.missing_inputs, 'input')} not found"
        if self.skipped_files:
            extra += f"; {self.skipped_files} non-video {'file' if self.skipped_files == 1 else 'files'} skipped"
        if self.ok:
            rate = f"{self.videos_per_second:.2f} videos/s"
        else:
            rate = "none scored" if self.failed else "nothing to score"
        return (f"{_count(self.total, 'video')}: {self.new} new, {self.rescored} rescored, {self.reused} reused; "
                f"{self.ok + self.reused} ok, {self.failed} failed{extra} in {self.seconds:.1f} s ({rate}) -> "
                f"{encode_path(self.output)}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def plan_resume(
    files: Sequence[str], previous: dict[str, dict[str, Any]], identities: dict[str, dict[str, Any]], key: str
) -> tuple[list[str], dict[str, str]]:
    """Which inputs to score and why: `(todo, reason)` where `reason[path]` is `"new"`, `"rescored"` or `"reused"`.

    A previous row is reused only if it succeeded and its `run_key`, `size` and `mtime_ns` all equal this run's.
    """
    reasons: dict[str, str] = {}
    for path in files:
        row = previous.get(encode_path(path))
        identity = identities[path]
        if row is None:
            reasons[path] = "new"
        elif (row.get("status") == "ok" and row.get("run_key") == key and row.get("size") == identity["size"]
              and row.get("mtime_ns") == identity["mtime_ns"]):
            reasons[path] = "reused"
        else:
            reasons[path] = "rescored"
    return [path for path in files if reasons[path] != "reused"], reasons


def score_to_file(
    pipe: VideoQualityPipeline,
    files: Sequence[str],
    output: str,
    batch_size: int = 1,
    num_workers: int = 0,
    state: Any = None,
    progress: bool = True,
    fingerprint: dict[str, Any] | None = None,
    **pipeline_params: Any,
) -> ScoringSummary:
    """Score `files` into `output` (`.csv`, `.jsonl` or `.parquet`), resuming, on one or all launched processes.

    Rows of an earlier run are reused when their resume key matches (see :mod:`.resume_key`); everything else is
    scored. With `state` (an `accelerate.PartialState`) of N processes, every process must call this with the same
    `files`; each scores its shard and the main process writes the merged output. In one process, an exception
    (KeyboardInterrupt included) still merges what was scored into `output` and leaves no journal behind.

    Args:
        fingerprint (`dict`, *optional*): `model_fingerprint(...)` of the model (default: computed from
            `pipe.model`); the CLI passes the one of the id or folder it loaded.

    Example:
        ```python
        >>> summary = score_to_file(pipe, discover_inputs(["clips/"]).inputs, "results.csv", batch_size=8)  # doctest: +SKIP
        >>> print(summary.line())  # doctest: +SKIP
        ```
    """
    check_output(output)  # fail before any work on a bad output
    rank, world = (state.process_index, state.num_processes) if state is not None else (0, 1)
    is_main = rank == 0
    start = time.perf_counter()
    fingerprint = fingerprint or model_fingerprint(pipe.model)
    options = scoring_options(pipe, **pipeline_params)
    key = run_key(fingerprint, options)
    # The run's frame choice, in every row: a report of this output shows the frames these scores came from.
    sampling = {name: options["processor"].get(name) for name in ("num_frames", "sampling_strategy")}
    identities = {path: file_identity(path) for path in files}
    if is_main:
        merge_results(output)  # fold journals of an interrupted run in first, so this run's rows are the newest
    if state is not None:
        state.wait_for_everyone()
    todo, reasons = plan_resume(files, previous_rows(output), identities, key)
    if state is not None:
        # Every rank must have read the same rows before any rank appends to its journal.
        state.wait_for_everyone()
    shard = todo[rank::world]
    journal = JournalWriter(output, rank)
    bar = tqdm(total=len(shard), unit="video", disable=not (progress and is_main and shard),
               desc=f"scoring{f' (rank 0 of {world})' if world > 1 else ''}")
    try:
        for rows in iter_scored_rows(pipe, shard, batch_size=batch_size, num_workers=num_workers,
                                     identities=identities, key=key, **pipeline_params):
            journal.write([{**row, **sampling} for row in rows])
            bar.update(len(rows))
    finally:
        bar.close()
        journal.close()
        if world == 1:
            merge_results(output)  # also on an exception: keep what was scored, leave no journal behind
    if state is not None:
        state.wait_for_everyone()
        if is_main:
            merge_results(output)
        state.wait_for_everyone()
    seconds = time.perf_counter() - start
    rows = previous_rows(output)
    attempted = [rows.get(encode_path(path)) for path in todo]
    failures = [(row["path"], row["error"]) for row in attempted if row is not None and row["status"] != "ok"]
    counts = {reason: sum(1 for r in reasons.values() if r == reason) for reason in ("new", "rescored", "reused")}
    return ScoringSummary(total=len(files), ok=len(todo) - len(failures), failed=len(failures), seconds=seconds,
                          output=output, failures=failures, **counts)


__all__ = ["ScoringSummary", "iter_scored_rows", "plan_resume", "score_to_file"]
