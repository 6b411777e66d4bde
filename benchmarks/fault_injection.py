"""Fault injection: run the real ``mlagents-learn`` under faults and check what it leaves.

Every kind of fault has a module in ``benchmarks/faults/`` (see its ``__init__``): random
SIGKILLs of checkpointing PPO and SAC runs followed by consistency checks and ``--resume``,
environments that turn bad mid-run in both vectorization modes, signals, a full disk (a small
tmpfs), bad input on the command line and in files, foreign traffic on the Unity gRPC port, and
updates that diverge. It prints one row per case (passed/total) as the Markdown table of the
README's reliability section.

    python benchmarks/fault_injection.py            # the full table (about 20 minutes)
    python benchmarks/fault_injection.py --quick    # fewer repetitions (a few minutes)
    python benchmarks/fault_injection.py --only kills,disk

Exit status: 0 when every row passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faults.table import Row, markdown_table

# Module names under faults/, in the table's order.
MODULES = ["kills", "full_disk", "env_faults", "signals", "divergence", "bad_inputs", "protocol"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions of each fault")
    parser.add_argument("--only", help=f"comma-separated modules to run (of: {', '.join(MODULES)})")
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else MODULES
    unknown = sorted(set(chosen) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s): {', '.join(unknown)}")
    rows: list[Row] = []
    for name in chosen:
        started = time.perf_counter()
        print(f"# {name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"faults.{name}")
        module_rows = module.run(quick=args.quick)
        rows.extend(module_rows)
        passed = sum(row.passed for row in module_rows)
        total = sum(row.total for row in module_rows)
        elapsed = time.perf_counter() - started
        print(f"# {name}: {passed}/{total} in {elapsed:.0f} s", file=sys.stderr, flush=True)
    print(markdown_table(rows))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
