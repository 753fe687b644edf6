"""Batch inference: collect video files, score them error-tolerantly on one or N processes, write resumable results."""

from .files import VIDEO_EXTENSIONS, collect_video_files, is_video_file
from .results import OUTPUT_FORMATS, completed_paths, merge_results, output_format, read_rows, result_row
from .scoring import ScoringSummary, iter_scored_rows, score_to_file

__all__ = [
    "OUTPUT_FORMATS",
    "VIDEO_EXTENSIONS",
    "ScoringSummary",
    "collect_video_files",
    "completed_paths",
    "is_video_file",
    "iter_scored_rows",
    "merge_results",
    "output_format",
    "read_rows",
    "result_row",
    "score_to_file",
]
