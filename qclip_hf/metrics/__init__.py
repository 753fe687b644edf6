"""VQA metrics: SROCC, PLCC, KROCC and RMSE, as plain functions and as an `evaluate` module (`vqa_metrics/`)."""

from .compute import (
    FIT_METHODS,
    METRIC_NAMES,
    compute_vqa_metrics,
    fit_function,
    fit_logistic4,
    logistic4,
    logistic4_parameters,
    logistic5,
    vqa_metrics_path,
)

__all__ = ["FIT_METHODS", "METRIC_NAMES", "compute_vqa_metrics", "fit_function", "fit_logistic4", "logistic4",
           "logistic4_parameters", "logistic5", "vqa_metrics_path"]
