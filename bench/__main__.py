"""``python -m bench [--quick] [--only NAME ...] [--write]``: every benchmark, each in its own process
(bench/runner.py); ``--write`` updates the generated section of bench/RESULTS.md."""

from __future__ import annotations

import sys

from bench.runner import main

if __name__ == "__main__":
    sys.exit(main())
