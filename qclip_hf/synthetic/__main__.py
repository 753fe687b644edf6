"""Command line: `python -m qclip_hf.synthetic OUTPUT_DIR [--num_sources 6 --levels 3 ...]`."""

from __future__ import annotations

import argparse
import time

from .degradations import DEGRADATIONS
from .generate import generate_quality_dataset


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m qclip_hf.synthetic", description="Generate the synthetic video quality dataset (videofolder)."
    )
    parser.add_argument("output_dir", help="Directory to write the dataset to.")
    parser.add_argument("--num_sources", type=int, default=6, help="Source photographs (1-13).")
    parser.add_argument("--levels", type=int, default=3, help="Levels per degradation ladder (1-5).")
    parser.add_argument("--size", type=int, default=64, help="Frame side in pixels (even).")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=1.6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test_sources", type=int, default=2, help="Sources held out in the test split.")
    parser.add_argument("--degradations", nargs="+", default=list(DEGRADATIONS), choices=DEGRADATIONS)
    parser.add_argument("--overwrite", action="store_true", help="Replace a dataset generated with other arguments.")
    parser.add_argument("--no_progress", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    root = generate_quality_dataset(
        args.output_dir,
        num_sources=args.num_sources,
        levels=args.levels,
        size=args.size,
        fps=args.fps,
        seconds=args.seconds,
        seed=args.seed,
        test_sources=args.test_sources,
        degradations=tuple(args.degradations),
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(f"Dataset ready in {root} ({time.perf_counter() - start:.1f} s).")


if __name__ == "__main__":
    main()
