"""What a person looks at: tables, prediction files, plots and the HTML report.

One package serves the training script (per-epoch tables, predictions, training plots), the scoring report
(`qclip-vqa report`) and the demo app, so a number looks the same wherever it is shown. One concern per module:

- `tables`: aligned text tables (metrics per epoch x eval set, score summaries);
- `predictions`: per-video prediction files;
- `training_plots`: loss / LR per step, metrics per epoch, predicted-vs-MOS scatter with the fitted curve;
- `scoring_plots`: score histogram, temporal quality curve, level-probability bars, frame strips;
- `html_report`: the self-contained HTML report of a scoring run.

Imports are lazy (matplotlib only when a plot is drawn).
"""
