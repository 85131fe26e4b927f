"""``privacy-kit sweep``, ``export`` and ``erase``: the engine's operations over a database URL.

Each command loads the policy and the data map, opens the database (``sqlite:///path`` with the
SQLite adapter, any other URL with SQLAlchemy), builds an :class:`~privacy_kit.Engine` and runs
one operation as of ``--now`` (required, with an offset: the time is an argument, never the
clock). ``--dry-run`` prints the plan and changes nothing. Warnings (no shared state store, no
shared secret) go to standard error, and into the ``--json`` document.

Like ``demo``, each step (open the database, plan, apply; or export) shows on standard error: a
rich bar on a terminal, one line per step with what it counted otherwise (``--plain``: lines on
a terminal too). The results follow the colour rules of :class:`~privacy_kit.cli._output.Lines`:
problems in red and a dry run's line in yellow on a terminal, plain words in a file or a pipe.
``export --lang`` is the language of the bundle's manifest and summary.

Exit codes: 0 done; 1 a finding or a partial result (records no sweep can time, record types
skipped, a subject of whom nothing was found, records a hold placed after planning kept, or a
store failure while applying: rerun to resume); 2 bad input (see :mod:`privacy_kit.cli._main`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeVar

from .._errors import AdapterError, ConfigurationError, PlanError
from ._output import Lines, Progress, dumps

T = TypeVar("T")

__all__ = ["add_store_commands"]

EXIT_FINDINGS = 1
"""Something the operation could not do, or found nothing to do it on."""

_NO_STATE = (
    "no --state: holds, objections and retention choices recorded by other processes are not "
    "seen (pass --state URL, the deployment's shared state store)"
)
_RANDOM_KEY = (
    "no --secret-file and no --state: subject references in the output and audit log use a "
    "random key and match no other run"
)


def _instant(text: str) -> dt.datetime:
    """``--now``: an ISO 8601 instant (its offset is checked by the command: exit 2)."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid instant {text!r}: expected e.g. 2026-01-01T00:00:00+00:00"
        ) from None


def _aware(value: dt.datetime) -> dt.datetime:
    from .._errors import NaiveDatetimeError  # noqa: PLC0415

    if value.utcoffset() is None:
        raise NaiveDatetimeError("--now", f"{value.isoformat()}: add an offset, +00:00 for UTC")
    return value


def _subject(text: str, engine: Any) -> Any:
    """``--subject kind:identity=value[,...]``, its kind and identities checked against the data
    map before any record is read (:meth:`~privacy_kit.Subject.parse`)."""
    from .._scope import Subject  # noqa: PLC0415

    return Subject.parse(text, argument="--subject", datamap=engine.datamap)


def _language(tag: str) -> str:
    """``--lang``: a language tag (case-insensitive), or bad input naming the option."""
    from .._types import normalize_language  # noqa: PLC0415

    try:
        return normalize_language(tag)
    except ValueError as exc:
        raise ConfigurationError(f"--lang: {exc}") from None


def _sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///path`` URL (``sqlite:////abs/path`` for an absolute one)."""
    if not url.startswith("sqlite:///"):
        return None
    return url[len("sqlite:///") :] or None


def _sqlalchemy(what: str, url: str) -> None:
    try:
        import sqlalchemy  # noqa: F401, PLC0415 - only for the URL's check
    except ImportError:
        raise ConfigurationError(
            f"{what} {url.split(':', 1)[0]}:...: needs SQLAlchemy: pip install "
            "'privacy-kit[sqlalchemy]' (or [postgres]); only sqlite:///path works without it"
        ) from None


def _adapter(url: str) -> Any:
    path = _sqlite_path(url)
    if path is not None:
        from ..adapters._sqlite import SQLiteAdapter  # noqa: PLC0415

        if path != ":memory:" and not Path(path).is_file():  # sqlite3 would create an empty one
            raise ConfigurationError(f"--db {url}: no such database file {path!r}")
        return SQLiteAdapter(path)
    _sqlalchemy("--db", url)
    from ..adapters._sqlalchemy import SQLAlchemyAdapter  # noqa: PLC0415

    return SQLAlchemyAdapter(url)


def _state(url: str) -> Any:
    path = _sqlite_path(url)
    if path is not None:
        from ..audit._state_sqlite import SqliteStateStore  # noqa: PLC0415

        return SqliteStateStore(path)
    _sqlalchemy("--state", url)
    from ..audit._state_sqlalchemy import SQLAlchemyStateStore  # noqa: PLC0415

    return SQLAlchemyStateStore(url)


def _secret(path: Path) -> bytes:
    try:
        data = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigurationError(f"--secret-file {path}: {exc.strerror or exc}") from None
    if len(data) < 16:
        raise ConfigurationError(f"--secret-file {path}: the secret must be at least 16 bytes")
    return data


@contextmanager
def _engine(args: argparse.Namespace, warned: list[str]) -> Iterator[Any]:
    """The engine the arguments describe; closes what it opened."""
    import warnings  # noqa: PLC0415

    from ..audit._log import AuditLog  # noqa: PLC0415
    from ..engine._engine import Engine  # noqa: PLC0415
    from ..model._loading import load_datamap, load_policy  # noqa: PLC0415

    policy = load_policy(args.policy)
    datamap = load_datamap(args.datamap, policy=policy)
    secret = _secret(args.secret_file) if args.secret_file is not None else None
    with ExitStack() as stack:
        adapter = _adapter(args.db)
        stack.callback(adapter.close)
        state = None
        if args.state is not None:
            state = _state(args.state)
            stack.callback(state.close)
        else:
            warned.append(_NO_STATE)
            if secret is None:
                warned.append(_RANDOM_KEY)
        audit = AuditLog.jsonl(args.audit) if args.audit is not None else None
        with warnings.catch_warnings():  # the random-secret warning is the line above
            warnings.simplefilter("ignore")
            engine = Engine(policy, datamap, adapter, secret=secret, state=state, audit=audit)
        yield engine


class _Steps:
    """The command's steps on standard error (see :class:`~privacy_kit.cli._output.Progress`)."""

    def __init__(self, args: argparse.Namespace, total: int) -> None:
        self.progress = Progress(
            sys.stderr,
            total=total,
            label=f"privacy-kit {args.command}",
            fancy=False if args.plain else None,
        )

    def run(self, title: str, work: Callable[[], T], counted: Callable[[T], str]) -> T:
        """Do ``work`` as the next step; ``counted`` says what it did (on the step's line)."""
        with self.progress.step(title):
            started = time.perf_counter()
            value = work()
        self.progress.done(title, time.perf_counter() - started, counted(value))
        return value

    def apply(
        self,
        args: argparse.Namespace,
        engine: Any,
        plan: Any,
        counted: Callable[[tuple[Any, str | None]], str],
    ) -> tuple[Any, str | None]:
        """The last step of a planning command, none for a dry run: apply ``plan`` (see
        :func:`_apply`)."""
        if args.dry_run:
            return None, None
        return self.run("Apply the plan", lambda: _apply(engine, plan), counted)

    def open(self, args: argparse.Namespace, warned: list[str], stack: ExitStack) -> Any:
        """The first step: the engine over the database, checked against the data map."""
        return self.run(
            "Open the database",
            lambda: stack.enter_context(_engine(args, warned)),
            lambda engine: f"{len(engine.datamap.record_types)} record type(s) match the data map",
        )


def _swept(value: tuple[Any, str | None]) -> str:
    report, failure = value
    return f"stopped: {failure}" if failure is not None else f"{report.total} record(s) done"


def _erased(value: tuple[Any, str | None]) -> str:
    report, failure = value
    if failure is not None:
        return f"stopped: {failure}"
    deleted, anonymised = sum(report.deleted.values()), sum(report.anonymised.values())
    return f"deleted {deleted}, anonymised {anonymised} record(s)"


def _emit(
    args: argparse.Namespace, out: TextIO, warned: list[str], document: dict[str, Any]
) -> None:
    warnings = Lines(sys.stderr, fancy=False if args.plain else None)
    for line in warned:
        warnings.write(f"privacy-kit {args.command}: warning: {line}", style="yellow")
    if args.json:
        out.write(dumps({"command": args.command, "warnings": warned, **document}) + "\n")


def _conclude(
    args: argparse.Namespace,
    out: TextIO,
    warned: list[str],
    *,
    now: dt.datetime,
    problems: list[str],
    applied: tuple[Any, str | None],
    again: str,
    plan: str,
    planned: str,
    report: str | None,
    document: dict[str, Any],
) -> int:
    """The end of a planning command (``sweep``, ``erase``): what applying left undone joins
    ``problems``; then the plain text (the plan, the dry run's line or the report, each problem)
    or, with ``--json``, one document; the exit code (1 when there is a problem)."""
    done, failure = applied
    if done is not None:
        problems += [f"held after planning: {h.describe()}" for h in done.newly_held]
    if failure is not None:
        problems.append(f"stopped: {failure} (run the {again} again to resume)")
    if not args.json:
        lines = Lines(out, fancy=False if args.plain else None)
        lines.write(plan)
        if args.dry_run:
            lines.write(f"dry run: nothing changed ({planned})", style="yellow")
        elif report is not None:
            lines.write(report)
        for problem in problems:
            lines.write(f"problem: {problem}", style="bold red")
    head = {"now": now.isoformat(), "dry_run": args.dry_run, "ok": not problems}
    _emit(args, out, warned, {**head, "problems": problems, **document})
    return EXIT_FINDINGS if problems else 0


def _apply(engine: Any, plan: Any) -> tuple[Any, str | None]:
    """Apply ``plan``; a store failure midway is a partial result (exit 1), not bad input."""
    try:
        return engine.apply(plan), None
    except (AdapterError, PlanError) as exc:
        return None, " ".join(f"{type(exc).__name__}: {exc}".split())


def _cmd_sweep(args: argparse.Namespace, out: TextIO) -> int:
    now = _aware(args.now)
    warned: list[str] = []
    steps = _Steps(args, total=2 if args.dry_run else 3)
    with steps.progress, ExitStack() as stack:
        engine = steps.open(args, warned, stack)
        plan = steps.run(
            "Plan the sweep",
            lambda: engine.plan_retention(now=now),
            lambda p: f"{p.total} record(s) in {len(p.entries)} entr(y/ies), {p.total_held} held",
        )
        report, failure = steps.apply(args, engine, plan, _swept)
    problems = [f"{o.total} record(s) can never be timed: {o.describe()}" for o in plan.orphans]
    problems += [f"skipped {rt}: {reason}" for rt, reason in plan.skipped]
    return _conclude(
        args,
        out,
        warned,
        now=now,
        problems=problems,
        applied=(report, failure),
        again="sweep",
        plan=plan.summary(),
        planned=f"{plan.total} record(s) planned",
        report=None if report is None else report.summary(),
        document={
            "plan": {
                "id": plan.id,
                "total": plan.total,
                "held": plan.total_held,
                "orphans": plan.total_orphans,
                "by_rule": plan.by_rule(),
                "skipped": [{"record_type": rt, "reason": r} for rt, r in plan.skipped],
                "notes": list(plan.notes),
                "entries": plan.to_records(),
            },
            "report": None
            if report is None
            else {"total": report.total, "by_rule": report.counts(), "lines": report.to_records()},
        },
    )


def _cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    now = _aware(args.now)
    lang = _language(args.lang)
    warned: list[str] = []
    steps = _Steps(args, total=2)
    with steps.progress, ExitStack() as stack:
        engine = steps.open(args, warned, stack)
        who = _subject(args.subject, engine)
        result = steps.run(
            "Export the subject's data",
            lambda: engine.export(who, args.out, now=now, lang=lang),
            lambda r: f"{r.total} record(s) from {len(r.counts)} entr(y/ies), {r.size} bytes",
        )
    warned.extend(result.notes)  # a language without phrases: the summary's fixed text English
    searched = ", ".join(result.searched) or "no record type links this subject"
    if not args.json:
        lines = Lines(out, fancy=False if args.plain else None)
        lines.write(
            f"exported {result.total} record(s) about {who.kind} {result.subject_reference} to "
            f"{result.path} (as of {now.isoformat()})"
        )
        for entry, count in result.counts.items():
            lines.write(f"  {entry:<28} {count}")
        if result.nothing_held:
            lines.write(
                f"problem: nothing is held about this subject; searched: {searched}",
                style="bold red",
            )
    _emit(
        args,
        out,
        warned,
        {
            "now": now.isoformat(),
            "ok": not result.nothing_held,
            "subject_reference": result.subject_reference,
            "path": str(result.path),
            "lang": lang,
            "total": result.total,
            "counts": result.counts,
            "redacted": {k: list(v) for k, v in result.redacted.items()},
            "files": list(result.files),
            "sha256": result.sha256,
            "size": result.size,
            "searched": list(result.searched),
        },
    )
    return EXIT_FINDINGS if result.nothing_held else 0


def _cmd_erase(args: argparse.Namespace, out: TextIO) -> int:
    now = _aware(args.now)
    warned: list[str] = []
    steps = _Steps(args, total=2 if args.dry_run else 3)
    with steps.progress, ExitStack() as stack:
        engine = steps.open(args, warned, stack)
        who = _subject(args.subject, engine)
        plan = steps.run(
            "Plan the erasure",
            lambda: engine.plan_erasure(who, now=now, waive=args.waive),
            lambda p: (
                f"delete {sum(p.deleted.values())}, anonymise {sum(p.anonymised.values())} "
                f"record(s), keep {len(p.kept)} item(s)"
            ),
        )
        report, failure = steps.apply(args, engine, plan, _erased)
    problems: list[str] = []
    if plan.nothing_held:
        problems.append(
            "nothing is held about this subject; searched: "
            + (", ".join(plan.searched) or "no record type links this subject")
        )
    return _conclude(
        args,
        out,
        warned,
        now=now,
        problems=problems,
        applied=(report, failure),
        again="erasure",
        plan=str(plan),
        planned=f"plan {plan.plan_id}",
        report=None if report is None else str(report),
        document={
            "plan": {
                "id": plan.plan_id,
                "subject_reference": plan.subject_reference,
                "deleted": plan.deleted,
                "anonymised": plan.anonymised,
                "kept": {k.record_type: k.count for k in plan.kept},
                "notes": list(plan.notes),
                "rows": plan.to_records(),
            },
            "report": None
            if report is None
            else {
                "deleted": report.deleted,
                "anonymised": report.anonymised,
                "recipients": list(report.recipients),
                "rows": report.to_records(),
            },
        },
    )


def add_store_commands(sub: Any) -> None:
    """Add ``sweep``, ``export`` and ``erase`` to the parser's subcommands."""

    def common(p: argparse.ArgumentParser, *, subject: bool) -> None:
        p.add_argument("--policy", type=Path, required=True, help="the policy file")
        p.add_argument("--datamap", type=Path, required=True, help="the data map file")
        p.add_argument(
            "--db",
            required=True,
            metavar="URL",
            help="sqlite:///path (SQLite), or an SQLAlchemy URL (the sqlalchemy extra)",
        )
        if subject:
            p.add_argument(
                "--subject",
                required=True,
                metavar="KIND:IDENTITY=VALUE",
                help="whom, e.g. customer:email=ann@example.com",
            )
        p.add_argument(
            "--now",
            type=_instant,
            required=True,
            help="the instant to act as of, with an offset, e.g. 2026-01-01T00:00:00+00:00",
        )
        p.add_argument("--state", metavar="URL", help="the deployment's shared state store")
        p.add_argument("--secret-file", type=Path, help="file holding the deployment's secret")
        p.add_argument("--audit", type=Path, help="append the audit entries to this JSONL file")
        p.add_argument("--json", action="store_true", help="print the result as one JSON document")
        p.add_argument(
            "--plain", action="store_true", help="plain lines instead of a progress display"
        )

    p = sub.add_parser("sweep", help="plan and apply the retention sweep due at --now")
    common(p, subject=False)
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("export", help="write a subject's data bundle (access, portability)")
    common(p, subject=True)
    p.add_argument("--out", type=Path, required=True, help="the zip file to write")
    p.add_argument(
        "--lang", default="en", help="language of the manifest's and summary's texts (default: en)"
    )
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("erase", help="plan and apply a subject's erasure")
    common(p, subject=True)
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.add_argument(
        "--waive",
        action="append",
        default=[],
        metavar="EXCEPTION",
        help="an erasure exception of the policy not to apply (repeatable)",
    )
    p.set_defaults(func=_cmd_erase)
