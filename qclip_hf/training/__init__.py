"""Training support for `training/train.py`: datasets, evaluation, checkpoints and Hub upload."""
