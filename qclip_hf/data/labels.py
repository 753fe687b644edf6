"""Reading the field's 4-column VQA label lists: `relative/path, duration_seconds, fps, MOS` (no header).

This is the format DOVER, FAST-VQA and the Q-CLIP reference release share; `-1` marks an unknown duration or
frame rate.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class LabelRow:
    """One line of a label list.

    Args:
        path (`str`): video path relative to the dataset root.
        duration (`float` or `None`): seconds, `None` when the list says `-1`.
        fps (`float` or `None`): frames per second, `None` when the list says `-1`.
        mos (`float`): mean opinion score on the dataset's own scale.
    """

    path: str
    duration: float | None
    fps: float | None
    mos: float


def _optional_positive(value: str) -> float | None:
    number = float(value)
    return None if number < 0 else number


def read_label_file(label_file: str | os.PathLike) -> list[LabelRow]:
    """Parse a label list; malformed lines raise `ValueError` naming the file and the line.

    Example:

    ```python
    >>> from qclip_hf.data.labels import read_label_file
    >>> rows = read_label_file("../shared/data_labels/KoNViD/labels.txt")
    >>> len(rows), rows[0].path, rows[0].mos
    (1200, 'KoNViD_1k_videos/4542323058.mp4', 3.22)
    ```
    """
    label_file = os.fspath(label_file)
    if not os.path.isfile(label_file):
        raise FileNotFoundError(f"label file not found: {label_file}")
    rows: list[LabelRow] = []
    with open(label_file, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            fields = [field.strip() for field in line.split(",")]
            if len(fields) != 4:
                raise ValueError(
                    f"{label_file}:{line_number}: expected 4 comma-separated fields "
                    f"(path, duration, fps, MOS), got {len(fields)}: {line!r}"
                )
            path, duration, fps, mos = fields
            try:
                row = LabelRow(path, _optional_positive(duration), _optional_positive(fps), float(mos))
            except ValueError as err:
                raise ValueError(f"{label_file}:{line_number}: non-numeric duration/fps/MOS in {line!r}") from err
            if not path or not math.isfinite(row.mos):
                raise ValueError(f"{label_file}:{line_number}: empty path or non-finite MOS in {line!r}")
            rows.append(row)
    if not rows:
        raise ValueError(f"label file {label_file} has no rows")
    return rows
