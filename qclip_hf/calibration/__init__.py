"""Calibrated scores: a model's raw score mapped to the MOS scale it was trained on, and the level of that MOS.

- `mapping`: [`Calibration`] (the map, the MOS range and its level bands, `calibration.json` I/O);
- `fitting`: [`fit_calibration`] (4-parameter logistic or isotonic, chosen by a documented rule).

Fitting a saved model's calibration on a user's labelled videos (results file + labels file, `qclip-vqa calibrate`)
is `qclip_hf.training.user_calibration.calibrate`. Names load on first use (the CLI's parser must not import numpy).

Example:
    ```python
    >>> from qclip_hf.calibration import fit_calibration
    >>> calibration = fit_calibration(scores, mos, mos_range=(1, 5))  # doctest: +SKIP
    >>> calibration.save("my-qclip")  # doctest: +SKIP
    ```
"""

from .._lazy import lazy_attributes

_IMPORT_STRUCTURE = {
    "mapping": ["CALIBRATION_NAME", "Calibration", "CalibrationError", "find_calibration", "load_calibration"],
    "fitting": ["fit_calibration"],
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _IMPORT_STRUCTURE)
