"""``privacy-kit demo``: the whole library on the reference example, end to end, in a few seconds.

It creates an SQLite database in a folder (a temporary one unless you name it), fills it with the
sample-data generator (a few thousand records of the scheduling service: customers, their
bookings with invitees, sessions, payments, ...), and then, step by step, with a progress
display: validates the policy against the data map, exports one invitee's data, erases one host,
plans and applies retention as of a fixed date (with a few customers' own booking-deletion
settings and a legal hold), and verifies the audit log. It prints what each step did and where the
files are. It needs no server and no network, and the same arguments print the same counts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import attrs

from ._output import Progress

__all__ = ["DEFAULT_AS_OF", "DemoResult", "DemoStep", "run_demo"]

DEFAULT_AS_OF = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""The demo's default "now": fixed, so its output is reproducible."""

_SECRET = b"privacy-kit-demo-secret-not-for-production"


@attrs.frozen
class DemoStep:
    """One step of the demo: its title, what it found or did, and how long it took."""

    title: str
    lines: tuple[str, ...]
    seconds: float


@attrs.frozen
class DemoResult:
    """What the demo did and where it left its files.

    Attributes:
        folder: the output folder.
        database: the SQLite database.
        export: the invitee's export bundle.
        audit_log: the JSON-lines audit log.
        steps: every step, in order.
        ok: the policy check found no error and the audit log verified.
    """

    folder: Path
    database: Path
    export: Path
    audit_log: Path
    steps: tuple[DemoStep, ...]
    ok: bool


class _Display:
    """Results on ``stream``; progress there too, or on its own stream (see :class:`Progress`).

    With rich installed and ``stream`` a terminal: check marks (and a spinner, when progress is
    not shown elsewhere).
    """

    def __init__(
        self, stream: TextIO, *, fancy: bool | None, progress: Progress | None = None
    ) -> None:
        self.stream = stream
        self.progress = progress
        self.console: Any = None
        if fancy is None:
            fancy = stream.isatty()
        if fancy:
            try:
                from rich.console import Console  # noqa: PLC0415 - optional, for the CLI only
            except ImportError:  # pragma: no cover - depends on the environment
                fancy = False
            else:
                self.console = Console(file=stream, highlight=False)
        self.fancy = fancy

    def line(self, text: str = "") -> None:
        if self.console is not None:
            self.console.print(text, markup=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    @contextlib.contextmanager
    def working(self, number: int, total: int, title: str) -> Iterator[None]:
        if self.progress is not None:
            with self.progress.step(title):
                yield
        elif self.console is not None:
            with self.console.status(f"[{number}/{total}] {title} ..."):
                yield
        else:
            self.line(f"[{number}/{total}] {title} ...")
            yield

    def done(self, number: int, total: int, step: DemoStep) -> None:
        mark = "✓" if self.fancy else "done"
        if self.progress is not None:
            self.progress.done(step.title, step.seconds, step.lines[0] if step.lines else "done")
            prefix = f"{mark} " if self.fancy else ""
            self.line(f"{prefix}[{number}/{total}] {step.title} ({step.seconds:.2f}s)")
        elif self.fancy:
            self.line(f"{mark} [{number}/{total}] {step.title} ({step.seconds:.2f}s)")
        else:
            self.line(f"      {mark} in {step.seconds:.2f}s")
        for text in step.lines:
            self.line(f"      {text}")


def run_demo(
    out: str | os.PathLike[str] | None = None,
    *,
    as_of: dt.datetime = DEFAULT_AS_OF,
    customers: int = 60,
    bookings_per_customer: int = 25,
    seed: int = 7,
    stream: TextIO | None = None,
    fancy: bool | None = None,
    progress: TextIO | None = None,
) -> DemoResult:
    """Run the demo and print its steps to ``stream``.

    Args:
        out: the output folder (created if missing); a new temporary folder if ``None``.
        as_of: the demo's "now": the data ends there and retention is applied as of it.
        customers: how many customer accounts the sample data has.
        bookings_per_customer: bookings per customer, on average.
        seed: the sample data's random seed.
        stream: where to print (standard output by default).
        fancy: use rich's progress display (default: when rich is installed and ``stream`` is a
            terminal); ``False`` prints plain lines.
        progress: where to show progress, e.g. ``sys.stderr`` (a rich bar on a terminal, else a
            line per step with what it counted); ``None``: with the results on ``stream``.

    Returns:
        A :class:`DemoResult`.

    Raises:
        ValueError: ``as_of`` is naive.
        ConfigurationError: ``out`` already holds a demo database, or a count is out of range.

    Example:
        >>> import io, tempfile
        >>> result = run_demo(tempfile.mkdtemp(), customers=8, bookings_per_customer=4,
        ...                   stream=io.StringIO())
        >>> result.ok, [s.title for s in result.steps][:2]
        (True, ['Create a sample database', 'Validate the policy against the data map'])
    """
    from .._errors import ConfigurationError  # noqa: PLC0415
    from .._types import require_aware  # noqa: PLC0415

    now = require_aware(as_of, "as_of").astimezone(dt.UTC)
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="privacy-kit-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "demo.sqlite"
    if database.exists():
        raise ConfigurationError(f"{database} already exists; choose an empty folder for the demo")
    audit_path = folder / "audit.jsonl"
    audit_path.unlink(missing_ok=True)
    export_path = folder / "invitee-export.zip"
    export_path.unlink(missing_ok=True)
    with contextlib.ExitStack() as stack:
        shown = None
        if progress is not None:
            shown = stack.enter_context(
                Progress(progress, total=6, label="privacy-kit demo", fancy=fancy)
            )
        display = _Display(
            stream if stream is not None else sys.stdout, fancy=fancy, progress=shown
        )
        return _run(
            display,
            now=now,
            folder=folder,
            database=database,
            audit_path=audit_path,
            export_path=export_path,
            customers=customers,
            bookings_per_customer=bookings_per_customer,
            seed=seed,
        )


def _run(
    display: _Display,
    *,
    now: dt.datetime,
    folder: Path,
    database: Path,
    audit_path: Path,
    export_path: Path,
    customers: int,
    bookings_per_customer: int,
    seed: int,
) -> DemoResult:
    """The demo's steps (see :func:`run_demo`)."""
    from .._scope import Subject  # noqa: PLC0415
    from ..adapters import SQLiteAdapter  # noqa: PLC0415
    from ..audit._log import AuditLog  # noqa: PLC0415
    from ..engine._engine import Engine  # noqa: PLC0415
    from ..model._check import check  # noqa: PLC0415 - the demo is a CLI command: import on use
    from ..model._loading import example_path, load_datamap, load_policy  # noqa: PLC0415
    from ..retention._settings import RetentionSettings  # noqa: PLC0415
    from ._sample import generate  # noqa: PLC0415

    steps: list[DemoStep] = []
    total = 6
    ok = True

    display.line(f"privacy_kit demo: the reference scheduling service, as of {now.date()}")
    display.line(f"Output folder: {folder}")
    display.line()

    def record(number: int, title: str, lines: list[str], started: float) -> None:
        step = DemoStep(title, tuple(lines), time.perf_counter() - started)
        steps.append(step)
        display.done(number, total, step)

    policy = load_policy(example_path("policy.yaml"))
    datamap = load_datamap(example_path("datamap.yaml"), policy=policy)
    db = SQLiteAdapter(database)
    try:
        # 1. data
        title = "Create a sample database"
        with display.working(1, total, title):
            started = time.perf_counter()
            db.create_schema(datamap)
            summary = generate(
                db,
                datamap,
                now=now,
                customers=customers,
                bookings_per_customer=bookings_per_customer,
                seed=seed,
            )
        counts = ", ".join(f"{n} {name}" for name, n in summary.counts.items() if n)
        record(
            1,
            title,
            [
                f"{summary.total} records in {database.name}: {counts}",
                (
                    f"{len(summary.closed_ids)} closed and {len(summary.deactivated_ids)} "
                    "deactivated accounts"
                ),
            ],
            started,
        )

        # 2. validate
        title = "Validate the policy against the data map"
        with display.working(2, total, title):
            started = time.perf_counter()
            report = check(policy, datamap)
        ok = ok and report.ok
        lines = [
            (
                f"policy {policy.version} ({policy.controller.name}): {len(policy.collection)} "
                f"categories collected, {len(policy.retention)} retention rules, "
                f"{len(policy.rights)} rights"
            ),
            f"data map: {len(datamap.record_types)} record types; check: "
            + ("no findings" if not report.findings else f"{len(report.findings)} finding(s)"),
        ]
        lines.extend(f"  {finding}" for finding in report.findings)
        record(2, title, lines, started)

        engine = Engine(policy, datamap, db, secret=_SECRET, audit=AuditLog.jsonl(audit_path))

        # 3. export one invitee (one who booked with several hosts)
        title = "Export one invitee's data (access / portability)"
        with display.working(3, total, title):
            started = time.perf_counter()
            invitee = Subject.of("end_user", email=_busiest_invitee(engine, summary.invitee_emails))
            exported = engine.export(invitee, export_path, now=now)
        redacted = sorted({f for fields in exported.redacted.values() for f in fields})
        record(
            3,
            title,
            [
                f"{exported.total} record(s) of {engine.reference(invitee)} -> {export_path.name}",
                f"files: {', '.join(exported.files)}",
                "the hosts' private fields were redacted: " + (", ".join(redacted) or "none"),
            ],
            started,
        )

        # 4. erase one host (an open account)
        title = "Erase one host (right to be forgotten)"
        closed = set(summary.closed_ids) | set(summary.deactivated_ids)
        host_id = next(i for i in summary.customer_ids if i not in closed)
        with display.working(4, total, title):
            started = time.perf_counter()
            host = Subject.of("customer", user_id=host_id)
            erasure = engine.plan_erasure(host, now=now)
            erased = engine.apply(erasure)
        lines = [f"customer {host_id} ({engine.reference(host)}):"]
        lines.extend(f"  deleted    {rt:<16} {n}" for rt, n in sorted(erased.deleted.items()) if n)
        lines.extend(
            f"  anonymised {rt:<16} {n}" for rt, n in sorted(erased.anonymised.items()) if n
        )
        lines.extend(
            f"  kept       {k.record_type:<16} {k.describe()}" for k in erased.kept if k.count
        )
        record(4, title, lines, started)

        # 5. retention
        title = f"Plan and apply retention as of {now.date()}"
        with display.working(5, total, title):
            started = time.perf_counter()
            settings = RetentionSettings(policy, folder / "retention-settings.json")
            open_ids = [i for i in summary.customer_ids if i not in closed and i != host_id]
            for account in open_ids[:5]:
                settings.set(account, "booking_data", "P90D")
            held_host = summary.closed_ids[0] if summary.closed_ids else open_ids[-1]
            hold = engine.place_hold(
                reason="Demo: dispute with a former customer",
                placed_by="legal team",
                now=now,
                subject=Subject.of("customer", user_id=held_host),
                hold_id="demo-hold",
            )
            plan = engine.plan_retention(now=now, settings=settings)
            applied = engine.apply(plan)
        lines = [
            (
                f"{len(settings)} customers chose to delete bookings 90 days after the meeting; "
                f"legal hold {hold.id!r} on customer {held_host}"
            ),
        ]
        for entry in plan.entries:
            if entry.count or entry.held:
                lines.append("  " + entry.describe())
        by_rule = ", ".join(
            f"{rule}: " + ", ".join(f"{n} {action}d" for action, n in actions.items())
            for rule, actions in applied.counts().items()
            if any(actions.values())
        )
        lines.append(
            f"applied: {applied.total} record(s) ({by_rule or 'none'}); "
            f"{plan.total_held} kept under the legal hold"
        )
        booking_id = _first_booking(engine, datamap, host_id=open_ids[0] if open_ids else None)
        if booking_id is not None:
            fate = engine.fate("bookings", booking_id, now=now, settings=settings)
            lines.append("a record's fate: " + fate.sentence)
        record(5, title, lines, started)

        # 6. audit
        title = "Verify the audit log"
        with display.working(6, total, title):
            started = time.perf_counter()
            verification = engine.audit.verify()
            entries = list(engine.audit.entries())
        ok = ok and verification.ok
        actions: dict[str, int] = {}
        for entry_ in entries:
            actions[entry_.action] = actions.get(entry_.action, 0) + 1
        record(
            6,
            title,
            [
                f"{len(entries)} entries, hash chain "
                + ("intact" if verification.ok else f"BROKEN: {verification}"),
                ", ".join(f"{a} x{n}" for a, n in sorted(actions.items())),
            ],
            started,
        )
    finally:
        db.close()

    display.line()
    display.line("Files:")
    for label, path in (
        ("database", database),
        ("export", export_path),
        ("audit log", audit_path),
        ("retention settings", folder / "retention-settings.json"),
    ):
        display.line(f"  {label:<19} {path}")
    display.line("All steps completed." if ok else "Completed, with problems (see above).")
    return DemoResult(folder, database, export_path, audit_path, tuple(steps), ok)


def _first_booking(engine: Any, datamap: Any, *, host_id: int | None) -> Any:
    """The key of a booking of ``host_id`` still in the store (for the fate example)."""
    from ..adapters import Eq  # noqa: PLC0415

    if host_id is None:
        return None
    rt = datamap.record_type("bookings")
    for batch in engine.adapter_for(rt).iter_records(
        rt, Eq("host_id", host_id), fields=[rt.primary_key], batch_size=1
    ):
        for row in batch:
            return row[rt.primary_key]
    return None


def _busiest_invitee(engine: Any, emails: tuple[str, ...]) -> str:
    """Of the first few invitees, the one with the most bookings (a more telling export)."""
    from ..adapters import Eq  # noqa: PLC0415

    rt = engine.datamap.record_type("bookings")
    adapter = engine.adapter_for(rt)
    candidates = emails[:30]
    return max(candidates, key=lambda e: (adapter.count(rt, Eq("invitee_email", e)), e))
