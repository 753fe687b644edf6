"""Result files of a scoring run: one row per video in CSV, JSON Lines or Parquet, written so a run can resume.

While scoring, each process appends its rows to a journal beside the output (`<output>.rank<k>.partial.jsonl`,
flushed after every batch). At the end the main process merges the previous output and every journal into the
output file (written to a temporary name, then renamed; the temporary file is removed whatever happens) and
removes the journals. A run killed outright (power loss, SIGKILL) keeps its journals: the next run into the same
output merges them first, repairing a journal whose last line was cut (with a warning).

Row fields: `path` (see :mod:`.names` for names that are not plain text), `status` (`"ok"` / `"failed"`), `score`
(the raw score, the model's own scale), `mos` and `level` (the calibrated MOS and its band; empty for an
uncalibrated model), `error`, `substituted_frames` (frames that could not be decoded and were replaced by their
nearest decodable neighbour), `warnings` (the decoder's warnings, `"; "`-joined), `num_frames` and
`sampling_strategy` (the frames per video and the sampler the run used, so a report shows those frames), `size`,
`mtime_ns`, `run_key` (the resume key, see :mod:`.resume_key`), one `prompt_prob_<level>` per quality level (the
softmax of the video's similarity to each level prompt; `prob_<level>` in older files, renamed on reading) and,
with temporal scoring, `temporal` (the segment list; a JSON string in CSV and Parquet).
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import OutputError
from .names import encode_path, printable

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("csv", "jsonl", "parquet")
FIXED_COLUMNS = ("path", "status", "score", "mos", "level", "error", "substituted_frames", "warnings", "num_frames",
                 "sampling_strategy", "size", "mtime_ns", "run_key")
REQUIRED_COLUMNS = ("path", "status", "score")
STATUSES = ("ok", "failed")
WARNING_SEPARATOR = "; "
# The softmax of the prompt similarities, one column per level; result files before 0.2 named them `prob_<level>`.
PROMPT_PROB_PREFIX = "prompt_prob_"
_LEGACY_PROB_PREFIX = "prob_"
_INT_COLUMNS = ("substituted_frames", "num_frames", "size", "mtime_ns")


def output_format(path: str | os.PathLike) -> str:
    """The format of an output path, from its extension (`.csv`, `.jsonl`, `.parquet`).

    Raises:
        [`~qclip_hf.errors.OutputError`]: any other extension.
    """
    extension = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if extension not in OUTPUT_FORMATS:
        raise OutputError(
            f"output {printable(os.fspath(path))!r} has {'extension .' + extension if extension else 'no extension'}",
            f"name it with one of {', '.join('.' + f for f in OUTPUT_FORMATS)} (the format follows the extension)",
        )
    return extension


def check_output(path: str | os.PathLike) -> str:
    """Check, before any scoring, that `path` can receive results; return its format.

    The output must have a known extension, must not be a folder, its folder must be writable (it is created if
    missing), and an existing file must be a qclip-vqa result file (which the run then resumes), never an
    unrelated file that would be overwritten.

    Raises:
        [`~qclip_hf.errors.OutputError`]: naming the problem and what to do.
    """
    path = os.path.abspath(os.fspath(path))
    shown = printable(path)
    if os.path.isdir(path):
        raise OutputError(f"output {shown!r} is a folder", "pass a file name inside it, e.g. "
                          f"{printable(os.path.join(path, 'results.csv'))!r}")
    fmt = output_format(path)
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".qclip-write-check-"):
            pass
    except OSError as error:
        raise OutputError(f"cannot write to the output folder {printable(folder)!r} ({error.strerror or error})",
                          "choose a writable location for --output") from error
    if os.path.exists(path):
        columns = _existing_columns(path, fmt)
        if columns is not None and not set(REQUIRED_COLUMNS) <= set(columns):
            raise OutputError(
                f"output {shown!r} exists and is not a qclip-vqa result file (columns: "
                f"{', '.join(map(str, columns[:8])) or 'none'})",
                "choose another --output or remove that file; a result file of an earlier run is resumed",
            )
    return fmt


def _existing_columns(path: str, fmt: str) -> list[str] | None:
    """The columns of an existing output, `[]` when unreadable as `fmt`, `None` when empty (nothing to protect)."""
    if os.path.getsize(path) == 0:
        return None
    try:
        if fmt == "csv":
            with open(path, newline="", encoding="utf-8") as handle:
                return next(csv.reader(handle), [])
        if fmt == "jsonl":
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        row = json.loads(line)
                        return list(row) if isinstance(row, dict) else []
            return None
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 — any file we cannot parse as results is "not a result file"
        return []


def journal_path(output: str | os.PathLike, rank: int) -> str:
    return f"{os.fspath(output)}.rank{rank}.partial.jsonl"


def journal_paths(output: str | os.PathLike) -> list[str]:
    """Journals left beside `output` (by this run or an interrupted one)."""
    return sorted(glob.glob(glob.escape(os.fspath(output)) + ".rank*.partial.jsonl"))


def result_row(
    path: str,
    result: dict[str, Any] | None = None,
    error: BaseException | str | None = None,
    identity: dict[str, Any] | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """A result row from a pipeline output (`{"score", "mos", "level", "prompt_level_probs", ["temporal",
    "substituted_frames", "warnings"]}`) or from the error a file raised; `identity` (`file_identity`) and `key`
    (`run_key`) make it resumable. `mos` and `level` are empty for an uncalibrated model."""
    if (result is None) == (error is None):
        raise ValueError("result_row needs exactly one of `result` and `error`")
    identity = identity or {}
    row: dict[str, Any] = {"path": encode_path(path)}
    if error is not None:
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        row.update(status="failed", score=None, mos=None, level=None, error=printable(message),
                   substituted_frames=None, warnings=None)
    else:
        substituted = result.get("substituted_frames")
        warnings = result.get("warnings")
        mos = result.get("mos")
        row.update(status="ok", score=float(result["score"]), mos=float(mos) if mos is not None else None,
                   level=result.get("level"), error=None,
                   substituted_frames=int(substituted) if substituted is not None else None,
                   warnings=WARNING_SEPARATOR.join(printable(str(w)) for w in warnings) if warnings is not None
                   else None)
    row.update(size=identity.get("size"), mtime_ns=identity.get("mtime_ns"), run_key=key)
    if result is not None:
        row.update({f"{PROMPT_PROB_PREFIX}{level}": float(p) for level, p in result["prompt_level_probs"].items()})
        if "temporal" in result:
            row["temporal"] = result["temporal"]
    return row


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of an output file or journal (an empty list when it does not exist).

    A JSON Lines file whose lines do not all parse (a journal cut by a power loss) is read up to the damage,
    with a warning naming the file and line; those rows' files are scored again by the next run.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        return []
    fmt = "jsonl" if path.endswith(".partial.jsonl") else output_format(path)
    if fmt == "jsonl":
        return [_renamed(row) for row in _read_jsonl(path)]
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return [_renamed(_from_text(row)) for row in rows]
    import pyarrow.parquet as pq

    return [_renamed(_from_text(row)) for row in pq.read_table(path).to_pylist()]


def _renamed(row: dict[str, Any]) -> dict[str, Any]:
    """A row of an older result file with today's names: `prob_<level>` -> `prompt_prob_<level>`."""
    if not any(key.startswith(_LEGACY_PROB_PREFIX) for key in row):
        return row
    return {PROMPT_PROB_PREFIX + key[len(_LEGACY_PROB_PREFIX):] if key.startswith(_LEGACY_PROB_PREFIX) else key: value
            for key, value in row.items()}


def _read_jsonl(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = handle.read().split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or "path" not in row:
                raise ValueError("not a result row")
        except ValueError:
            where = "its last line" if number >= len(lines) - 1 else f"line {number}"
            logger.warning("%s: %s is cut or damaged (%d characters) and was dropped; its video is scored again",
                           printable(path), where, len(line))
            continue
        yield row


def _from_text(row: dict[str, Any]) -> dict[str, Any]:
    """Types back from CSV/Parquet cells: empty cells are `None`, numbers are numbers, `temporal` is parsed."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "warnings" and value == "":
            out[key] = "" if row.get("status") == "ok" else None
        elif value == "" or value is None:
            out[key] = None
        elif key == "temporal" and isinstance(value, str):
            out[key] = json.loads(value)
        elif (key in ("score", "mos") or key.startswith((PROMPT_PROB_PREFIX, _LEGACY_PROB_PREFIX))) \
                and isinstance(value, str):
            out[key] = float(value)
        elif key in _INT_COLUMNS and isinstance(value, (str, float)):
            out[key] = int(float(value)) if isinstance(value, float) else int(value)
        else:
            out[key] = value
    return out


def previous_rows(output: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The rows of the output and of leftover journals, one per path (the newest), keyed by the `path` column."""
    merged: dict[str, dict[str, Any]] = {}
    for source in [os.fspath(output), *journal_paths(output)]:
        for row in read_rows(source):
            merged[row["path"]] = row
    return merged


def completed_paths(output: str | os.PathLike) -> set[str]:
    """`path` column of the rows scored successfully by an earlier (possibly interrupted) run."""
    return {path for path, row in previous_rows(output).items() if row.get("status") == "ok"}


class JournalWriter:
    """Appends rows to one process's journal, flushed per batch so an interrupted run loses at most a batch."""

    def __init__(self, output: str | os.PathLike, rank: int) -> None:
        self.path = journal_path(output, rank)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._repair()
        self._handle = open(self.path, "a", encoding="utf-8")

    def _repair(self) -> None:
        # A leftover journal cut mid-line would glue its partial line to our first row: end it first.
        if os.path.exists(self.path) and os.path.getsize(self.path):
            with open(self.path, "rb+") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self._handle.write(json.dumps(row) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def merge_results(output: str | os.PathLike) -> list[dict[str, Any]]:
    """Merge the existing output and the journals into `output`; return the merged rows (sorted by path).

    One row per path, the newest (journals are newer than the output, later lines newer than earlier ones): a
    run only writes a row for a file it scored again, on purpose (see :mod:`.resume_key`). Journals are deleted
    once the output is written; the temporary file never outlives the call.
    """
    output = os.fspath(output)
    fmt = output_format(output)
    journals = journal_paths(output)
    merged = previous_rows(output)
    rows = [merged[path] for path in sorted(merged)]
    if not journals and os.path.exists(output):
        return rows  # nothing new: leave the file untouched
    folder, name = os.path.split(os.path.abspath(output))
    temporary = _new_temporary(folder, name, mode_of=output)
    try:
        _write(rows, temporary, fmt)
        os.replace(temporary, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
    for journal in journals:
        os.remove(journal)
    return rows


def _new_temporary(folder: str, name: str, mode_of: str) -> str:
    """An empty temporary file beside the output, with the permissions the output must end up with: those of the
    existing output, else what the umask gives any new file (0644 under the usual 022). `tempfile.mkstemp` would
    create it 0600, and the rename would keep that: colleagues and services could not read the results."""
    for _ in range(100):
        temporary = os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies
        except FileExistsError:
            continue
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, stat.S_IMODE(os.stat(mode_of).st_mode))
        return temporary
    raise OutputError(f"cannot create a temporary file in {printable(folder)!r}", "remove stale .*.tmp files there")


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    extra = sorted({key for row in rows for key in row if key.startswith(PROMPT_PROB_PREFIX)}, key=_level_order(rows))
    tail = ["temporal"] if any("temporal" in row for row in rows) else []
    return [*FIXED_COLUMNS, *extra, *tail]


def _level_order(rows: list[dict[str, Any]]):
    # Levels keep the model's order (excellent ... bad), not the alphabet's.
    order: dict[str, int] = {}
    for row in rows:
        for key in row:
            order.setdefault(key, len(order))
    return lambda key: order[key]


def _write(rows: list[dict[str, Any]], path: str, fmt: str) -> None:
    columns = _columns(rows)
    if fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps({c: row.get(c) for c in columns}) + "\n")
        return
    flat = [{c: json.dumps(row[c]) if c == "temporal" and row.get(c) is not None else row.get(c) for c in columns}
            for row in rows]
    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(flat)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"path": pa.string(), "status": pa.string(), "score": pa.float64(), "error": pa.string(),
             "substituted_frames": pa.int64(), "warnings": pa.string(), "num_frames": pa.int64(),
             "sampling_strategy": pa.string(), "size": pa.int64(), "mtime_ns": pa.int64(),
             "run_key": pa.string(), "temporal": pa.string(), "level": pa.string()}
    schema = pa.schema([(c, types.get(c, pa.float64())) for c in columns])
    pq.write_table(pa.Table.from_pylist(flat, schema=schema), path)


__all__ = [
    "FIXED_COLUMNS",
    "OUTPUT_FORMATS",
    "JournalWriter",
    "check_output",
    "completed_paths",
    "journal_path",
    "journal_paths",
    "merge_results",
    "output_format",
    "previous_rows",
    "read_rows",
    "result_row",
]
