"""``python -m benchmarks``: run the scenarios and print one table.

Exit status: 0 when every scenario ran (or skipped with a reason), 1 when one raised an error,
and with ``--strict`` also 1 when a target was missed. Targets are not enforced by default: the
``--quick`` sizes that CI runs are too small for the ratios to mean much.

The data scenarios (sweeps, export, erasure) run once per growth size: 10,000, 100,000 and
1,000,000 in a full run (``--sizes`` to choose), one small size with ``--quick``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import platform
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence

from ._harness import FULL_SIZES, Config, Row, Skip, format_markdown, format_table, parse_sizes

# (name, module, title) in the order of issue 6, then issue 17's, then issue 15's.
SCENARIOS: tuple[tuple[str, str, str], ...] = (
    ("retention-sqlite", ".retention", "1. retention sweep, SQLite"),
    ("retention-postgres", ".retention_pg", "2. retention sweep, PostgreSQL"),
    ("export", ".export", "3. export of one host"),
    ("erasure", ".erasure", "4. erasure of one host"),
    ("load", ".loading", "5. load and validate policy + data map"),
    ("import", ".import_cost", "6. import cost"),
    ("partitioned-postgres", ".retention_partitions", "7. retention sweep, partitioned table"),
    ("celery-postgres", ".celery_pg", "8. sweep on Celery workers, PostgreSQL"),
    ("retention-mariadb", ".retention_mariadb", "9. retention sweep, MariaDB"),
)


def selected(only: Sequence[str] | None) -> list[tuple[str, str, str]]:
    """The scenarios whose name equals or starts with one of ``only`` (all when empty).

    Example:
        >>> [name for name, _, _ in selected(["retention"])]
        ['retention-sqlite', 'retention-postgres']
    """
    if not only:
        return list(SCENARIOS)
    wanted = [w for item in only for w in item.split(",") if w]
    chosen = [s for s in SCENARIOS if any(s[0] == w or s[0].startswith(w) for w in wanted)]
    unknown = [w for w in wanted if not any(s[0] == w or s[0].startswith(w) for s in SCENARIOS)]
    if unknown:
        names = ", ".join(s[0] for s in SCENARIOS)
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; choose from {names}")
    return chosen


def run_scenario(
    name: str, module: str, title: str, config: Config, sizes: Sequence[int] | None = None
) -> list[Row]:
    """Run one scenario (once per size of ``sizes`` if it grows with the data); a skip or an
    error becomes a row saying so."""
    try:
        mod = importlib.import_module(module, __package__)
        if not sizes or not getattr(mod, "GROWS", False):
            return list(mod.run(config))
        rows: list[Row] = []
        for size in sizes:
            print(f"  {name} at {size:,}", file=sys.stderr, flush=True)
            rows.extend(mod.run(dataclasses.replace(config, scale=size)))
        return rows
    except Skip as skip:
        return [Row(scenario=title, size="-", note=f"skipped: {skip}")]
    except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others
        traceback.print_exc()
        return [
            Row(scenario=title, size="-", note=f"error: {type(exc).__name__}: {exc}", error=True)
        ]


def machine() -> str:
    """One line describing where the run happened."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform(terse=True)}, "
        f"load average {load}"
    )


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return parse_sizes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the scenarios, print the table; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only these scenarios (repeat or comma-separate; a prefix matches): "
        + ", ".join(s[0] for s in SCENARIOS),
    )
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    parser.add_argument("--repetitions", type=int, help="runs per side (default: 5, quick: 3)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--sizes",
        type=_sizes,
        metavar="N,N,...",
        help="growth sizes of the data scenarios, e.g. 10k,100k,1M (default: "
        + ",".join(f"{n:,}" for n in FULL_SIZES)
        + "; with --quick: each scenario's one small size)",
    )
    args = parser.parse_args(argv)
    sizes = args.sizes or (None if args.quick else FULL_SIZES)

    chosen = selected(args.only)
    reps = args.repetitions or (3 if args.quick else 5)
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="privacy_kit_bench_") as workdir:
        config = Config(quick=args.quick, repetitions=reps, workdir=workdir)
        for name, module, title in chosen:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            rows.extend(run_scenario(name, module, title, config, sizes))
            print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)

    mode = "quick" if args.quick else "full"
    grown = f"; growth sizes {', '.join(f'{n:,}' for n in sizes)}" if sizes else ""
    header = f"privacy_kit benchmarks ({mode} sizes{grown}, {reps} repetitions per side, medians)"
    print()
    print(header)
    print(machine())
    print(format_table(rows))
    print(f"total {time.perf_counter() - started:.1f} s")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(f"{header}\n\n{machine()}\n\n{format_markdown(rows)}\n")
    if any(r.error for r in rows):
        return 1
    missed = [r for r in rows if r.status == "MISSED"]
    if args.strict and missed:
        for r in missed:
            print(f"--strict: target missed: {r.scenario} at {r.size}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
