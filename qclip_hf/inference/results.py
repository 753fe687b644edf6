"""Result files of a scoring run: one row per video in CSV, JSON Lines or Parquet, written so a run can resume.

While scoring, each process appends its rows to a journal beside the output (`<output>.rank<k>.partial.jsonl`,
flushed after every batch). At the end the main process merges the previous output and every journal into the
output file (written to a temporary name, then renamed) and removes the journals. An interrupted run therefore
keeps everything up to its last batch: the next run reads both the output and leftover journals as done.

Row fields: `path`, `status` (`"ok"` / `"failed"`), `score`, `error`, one `prob_<level>` per quality level and,
with temporal scoring, `temporal` (the segment list; a JSON string in CSV and Parquet).
"""

from __future__ import annotations

import csv
import glob
import json
import os
from collections.abc import Iterable
from typing import Any

OUTPUT_FORMATS = ("csv", "jsonl", "parquet")
FIXED_COLUMNS = ("path", "status", "score", "error")
STATUSES = ("ok", "failed")


def output_format(path: str | os.PathLike) -> str:
    """The format of an output path, from its extension (`.csv`, `.jsonl`, `.parquet`)."""
    extension = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if extension not in OUTPUT_FORMATS:
        raise ValueError(f"output {os.fspath(path)!r}: the extension must be one of "
                         f"{['.' + f for f in OUTPUT_FORMATS]}, got {'.' + extension if extension else 'none'}")
    return extension


def journal_path(output: str | os.PathLike, rank: int) -> str:
    return f"{os.fspath(output)}.rank{rank}.partial.jsonl"


def result_row(path: str, result: dict[str, Any] | None = None, error: BaseException | None = None) -> dict:
    """A result row from a pipeline output (`{"score", "levels", ["temporal"]}`) or from the error a file raised."""
    if (result is None) == (error is None):
        raise ValueError("result_row needs exactly one of `result` and `error`")
    if error is not None:
        return {"path": path, "status": "failed", "score": None, "error": f"{type(error).__name__}: {error}"}
    row = {"path": path, "status": "ok", "score": float(result["score"]), "error": None}
    row.update({f"prob_{level}": float(p) for level, p in result["levels"].items()})
    if "temporal" in result:
        row["temporal"] = result["temporal"]
    return row


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of an output file or journal (an empty list when it does not exist)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        return []
    fmt = "jsonl" if path.endswith(".partial.jsonl") else output_format(path)
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as handle:
            # A journal cut by a crash can end in a partial line: everything before it is still valid.
            return [json.loads(line) for line in handle if line.strip() and line.rstrip().endswith("}")]
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return [_from_text(row) for row in rows]
    import pyarrow.parquet as pq

    return [_from_text(row) for row in pq.read_table(path).to_pylist()]


def _from_text(row: dict[str, Any]) -> dict[str, Any]:
    """Types back from CSV/Parquet cells: empty cells are `None`, numbers are floats, `temporal` is parsed."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value == "" or value is None:
            out[key] = None
        elif key == "temporal" and isinstance(value, str):
            out[key] = json.loads(value)
        elif (key == "score" or key.startswith("prob_")) and isinstance(value, str):
            out[key] = float(value)
        else:
            out[key] = value
    return out


def completed_paths(output: str | os.PathLike) -> set[str]:
    """Paths already scored successfully by a previous (possibly interrupted) run; failed ones are retried."""
    rows = read_rows(output)
    for journal in sorted(glob.glob(glob.escape(os.fspath(output)) + ".rank*.partial.jsonl")):
        rows.extend(read_rows(journal))
    return {row["path"] for row in rows if row.get("status") == "ok"}


class JournalWriter:
    """Appends rows to one process's journal, flushed per batch so an interrupted run loses at most a batch."""

    def __init__(self, output: str | os.PathLike, rank: int) -> None:
        self.path = journal_path(output, rank)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")

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

    One row per path: a success beats a failure, otherwise the newest row wins (journals are newer than the
    output). Journals are deleted once the output is written.
    """
    output = os.fspath(output)
    fmt = output_format(output)
    journals = sorted(glob.glob(glob.escape(output) + ".rank*.partial.jsonl"))
    merged: dict[str, dict[str, Any]] = {}
    for source in [output, *journals]:
        for row in read_rows(source):
            previous = merged.get(row["path"])
            if previous is None or not (previous["status"] == "ok" and row["status"] != "ok"):
                merged[row["path"]] = row
    rows = [merged[path] for path in sorted(merged)]
    temporary = f"{output}.tmp.{os.getpid()}"
    _write(rows, temporary, fmt)
    os.replace(temporary, output)
    for journal in journals:
        os.remove(journal)
    return rows


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    extra = sorted({key for row in rows for key in row if key.startswith("prob_")}, key=_level_order(rows))
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
             "temporal": pa.string()}
    schema = pa.schema([(c, types.get(c, pa.float64())) for c in columns])
    pq.write_table(pa.Table.from_pylist(flat, schema=schema), path)


__all__ = [
    "OUTPUT_FORMATS",
    "JournalWriter",
    "completed_paths",
    "journal_path",
    "merge_results",
    "output_format",
    "read_rows",
    "result_row",
]
