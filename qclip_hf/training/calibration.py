"""The calibration a training run ships with `best/` and `last/`: raw score -> MOS of its training data's scale.

After an epoch is selected, the map is fitted on the selection set's predictions of that epoch (the validation set
given by `--val_data` / `--val_fraction`; only when there is none, the first `--eval_data` set, a test set — which
the saved provenance and the log say). `last/` gets the map fitted on its own epoch's predictions of the same set.
The MOS range whose bands are the levels is `--mos_range`, else the known scale of a standard dataset
(`VQADatasetSpec.mos_range`), else the lowest and highest label of the training and selection sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..calibration.fitting import fit_calibration
from ..calibration.mapping import Calibration, CalibrationError

TEST_SET_CALIBRATION_NOTE = ("fitted on the test set: the run had no validation set (pass --val_data or "
                             "--val_fraction to fit it on held-out data)")


def training_mos_range(train_spec: str, label_column: str, label_arrays: Sequence[np.ndarray],
                       mos_range: Sequence[float] | None = None) -> tuple[float, float]:
    """The MOS scale the run trains on (see the module docstring for the order of the sources).

    Example:
        ```python
        >>> training_mos_range("KoNViD-1k:/data/KoNViD", "mos", [np.array([2.1, 4.3])])
        (1.0, 5.0)
        >>> training_mos_range("videofolder:/data/mine", "mos", [np.array([2.1, 4.3]), np.array([1.5])])
        (1.5, 4.3)
        ```
    """
    if mos_range is not None:
        return float(mos_range[0]), float(mos_range[1])
    from ..data.vqa import VQA_DATASETS

    kind = train_spec.partition(":")[0]
    if label_column == "mos_normalized":
        return 0.0, 1.0
    if label_column == "mos" and kind in VQA_DATASETS:
        return tuple(float(v) for v in VQA_DATASETS[kind].mos_range)
    labels = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in label_arrays])
    return float(labels.min()), float(labels.max())


def fit_selection_calibration(scored: dict[str, np.ndarray] | None, *, set_name: str | None, dataset: str | None,
                              epoch: int | None, is_test_set: bool, mos_range: tuple[float, float],
                              ) -> tuple[Calibration | None, str]:
    """The map fitted on an epoch's predictions of the selection set, and one line for the log saying what it is.

    Returns `(None, reason)` when there is nothing to fit on (no evaluation set) or the predictions cannot be
    calibrated (fewer than 5 videos, constant scores): the model is then saved uncalibrated.

    Args:
        scored (`dict`, *optional*): `qclip_hf.training.evaluation.predict`'s arrays (`predictions`, `labels`).
        set_name (`str`, *optional*): the selection set's name.
        dataset (`str`, *optional*): its spec on the command line (e.g. `videofolder:/data/val`).
        epoch (`int`, *optional*): the epoch whose predictions these are.
        is_test_set (`bool`): the selection set is a test set (no validation set was given).
        mos_range (`tuple[float, float]`): the MOS scale (see `training_mos_range`).
    """
    if scored is None or set_name is None:
        return None, "uncalibrated: the run has no evaluation set to fit the map from raw score to MOS on"
    data: dict[str, Any] = {"source": "training/train.py", "set": set_name, "dataset": dataset,
                            "split": "test" if is_test_set else "validation", "is_test_set": is_test_set,
                            "epoch": epoch}
    if is_test_set:
        data["note"] = TEST_SET_CALIBRATION_NOTE
    try:
        calibration = fit_calibration(scored["predictions"], scored["labels"], mos_range=mos_range, data=data)
    except CalibrationError as error:
        return None, f"uncalibrated: {error}"
    fit = calibration.fit
    line = (f"calibrated: {calibration.describe()}; fit PLCC {fit['plcc']:.4f}, SROCC {fit['srocc']:.4f}, "
            f"RMSE {fit['rmse']:.4f} MOS")
    if not calibration.increasing:
        line += " — decreasing: on this set a higher raw score means a lower MOS (the model ranks backwards)"
    return calibration, line + (f" — {TEST_SET_CALIBRATION_NOTE}" if is_test_set else "")


def kept_calibration(model_dir: str, epoch: int | None) -> Calibration | None:
    """The calibration saved in `model_dir` when it was fitted on `epoch`'s predictions, else `None` (a resumed run
    with no epoch left to train re-saves `last/` with the map it already had)."""
    from ..calibration.mapping import load_calibration

    try:
        calibration = load_calibration(model_dir)
    except Exception:  # noqa: BLE001 — an unreadable old map is not kept
        return None
    if calibration is None or epoch is None or calibration.data.get("epoch") != epoch:
        return None
    return calibration


__all__ = ["TEST_SET_CALIBRATION_NOTE", "fit_selection_calibration", "kept_calibration", "training_mos_range"]
