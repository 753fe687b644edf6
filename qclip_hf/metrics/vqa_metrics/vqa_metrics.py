"""VQA metrics (SROCC, PLCC, KROCC, RMSE) as an `evaluate` module, loadable offline by path.

This file is an `evaluate` loading script, not package code: `evaluate.load` copies it into its own modules cache
and imports it from there, where a relative import of the package cannot resolve (evaluate only follows
same-directory relative imports). It therefore imports the installed `qclip_hf` by its absolute name, which
`evaluate` checks is importable before loading; the computation lives in `qclip_hf.metrics.compute` so that
training code and this module report identical numbers.
"""

import datasets
import evaluate

from qclip_hf.metrics.compute import FIT_METHODS, compute_vqa_metrics

_CITATION = """\
@article{vqeg2003frtv2,
  title  = {Final report from the Video Quality Experts Group on the validation of objective models of video
            quality assessment, Phase II},
  author = {{Video Quality Experts Group}},
  year   = {2003}
}
@inproceedings{wu2023dover,
  title     = {Exploring Video Quality Assessment on User Generated Contents from Aesthetic and Technical
               Perspectives},
  author    = {Wu, Haoning and Zhang, Erli and Liao, Liang and Chen, Chaofeng and Hou, Jingwen and Wang, Annan and
               Sun, Wenxiu and Yan, Qiong and Lin, Weisi},
  booktitle = {ICCV},
  year      = {2023}
}
"""

_DESCRIPTION = """\
Correlation metrics between predicted quality scores and mean opinion scores (MOS), the four figures every video
quality assessment paper reports: SROCC (Spearman), PLCC (Pearson), KROCC (Kendall) and RMSE.

The configuration (or the `fit` argument of `compute`) selects the mapping applied to the predictions before
PLCC and RMSE:
- "none" (default): raw predictions, as the Q-CLIP reference release reports;
- "logistic4": the VQEG 4-parameter logistic fit `(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2`;
- "rescale": the DOVER / Q-CLIP convention, predictions mapped to the labels' mean and standard deviation
  (PLCC is unchanged, RMSE is on the label scale).
SROCC and KROCC always use the raw predictions.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `float`): predicted quality scores, one per video.
    references (`list` of `float`): ground-truth scores (MOS), same order.
    fit (`str`, *optional*): overrides the configuration's fit: "none", "logistic4" or "rescale".

Returns:
    srocc (`float`): Spearman rank-order correlation.
    plcc (`float`): Pearson linear correlation after the fit.
    krocc (`float`): Kendall rank-order correlation (tau-b).
    rmse (`float`): root mean squared error after the fit, on the references' scale.
    Constant predictions give NaN correlations; constant references, NaN/inf inputs, mismatched lengths or fewer
    than 2 samples (4 for "logistic4") raise a ValueError.

Example:
    ```python
    >>> import evaluate
    >>> from qclip_hf.metrics import vqa_metrics_path
    >>> metric = evaluate.load(vqa_metrics_path())
    >>> results = metric.compute(predictions=[0.1, 0.4, 0.35, 0.8], references=[1.0, 2.0, 3.0, 4.0])
    >>> round(results["srocc"], 2)
    0.8
    ```
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class VQAMetrics(evaluate.Metric):
    """SROCC, PLCC, KROCC and RMSE; the configuration name is the default `fit` ("none" when unset)."""

    def _info(self) -> evaluate.MetricInfo:
        if self._default_fit() not in FIT_METHODS:
            raise ValueError(
                f"`config_name` must be one of {', '.join(map(repr, FIT_METHODS))} (the default fit), "
                f"got {self.config_name!r}."
            )
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}
            ),
            reference_urls=["https://github.com/VQAssessment/DOVER", "https://www.its.bldrdoc.gov/vqeg/"],
        )

    def _default_fit(self) -> str:
        # evaluate names an unconfigured module "default".
        return "none" if self.config_name == "default" else self.config_name

    def _compute(self, predictions, references, fit: str | None = None) -> dict[str, float]:
        return compute_vqa_metrics(predictions, references, fit=self._default_fit() if fit is None else fit)
