"""The harness: alternate timing, medians, peak memory, result rows and the table.

Every scenario builds its data once, then calls :func:`alternate`, which runs privacy_kit and
the hand-written baseline in turn (swapping which goes first on every repetition), each on a
fresh, identical copy made by the scenario's ``prepare`` function. Only the operation itself is
timed; making the copy is not. Peak memory is measured in a separate, untimed run (tracemalloc
slows Python code down, so it never runs while the clock does).
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FULL_SIZES",
    "REALISTIC_CACHE_KIB",
    "Config",
    "Measured",
    "Row",
    "Skip",
    "alternate",
    "cache_row",
    "durable",
    "format_markdown",
    "format_table",
    "parse_sizes",
    "peak_python_memory",
    "timed",
    "with_cache",
]


@dataclass(frozen=True)
class Measured:
    """What a contender returns when it timed itself (e.g. in another process)."""

    seconds: float


class Skip(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised by a scenario that cannot run here; the reason is printed in the table."""


@dataclass(frozen=True)
class Config:
    """How a run is sized: ``quick`` picks the small CI sizes; ``scale`` one growth size.

    A scenario that grows with the data (``GROWS = True`` in its module) is run once per size
    of ``--sizes``, each time with ``scale`` set: then :meth:`size` returns it, whatever the
    scenario's own default.
    """

    quick: bool = False
    repetitions: int = 5
    workdir: str = "."
    scale: int | None = None

    def size(self, full: int, quick: int) -> int:
        """``scale`` when set; else ``full`` for a full run, ``quick`` for ``--quick``.

        Example:
            >>> Config().size(100, 5), Config(quick=True).size(100, 5)
            (100, 5)
            >>> Config(scale=10_000).size(100, 5)
            10000
        """
        if self.scale is not None:
            return self.scale
        return quick if self.quick else full


FULL_SIZES = (10_000, 100_000, 1_000_000)
"""The growth sizes of a full run (rows, records): every data scenario runs at each."""

REALISTIC_CACHE_KIB = 65_536
"""The page cache of the ``realistic cache`` rows: ``PRAGMA cache_size=-65536`` (64 MiB) on both
sides. SQLite's default is 2 MiB (``-2000``), which the main rows keep."""


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"10k,100k,1M"`` -> ``(10000, 100000, 1000000)`` (plain integers work too).

    Example:
        >>> parse_sizes("10k, 250000,1M")
        (10000, 250000, 1000000)
    """
    sizes = []
    for part in text.split(","):
        item = part.strip().replace("_", "").lower()
        if not item:
            continue
        factor = {"k": 1_000, "m": 1_000_000}.get(item[-1], 1)
        digits = item[:-1] if factor > 1 else item
        if not digits.isdigit() or int(digits) * factor <= 0:
            raise ValueError(f"not a size: {part.strip()!r} (write 10000, 10k or 1M)")
        sizes.append(int(digits) * factor)
    if not sizes:
        raise ValueError("no sizes given")
    return tuple(sizes)


def durable(workdir: str, tag: str) -> dict[str, Any]:
    """A fresh durable audit log and journal paths for one privacy_kit run (files, not memory).

    The audit log is an SQLite file of its own; ``journal`` is a JSON-lines file (retention
    plans), ``journal_dir`` a directory (erasure journals). Earlier files of ``tag`` are removed
    first, so every run starts from empty files, as the baseline starts from nothing.
    """
    import shutil
    from pathlib import Path

    import privacy_kit as pk

    root = Path(workdir) / f"durable_{tag}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "journals").mkdir()
    return {
        "audit": pk.AuditLog.sqlite(root / "audit.sqlite"),
        "journal": root / "retention_journal.jsonl",
        "journal_dir": root / "journals",
    }


@dataclass
class Row:
    """One line of the table.

    ``target`` is the largest acceptable ratio (``None``: no ratio target); ``memory_limit_mb``
    the largest acceptable peak memory growth (``None``: no memory target).
    """

    scenario: str
    size: str
    pk: float | None = None
    baseline: float | None = None
    target: float | None = None
    peak_mb: float | None = None
    memory_limit_mb: float | None = None
    baseline_name: str = ""
    note: str = ""
    error: bool = False
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """privacy_kit median / baseline median."""
        if self.pk is None or self.baseline is None or self.baseline <= 0:
            return None
        return self.pk / self.baseline

    @property
    def status(self) -> str:
        """``met``, ``MISSED``, ``skipped``, ``ERROR`` or ``-`` (nothing to compare against)."""
        if self.error:
            return "ERROR"
        if self.pk is None and self.peak_mb is None:
            return "skipped"
        checks: list[bool] = []
        if self.target is not None and self.ratio is not None:
            checks.append(self.ratio <= self.target)
        if self.memory_limit_mb is not None and self.peak_mb is not None:
            checks.append(self.peak_mb <= self.memory_limit_mb)
        if not checks:
            return "-"
        return "met" if all(checks) else "MISSED"


BIG_BATCH = 100_000
"""The batch size of each write scenario's second row: what larger transactions buy."""


def batch_rows(
    *,
    scenario: str,
    size: str,
    big_size: str,
    times: dict[str, list[float]],
    baseline_name: str,
    target: float,
    peak_mb: float,
    planner: str,
) -> list[Row]:
    """The two rows of a write scenario: the default batch size (``times["pk"]``, held to
    ``target``) and :data:`BIG_BATCH` (``times["pk_big"]``, a setting changed on purpose: shown,
    with no target of its own), both against ``times["base"]``."""
    return [
        Row(
            scenario=scenario,
            size=size,
            pk=median(times["pk"]),
            baseline=median(times["base"]),
            baseline_name=baseline_name,
            target=target,
            peak_mb=peak_mb,
            samples=times,
        ),
        Row(
            scenario=f"{scenario}, batch_size={BIG_BATCH:,}",
            size=big_size,
            pk=median(times["pk_big"]),
            baseline=median(times["base"]),
            baseline_name=baseline_name,
            target=None,  # an explicit setting: the targets are the defaults' (issue 15)
            note=f"{planner}(batch_size=...): a setting, no target of its own",
        ),
    ]


def cache_row(
    *, scenario: str, size: str, times: dict[str, list[float]], baseline_name: str, target: float
) -> Row:
    """The ``realistic cache`` row of an SQLite write scenario: ``times["pk_cache"]`` against
    ``times["base_cache"]``, both with ``PRAGMA cache_size=-65536``."""
    return Row(
        scenario=f"{scenario}, cache 64 MiB",
        size=size,
        pk=median(times["pk_cache"]),
        baseline=median(times["base_cache"]),
        baseline_name=baseline_name,
        target=target,
        note=f"PRAGMA cache_size=-{REALISTIC_CACHE_KIB} on both sides (default: 2 MiB)",
    )


def with_cache(fn: Callable[[Any], Any], conn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn`` run with the realistic page cache set on ``conn(state)`` first (a PRAGMA that
    only sets a limit: no I/O, nothing measurable added to the timed run)."""

    def run(state: Any) -> Any:
        conn(state).execute(f"PRAGMA cache_size=-{REALISTIC_CACHE_KIB}")
        return fn(state)

    return run


def timed(fn: Callable[[], Any]) -> float:
    """Seconds ``fn()`` takes (garbage collection is run before, then left on)."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(
    prepare: Callable[[], Any],
    contenders: Sequence[tuple[str, Callable[[Any], Any]]],
    repetitions: int,
    *,
    cleanup: Callable[[Any], Any] | None = None,
    check: Callable[[str, Any, Any], Any] | None = None,
) -> dict[str, list[float]]:
    """Time each contender ``repetitions`` times, alternating, each on a fresh ``prepare()``.

    Args:
        prepare: makes a fresh copy of the data and returns what the contenders take.
        contenders: ``(name, fn)`` pairs; ``fn(state)`` is the timed operation. A contender that
            returns :class:`Measured` (it timed itself, e.g. in a subprocess) is taken at its word.
        repetitions: runs per contender.
        cleanup: called with the state after each run (untimed).
        check: called as ``check(name, state, result)`` after each run (untimed), to assert
            that both sides did the same work.

    Returns:
        ``{name: [seconds, ...]}``.
    """
    times: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for rep in range(repetitions):
        order = list(contenders) if rep % 2 == 0 else list(reversed(contenders))
        for name, fn in order:
            state = prepare()
            try:
                gc.collect()
                start = time.perf_counter()
                result = fn(state)
                elapsed = time.perf_counter() - start
                times[name].append(result.seconds if isinstance(result, Measured) else elapsed)
                if check is not None:
                    check(name, state, result)
            finally:
                if cleanup is not None:
                    cleanup(state)
    return times


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return statistics.median(values)


@contextlib.contextmanager
def _tracing() -> Iterator[None]:
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    try:
        yield
    finally:
        if not was:
            tracemalloc.stop()


def peak_python_memory(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Peak growth of the Python heap (MB, tracemalloc) while ``fn()`` runs, and its result.

    tracemalloc sees every allocation made through Python's allocators (objects, rows read from
    the database, buffers); it does not see memory the SQLite library allocates for itself.
    """
    gc.collect()
    with _tracing():
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    return (peak - before) / 1e6, result


# -- the table ---------------------------------------------------------------------------------
HEADERS = (
    "scenario",
    "size",
    "privacy_kit median",
    "baseline median",
    "ratio",
    "target",
    "peak mem (tracemalloc)",
    "status",
    "note",
)


def format_seconds(value: float | None) -> str:
    """``0.0123`` -> ``12.3 ms``; ``None`` -> ``-``.

    Example:
        >>> format_seconds(0.0123), format_seconds(2.5), format_seconds(None)
        ('12.3 ms', '2.50 s', '-')
    """
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.0f} us"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def _cells(row: Row) -> list[str]:
    ratio = row.ratio
    targets = []
    if row.target is not None:
        targets.append(f"<= {row.target:g}")
    if row.memory_limit_mb is not None:
        targets.append(f"mem < {row.memory_limit_mb:g} MB")
    return [
        row.scenario,
        row.size,
        format_seconds(row.pk),
        format_seconds(row.baseline) + (f" ({row.baseline_name})" if row.baseline_name else ""),
        "-" if ratio is None else f"{ratio:.2f}",
        ", ".join(targets) or "-",
        "-" if row.peak_mb is None else f"{row.peak_mb:.1f} MB",
        row.status,
        " ".join(row.note.split()),  # one line, whatever the message (driver errors have several)
    ]


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a plain-text table with aligned columns."""
    cells = [list(HEADERS), *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]
    lines = []
    for n, line in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (``|`` inside a cell is escaped)."""

    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" for _ in HEADERS) + "|",
    ]
    lines.extend("| " + " | ".join(esc(c) for c in _cells(r)) + " |" for r in rows)
    return "\n".join(lines)
