# Makes the `evaluate` module directory a package so that wheels ship `vqa_metrics.py`; load it with
# `evaluate.load(qclip_hf.metrics.vqa_metrics_path())`, not by importing this package.
