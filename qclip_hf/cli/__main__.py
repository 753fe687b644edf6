"""`python -m qclip_hf.cli` and `accelerate launch -m qclip_hf.cli score ...`."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
