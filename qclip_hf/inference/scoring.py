"""Error-tolerant batch scoring of video files with a [`VideoQualityPipeline`], on one or N processes.

The pipeline's own `__call__` stops at the first unreadable file, as every transformers pipeline does. Here each
file is preprocessed on its own (in DataLoader workers when `num_workers > 0`), a file that raises is recorded
with its error, and the readable ones are batched through the pipeline's `forward` and `postprocess`: the same
scoring as `pipe(paths, batch_size=...)`, file by file identical.

Under `accelerate launch` (N processes) each rank scores the rank-strided shard `todo[rank::N]` of the files not
done yet, writes its rows to its own journal, and the main process merges the journals into the one output: every
file exactly once, whatever the number of processes (see :mod:`.results`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..pipelines.video_quality import VideoQualityPipeline, collate_model_inputs
from .results import JournalWriter, completed_paths, merge_results, output_format, read_rows, result_row


class _PreprocessedFiles(Dataset):
    """Item `i`: `(path, model_inputs, None)` or `(path, None, error message)` for a file that cannot be read."""

    def __init__(self, pipe: VideoQualityPipeline, files: Sequence[str], preprocess_params: dict[str, Any]):
        self.pipe, self.files, self.params = pipe, list(files), preprocess_params

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[str, dict[str, torch.Tensor] | None, str | None]:
        path = self.files[index]
        try:
            return path, self.pipe.preprocess(path, **self.params), None
        except Exception as error:  # noqa: BLE001 — any failure of one file is that file's result, not the run's
            return path, None, f"{type(error).__name__}: {error}"


def _keep_items(items: list) -> list:
    return items


def iter_scored_rows(
    pipe: VideoQualityPipeline,
    files: Sequence[str],
    batch_size: int = 1,
    num_workers: int = 0,
    **pipeline_params: Any,
) -> Iterator[list[dict[str, Any]]]:
    """Score `files` and yield the result rows batch by batch (failed files included, with their error).

    Args:
        pipe ([`VideoQualityPipeline`]): the pipeline (its model, processor and device).
        files (`Sequence[str]`): video paths.
        batch_size (`int`, *optional*, defaults to 1): videos per forward pass.
        num_workers (`int`, *optional*, defaults to 0): DataLoader workers decoding ahead of the model.
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
    preprocess_params, forward_params, postprocess_params = pipe._sanitize_parameters(**pipeline_params)
    preprocess_params = {**pipe._preprocess_params, **preprocess_params}
    loader = DataLoader(_PreprocessedFiles(pipe, files, preprocess_params), batch_size=batch_size,
                        num_workers=num_workers, collate_fn=_keep_items)
    for items in loader:
        rows: dict[int, dict[str, Any]] = {}
        good = [(i, path, inputs) for i, (path, inputs, _) in enumerate(items) if inputs is not None]
        for i, (path, inputs, error) in enumerate(items):
            if inputs is None:
                rows[i] = {"path": path, "status": "failed", "score": None, "error": error}
        if good:
            outputs = pipe.forward(collate_model_inputs([inputs for _, _, inputs in good]), **forward_params)
            for j, (i, path, _) in enumerate(good):
                single = {key: value[j:j + 1] for key, value in outputs.items()}
                rows[i] = result_row(path, pipe.postprocess(single, **postprocess_params))
        yield [rows[i] for i in range(len(items))]


@dataclass
class ScoringSummary:
    """Counts of one run. `skipped`: already scored by an earlier run of the same output (resume)."""

    total: int
    ok: int
    failed: int
    skipped: int
    seconds: float
    output: str
    failures: list[tuple[str, str]]

    @property
    def videos_per_second(self) -> float:
        attempted = self.ok + self.failed
        return attempted / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        return (f"{self.total} files: {self.ok} ok, {self.failed} failed, {self.skipped} skipped (already done) "
                f"in {self.seconds:.1f} s ({self.videos_per_second:.2f} videos/s) -> {self.output}")


def score_to_file(
    pipe: VideoQualityPipeline,
    files: Sequence[str],
    output: str,
    batch_size: int = 1,
    num_workers: int = 0,
    state: Any = None,
    progress: bool = True,
    **pipeline_params: Any,
) -> ScoringSummary:
    """Score `files` into `output` (`.csv`, `.jsonl` or `.parquet`), resuming, on one or all launched processes.

    Files already scored successfully in `output` (or in journals left by an interrupted run) are skipped; failed
    ones are tried again. With `state` (an `accelerate.PartialState`) of N processes, every process must call
    this with the same `files`; each scores its shard and the main process writes the merged output.

    Example:
        ```python
        >>> summary = score_to_file(pipe, collect_video_files(["clips/"]), "results.csv", batch_size=8)  # doctest: +SKIP
        >>> print(summary.line())  # doctest: +SKIP
        ```
    """
    output_format(output)  # fail before any work on a bad extension
    rank, world = (state.process_index, state.num_processes) if state is not None else (0, 1)
    is_main = rank == 0
    start = time.perf_counter()
    done = completed_paths(output)
    todo = [path for path in files if path not in done]
    if state is not None:
        # Every rank must have read the same `done` before any rank appends to its journal.
        state.wait_for_everyone()
    shard = todo[rank::world]
    with JournalWriter(output, rank) as journal, tqdm(total=len(shard), unit="video", disable=not (progress and is_main),
                                                      desc=f"scoring{f' (rank 0 of {world})' if world > 1 else ''}") as bar:
        for rows in iter_scored_rows(pipe, shard, batch_size=batch_size, num_workers=num_workers, **pipeline_params):
            journal.write(rows)
            bar.update(len(rows))
    if state is not None:
        state.wait_for_everyone()
    if is_main:
        merge_results(output)
    if state is not None:
        state.wait_for_everyone()
    seconds = time.perf_counter() - start
    attempted = set(todo)
    rows = [row for row in read_rows(output) if row["path"] in attempted]
    failures = [(row["path"], row["error"]) for row in rows if row["status"] != "ok"]
    return ScoringSummary(total=len(files), ok=len(rows) - len(failures), failed=len(failures),
                          skipped=len(files) - len(todo), seconds=seconds, output=output, failures=failures)


__all__ = ["ScoringSummary", "iter_scored_rows", "score_to_file"]
