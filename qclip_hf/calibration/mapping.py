"""A model's calibration: the monotonic map from its raw score to the MOS scale it was trained on, and the level bands.

A Q-CLIP score is a weighted sum of cosine similarities: its scale is the model's own (a number like 0.028).
`Calibration` maps it to MOS with a fitted monotonic function — the VQEG 4-parameter logistic
(`qclip_hf.metrics.logistic4`) or an isotonic (piecewise-linear, monotonic) map — and names a quality level for
each MOS: the MOS range cut into as many equal bands as the model has levels (five: bad, poor, fair, good,
excellent from the bottom, as the ACR scale has them).

It is saved beside the model as `calibration.json` (see [`Calibration.to_dict`] for the fields) and loaded with it
by `QClipModel.from_pretrained`; a model without that file is *uncalibrated*: it has raw scores only, no MOS and
no level (nothing is guessed). Fit one with [`qclip_hf.calibration.fit_calibration`] or `qclip-vqa calibrate`.

The map is monotonic, so ranks and SROCC are those of the raw score: the logistic is strictly monotonic
everywhere; the isotonic map is strictly monotonic between its first and last knot (the lowest and highest score
it was fitted on) and constant beyond them (it never extrapolates past the MOS it was fitted on). The logistic's
asymptotes are fitted, not clipped to the MOS range, so a calibrated MOS may lie slightly outside the range (its
level is then the end band).

Example:
    ```python
    >>> from qclip_hf.calibration import Calibration
    >>> calibration = Calibration("logistic4", {"b1": 5.0, "b2": 1.0, "b3": 0.0, "b4": 0.1}, mos_range=(1.0, 5.0))
    >>> round(calibration.mos_of(0.0), 3), calibration.level_of(3.0)
    (3.0, 'fair')
    ```
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError, QClipError

CALIBRATION_NAME = "calibration.json"
FORMAT_VERSION = 1
KINDS = ("logistic4", "isotonic")
KIND_DESCRIPTIONS = {"logistic4": "VQEG 4-parameter logistic", "isotonic": "isotonic (monotonic piecewise-linear)"}
# The model's level words, best first (QClipConfig.level_names' default).
DEFAULT_LEVEL_NAMES = ("excellent", "good", "fair", "poor", "bad")
UNCALIBRATED_NOTE = ("uncalibrated: this model has no calibration.json, so it gives its raw score only (its own "
                     "scale; higher = better), no MOS and no level — fit one with `qclip-vqa calibrate`")


class CalibrationError(QClipError, ValueError):
    """A calibration cannot be fitted or read: too few or constant points, unmatched labels, a malformed file."""


def _finite_float(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"calibration {name} must be a number, got {value!r}") from error
    if not math.isfinite(number):
        raise ValueError(f"calibration {name} must be finite, got {value!r}")
    return number


@dataclass(frozen=True)
class Calibration:
    """A monotonic map from a model's raw score to MOS, with the MOS range that defines the level bands.

    Args:
        kind (`str`): `"logistic4"` or `"isotonic"`.
        parameters (`dict`): `{"b1", "b2", "b3", "b4"}` of `logistic4` for `"logistic4"`; `{"scores", "mos"}`, the
            knots (strictly increasing scores) for `"isotonic"`.
        mos_range (`tuple[float, float]`): `(low, high)` of the MOS scale (e.g. `(1, 5)`); the level bands cut it.
        higher_is_better (`bool`, *optional*, defaults to `True`): `False` for a DMOS-like scale (lower = better).
        level_names (`Sequence[str]`, *optional*): the model's levels, best first (default excellent ... bad).
        fit (`dict`, *optional*): how well the map fits the data it was fitted on: `n`, `srocc`, `plcc`, `krocc`,
            `rmse` (RMSE in MOS units).
        data (`dict`, *optional*): what it was fitted on (`source`, `set`, `split`, `epoch`, `size`, `note`, ...).
        choice (`dict`, *optional*): why this kind (`rule`, cross-validated RMSE of each kind, ...).
    """

    kind: str
    parameters: Mapping[str, Any]
    mos_range: tuple[float, float]
    higher_is_better: bool = True
    level_names: tuple[str, ...] = DEFAULT_LEVEL_NAMES
    fit: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    choice: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"calibration kind must be one of {', '.join(map(repr, KINDS))}, got {self.kind!r}")
        low, high = (_finite_float(v, "mos_range") for v in self.mos_range)
        if not low < high:
            raise ValueError(f"calibration mos_range must be (low, high) with low < high, got {tuple(self.mos_range)}")
        object.__setattr__(self, "mos_range", (low, high))
        names = tuple(str(name) for name in self.level_names)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"calibration level_names must be 2 or more distinct names, got {list(names)}")
        object.__setattr__(self, "level_names", names)
        if self.kind == "logistic4":
            missing = {"b1", "b2", "b3", "b4"} - set(self.parameters)
            if missing:
                raise ValueError(f"logistic4 calibration parameters lack {sorted(missing)}")
            params = {name: _finite_float(self.parameters[name], name) for name in ("b1", "b2", "b3", "b4")}
            if params["b1"] == params["b2"] or params["b4"] == 0:
                raise ValueError("logistic4 calibration is flat (b1 == b2 or b4 == 0): it maps every score to one MOS")
        else:
            scores = [_finite_float(v, "knot score") for v in self.parameters.get("scores", [])]
            mos = [_finite_float(v, "knot MOS") for v in self.parameters.get("mos", [])]
            if len(scores) < 2 or len(scores) != len(mos):
                raise ValueError("isotonic calibration needs 2 or more knots: `scores` and `mos` of the same length")
            if np.any(np.diff(scores) <= 0):
                raise ValueError("isotonic calibration knots' `scores` must be strictly increasing")
            steps = np.diff(mos)
            if not (np.all(steps > 0) or np.all(steps < 0)):
                raise ValueError("isotonic calibration knots' `mos` must be strictly monotonic")
            params = {"scores": scores, "mos": mos}
        object.__setattr__(self, "parameters", params)

    # ------------------------------------------------------------------ the map
    @property
    def increasing(self) -> bool:
        """Whether a higher raw score maps to a higher MOS (the model's score may run against the MOS)."""
        if self.kind == "logistic4":
            return self.parameters["b1"] > self.parameters["b2"]
        return self.parameters["mos"][-1] > self.parameters["mos"][0]

    def mos(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        """The calibrated MOS of each raw score (NaN stays NaN).

        Example:
            ```python
            >>> calibration.mos([0.01, 0.03]).round(2).tolist()  # doctest: +SKIP
            [2.71, 3.95]
            ```
        """
        x = np.asarray(scores, dtype=np.float64)
        if self.kind == "logistic4":
            from ..metrics.compute import logistic4  # scipy: imported when a calibrated model scores

            p = self.parameters
            return logistic4(x, p["b1"], p["b2"], p["b3"], p["b4"])
        mapped = np.interp(x, self.parameters["scores"], self.parameters["mos"])
        return np.where(np.isnan(x), np.nan, mapped)

    def mos_of(self, score: float | None) -> float | None:
        """The calibrated MOS of one raw score (`None` for `None` or NaN)."""
        if score is None or not math.isfinite(float(score)):
            return None
        return float(self.mos([float(score)])[0])

    def band_edges(self) -> list[float]:
        """The `len(level_names) + 1` edges of the equal MOS bands, from `low` to `high`.

        Example:
            ```python
            >>> Calibration("isotonic", {"scores": [0, 1], "mos": [1, 5]}, mos_range=(1, 5)).band_edges()
            [1.0, 1.8, 2.6, 3.4, 4.2, 5.0]
            ```
        """
        low, high = self.mos_range
        count = len(self.level_names)
        return [float(v) for v in np.round(np.linspace(low, high, count + 1), 10)]

    def level_of(self, mos: float | None) -> str | None:
        """The level whose MOS band holds `mos` (`None` for `None` or NaN).

        The range is cut into equal bands; a MOS on an edge belongs to the upper band, one outside the range to
        the end band. On a higher-is-better scale the lowest band is the last level name (bad), the highest the
        first (excellent).
        """
        if mos is None or not math.isfinite(float(mos)):
            return None
        low, high = self.mos_range
        count = len(self.level_names)
        band = min(max(int(math.floor((float(mos) - low) / (high - low) * count + 1e-9)), 0), count - 1)
        return self.level_names[count - 1 - band] if self.higher_is_better else self.level_names[band]

    def describe(self) -> str:
        """One line: what the map is, the MOS scale and what it was fitted on.

        Example:
            ```python
            >>> calibration.describe()  # doctest: +SKIP
            "VQEG 4-parameter logistic to MOS 1-5 (higher = better), fitted on 'held-out' (48 videos, epoch 7)"
            ```
        """
        low, high = self.mos_range
        direction = "higher = better" if self.higher_is_better else "lower = better"
        text = f"{KIND_DESCRIPTIONS[self.kind]} to MOS {low:g}-{high:g} ({direction})"
        provenance = self.provenance()
        return f"{text}, {provenance}" if provenance else text

    def provenance(self) -> str:
        """What the map was fitted on, in words (`""` when not recorded).

        Example:
            ```python
            >>> calibration.provenance()  # doctest: +SKIP
            "fitted on 'val' (48 videos, epoch 7)"
            ```
        """
        where = self.data.get("set") or self.data.get("labels")
        if not where:
            return ""
        details = [f"{self.data['size']} videos" if self.data.get("size") is not None else None,
                   f"epoch {self.data['epoch']}" if self.data.get("epoch") is not None else None,
                   "a test set" if self.data.get("is_test_set") else None]
        details = [d for d in details if d]
        return f"fitted on {where!r}" + (f" ({', '.join(details)})" if details else "")

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """The JSON content of `calibration.json`.

        Fields: `format_version`; `kind` and its `description`; `parameters`; `direction` (of the map: higher raw
        score -> higher or lower MOS); `mos_range` `[low, high]` and `higher_is_better` (of the MOS scale);
        `level_names` (best first) and `level_bands` (`{level: [low, high]}`); `fit` (n, SROCC, PLCC, KROCC, RMSE on
        the data it was fitted on); `data` (what that data was: set, split, epoch, size, ...); `choice` (how the
        kind was chosen).
        """
        edges = self.band_edges()
        count = len(self.level_names)
        bands = {self.level_of((edges[k] + edges[k + 1]) / 2): [edges[k], edges[k + 1]] for k in range(count)}
        return {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "description": KIND_DESCRIPTIONS[self.kind],
            "parameters": dict(self.parameters),
            "direction": "increasing" if self.increasing else "decreasing",
            "mos_range": list(self.mos_range),
            "higher_is_better": self.higher_is_better,
            "level_names": list(self.level_names),
            "level_bands": bands,
            "fit": _json_safe(dict(self.fit)),
            "data": _json_safe(dict(self.data)),
            "choice": _json_safe(dict(self.choice)),
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Calibration:
        """The calibration a `to_dict` payload describes (`ValueError` naming the field that is wrong)."""
        if not isinstance(payload, Mapping):
            raise ValueError(f"a calibration must be a JSON object, got {type(payload).__name__}")
        version = payload.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ValueError(f"calibration format_version {version!r} is not supported (this qclip-hf reads "
                             f"{FORMAT_VERSION}); upgrade qclip-hf or fit the calibration again")
        for name in ("kind", "parameters", "mos_range"):
            if name not in payload:
                raise ValueError(f"calibration has no {name!r} field")
        mos_range = payload["mos_range"]
        if not isinstance(mos_range, (list, tuple)) or len(mos_range) != 2:
            raise ValueError(f"calibration mos_range must be [low, high], got {mos_range!r}")
        return cls(kind=payload["kind"], parameters=dict(payload["parameters"]), mos_range=tuple(mos_range),
                   higher_is_better=bool(payload.get("higher_is_better", True)),
                   level_names=tuple(payload.get("level_names") or DEFAULT_LEVEL_NAMES),
                   fit=dict(payload.get("fit") or {}), data=dict(payload.get("data") or {}),
                   choice=dict(payload.get("choice") or {}))

    def save(self, path: str | os.PathLike) -> Path:
        """Write `calibration.json` into the folder `path` (or to the `.json` file `path`), atomically.

        Example:
            ```python
            >>> calibration.save("outputs/demo/run/best")  # doctest: +SKIP
            PosixPath('outputs/demo/run/best/calibration.json')
            ```
        """
        target = Path(path)
        if target.suffix.lower() != ".json":
            target = target / CALIBRATION_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp.{os.getpid()}")
        temporary.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, target)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike) -> Calibration:
        """Read a `calibration.json` (a file, or the model folder holding one).

        Raises:
            [`CalibrationError`]: the file is missing, not JSON or not a calibration (naming the file and the fix).
        """
        path = Path(path)
        if path.is_dir():
            path = path / CALIBRATION_NAME
        if not path.is_file():
            raise CalibrationError(f"calibration file '{path}' does not exist", "pass a model folder holding "
                                   "calibration.json, or fit one with `qclip-vqa calibrate`")
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as error:  # json.JSONDecodeError is a ValueError
            raise CalibrationError(f"calibration file '{path}' cannot be read: {error}",
                                   "fit it again with `qclip-vqa calibrate`, or delete it to use the raw score"
                                   ) from error


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.floating, np.integer)):
        return _json_safe(value.item())
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def load_calibration(folder: str | os.PathLike) -> Calibration | None:
    """The calibration saved in a model folder, or `None` when it has none (an uncalibrated model).

    Raises:
        [`~qclip_hf.errors.ModelLoadError`]: the folder has a `calibration.json` that cannot be read.

    Example:
        ```python
        >>> load_calibration("outputs/demo/run/best").describe()  # doctest: +SKIP
        ```
    """
    path = Path(folder) / CALIBRATION_NAME
    if not path.is_file():
        return None
    try:
        return Calibration.load(path)
    except CalibrationError as error:
        raise ModelLoadError(error.what, error.fix) from error


def find_calibration(model: str | os.PathLike | None, revision: str | None = None) -> Calibration | None:
    """The calibration of a model folder or Hub id, or `None` (no model, no calibration, or unreachable Hub).

    Used where a model is named but not loaded (the HTML report describes the MOS scale with it).
    """
    if model is None:
        return None
    name = os.fspath(model)
    if os.path.isdir(name):
        return load_calibration(name)
    try:
        from huggingface_hub import hf_hub_download

        return Calibration.load(hf_hub_download(name, CALIBRATION_NAME, revision=revision))
    except Exception:  # noqa: BLE001 — no file, no network, not a repo: the report then shows no scale
        return None


__all__ = ["CALIBRATION_NAME", "DEFAULT_LEVEL_NAMES", "KINDS", "UNCALIBRATED_NOTE", "Calibration",
           "CalibrationError", "find_calibration", "load_calibration"]
