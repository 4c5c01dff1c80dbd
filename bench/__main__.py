"""Run every benchmark module in bench/ (files named bench_*.py with a `main()`); each prints its own figures.

Benchmarks print numbers; they never assert on time. `make bench` or `python -m bench [NAME ...] [--OPTION ...]`:
the arguments from the first one starting with `-` go to the named benchmarks' `main(argv)`. Long benchmarks
(`window`: minutes of real sf calls) run only when named.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

NAMED_ONLY = {"bench_window", "bench_fleet"}


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    first_option = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    chosen, options = argv[:first_option], argv[first_option:]
    names = chosen or sorted(p.stem for p in here.glob("bench_*.py") if p.stem not in NAMED_ONLY)
    for name in names:
        module = importlib.import_module(f"bench.{name if name.startswith('bench_') else 'bench_' + name}")
        print(f"== {module.__name__}")
        if options:
            module.main(options)
        else:
            module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
