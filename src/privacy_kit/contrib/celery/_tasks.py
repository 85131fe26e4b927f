"""The sweep's tasks on the host's Celery app, and the chord that runs them.

A sweep is a chain: ``plan`` (or ``shard``, for a plan made elsewhere) returns the plan and its
shards as JSON; ``fan_out`` replaces itself with a chord whose header is one ``apply_shard`` per
shard and whose body is ``finish``. Replacing keeps the task id, so the ``AsyncResult`` of the
chain resolves to ``finish``'s report. Every value that travels is a string or a list of strings
(plans, shards and shard reports in their versioned JSON forms), so the default JSON serialiser
carries them.

Each worker process builds its engine once, with the host's factory, the first time one of its
tasks runs (after the fork of a prefork pool), and checks that its journals and audit log are not
private to the process.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs

try:
    import celery
except ImportError as exc:  # pragma: no cover - exercised in the core-only environment
    raise ImportError(
        f"privacy_kit.contrib.celery needs Celery: pip install 'privacy-kit[celery]' ({exc})",
        name=exc.name,
    ) from exc

from ..._errors import (
    AdapterError,
    ConfigurationError,
    PlanError,
    SchemaMismatchError,
    WrongTypeError,
)
from ..._types import require_aware
from ...audit import MemorySink, MemoryStateStore, StateError
from ...engine import Engine
from ...retention import RetentionJournal, RetentionPlan, RetentionReport, Shard, ShardReport

__all__ = ["SweepTasks", "register_tasks", "report_data", "waves"]

EngineFactory = Callable[[], Engine]
T = TypeVar("T")
_TASKS = ("plan", "shard", "fan_out", "apply_shard", "finish")
# PEP 249 names the errors of a database's operation (a lost connection, a failover, a
# deadlock's victim) OperationalError and those of the driver's interface InterfaceError; every
# driver and SQLAlchemy use those names. A retry can cure them; it cannot cure the others.
_DBAPI_TRANSIENT = frozenset({"OperationalError", "InterfaceError"})
_REGISTERED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a database failure a later attempt may not meet (then a task retries).

    A storage adapter's failure (:class:`~privacy_kit.AdapterError`, but not a schema that does
    not match the data map), a state store's failure (:class:`~privacy_kit.audit.StateError`),
    a lost connection, or a driver's ``OperationalError`` / ``InterfaceError`` (PEP 249), found
    on the error itself or on the error it was raised from.

    Example:
        >>> transient(ConnectionResetError()), transient(PlanError("stale plan"))
        (True, False)
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SchemaMismatchError | PlanError | ConfigurationError):
            return False
        if isinstance(current, AdapterError | StateError | ConnectionError | TimeoutError):
            return True
        if any(c.__name__ in _DBAPI_TRANSIENT for c in type(current).__mro__):
            return True
        current = current.__cause__ or current.__context__
    return False


def parse_now(text: object) -> dt.datetime:
    """``now`` as the planning task receives it: an ISO 8601 string with a UTC offset.

    Raises:
        WrongTypeError: not a string.
        ConfigurationError: not ISO 8601.
        NaiveDatetimeError: no offset (the task does not guess the host's time zone).

    Example:
        >>> parse_now("2026-01-01T03:00:00+00:00").isoformat()
        '2026-01-01T03:00:00+00:00'
    """
    if not isinstance(text, str):
        raise WrongTypeError(f"now must be an ISO 8601 string, got {type(text).__name__}")
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(
            f"now must be an ISO 8601 instant such as 2026-01-01T03:00:00+00:00, got {text!r}"
        ) from None
    return require_aware(value)


def check_shared(engine: Engine, *, eager: bool = False) -> None:
    """Refuse an engine whose journals or audit log are private to the process.

    A shard's journal entry is how the ``finish`` task, in whatever process, learns the shard is
    done, and how a shard run again after its worker died finds what the first run did: with no
    state store, or a :class:`~privacy_kit.audit.MemoryStateStore`, each worker would keep its
    own and the sweep could never finish (or would count wrong). An in-memory audit log would
    lose every worker's entries when the process ends. ``eager``: the tasks all run in this one
    process (``task_always_eager``), so a memory store and an in-memory audit log serve them all;
    a state store is still needed (each task loads the plan from JSON, and finds its shards in
    the store's journal).

    Raises:
        ConfigurationError: no state store, a memory state store, or an in-memory audit log.
    """
    fix = (
        "give the engine factory's engine a store every worker shares (state="
        "SQLAlchemyStateStore(url), or SqliteStateStore(path) on one host) and an audit log that "
        "outlives the process (AuditLog.sqlalchemy(...) or AuditLog.jsonl(...))"
    )
    if engine.state is None:
        raise ConfigurationError(
            f"privacy_kit.contrib.celery: the engine has no state store, so each worker would "
            f"journal its shards in its own memory and no sweep could finish; {fix}"
        )
    if eager:
        return
    if isinstance(engine.state, MemoryStateStore):
        raise ConfigurationError(
            f"privacy_kit.contrib.celery: the engine's MemoryStateStore is private to one "
            f"process, so the workers would not see each other's shards; {fix}"
        )
    if isinstance(engine.audit.sink, MemorySink):
        raise ConfigurationError(
            f"privacy_kit.contrib.celery: the engine's audit log is in memory, so every "
            f"worker's entries would be lost with its process; {fix}"
        )


def report_data(
    report: RetentionReport, *, plan: str, shards: Sequence[ShardReport] = ()
) -> dict[str, Any]:
    """A sweep's :class:`~privacy_kit.RetentionReport` as JSON-able data (what ``finish`` returns).

    Keys: ``plan`` (its id), ``now`` (ISO 8601), ``total``, ``exact``, ``skipped_units``,
    ``lines`` (one dict per entry: :meth:`RetentionReport.to_records
    <privacy_kit.RetentionReport.to_records>`' columns), ``fulfilled`` and ``still_pending``
    (commitment ids), ``newly_held``, ``orphans`` and ``kept_indefinitely`` (one sentence each),
    ``summary`` (the report's text) and ``shards``: per shard report given, its ``entry``,
    ``index``, ``done``, ``resumed`` (some of its work was done by an earlier run, such as one
    whose worker died), ``exact`` and ``newly_held``; ``already_finished``: the sweep was
    finished before (a redelivered ``finish``), nothing was recorded again.

    Example:
        >>> import datetime as dt, json, privacy_kit as pk
        >>> report = pk.RetentionReport(now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        ...                             dry_run=False, lines=(), skipped_units=0)
        >>> data = report_data(report, plan="rp_1")
        >>> data["total"], data["now"], json.loads(json.dumps(data)) == data
        (0, '2026-01-01T00:00:00+00:00', True)
    """
    return {
        "plan": plan,
        "now": report.now.isoformat(),
        "total": report.total,
        "exact": report.exact,
        "skipped_units": report.skipped_units,
        "lines": [dict(r) for r in report.to_records()],
        "fulfilled": list(report.fulfilled),
        "still_pending": list(report.still_pending),
        "newly_held": [n.describe() for n in report.newly_held],
        "orphans": [o.describe() for o in report.orphans],
        "kept_indefinitely": [k.describe() for k in report.kept_indefinitely],
        "summary": report.summary(),
        "already_finished": report.already_finished,
        "shards": [
            {
                "entry": s.entry,
                "index": s.index,
                "done": s.done,
                "resumed": s.resumed,
                "exact": s.exact,
                "newly_held": s.newly_held,
            }
            for s in shards
        ],
    }


class _Engines:
    """The engine of this process: built by the factory on first use, again after a fork."""

    def __init__(self, factory: EngineFactory, *, eager: Callable[[], bool]) -> None:
        self._factory = factory
        self._eager = eager
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._pid = -1

    def get(self) -> Engine:
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                engine = self._factory()
                if not isinstance(engine, Engine):
                    raise WrongTypeError(
                        "the engine factory must return a privacy_kit.Engine, not "
                        f"{type(engine).__name__}"
                    )
                check_shared(engine, eager=self._eager())
                self._engine, self._pid = engine, os.getpid()
            return self._engine


def waves(shards: Sequence[Shard], items: Sequence[T]) -> list[list[T]]:
    """``items`` (one per shard, in the same order) in the waves their shards run in.

    A shard's entry must follow the entries in ``shard.after`` (records that read their trigger
    time from the accounts another entry changes, say): it runs in the wave after the last of
    theirs. Entries with nothing to follow are the first wave.

    Example:
        >>> a = Shard(plan="p", entry=0, index=0, of=1, field=None, on_account=False,
        ...           lower=None, upper=None, nulls=False)
        >>> b = attrs.evolve(a, entry=1, after=(0,))
        >>> waves([a, b, a], ["a1", "b", "a2"])
        [['a1', 'a2'], ['b']]
    """
    level: dict[int, int] = {}
    for shard in sorted(shards, key=lambda s: s.entry):  # an entry follows only earlier ones
        if shard.entry not in level:
            level[shard.entry] = 1 + max((level.get(a, -1) for a in shard.after), default=-1)
    out: dict[int, list[T]] = {}
    for shard, item in zip(shards, items, strict=True):
        out.setdefault(level[shard.entry], []).append(item)
    return [out[k] for k in sorted(out)]


def _journalled(engine: Engine, plan: RetentionPlan, shards: Sequence[Shard]) -> list[ShardReport]:
    """Each shard's report as the shared journal keeps it (the first one recorded)."""
    journal = RetentionJournal(state=engine.state)
    out = []
    for s in shards:
        found = journal.shard_report(plan.id, s.entry, s.key)
        if found is not None:
            out.append(ShardReport.from_dict(found, "journal"))
    return out


def _positive(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"rows_per_shard must be a positive integer, got {value!r}")
    return value


def _planned(plan: RetentionPlan, shards: Sequence[Shard]) -> dict[str, Any]:
    return {"plan": plan.to_json(), "shards": [s.to_json() for s in shards]}


@attrs.frozen
class SweepTasks:
    """privacy_kit's tasks on one Celery app (made by :func:`register_tasks`).

    Attributes:
        app: the Celery app they are registered on.
        plan: ``plan(now, rows_per_shard)``: plan the sweep due at ``now`` (an aware ISO 8601
            string) and shard it; returns ``{"plan": plan JSON, "shards": [shard JSON, ...]}``.
        shard: ``shard(plan, rows_per_shard)``: the same for a plan's JSON made elsewhere.
        fan_out: ``fan_out(planned)``: replaces itself with :meth:`chord` over ``planned``.
        apply_shard: ``apply_shard(plan, shard)``: apply one shard; returns its
            :class:`~privacy_kit.ShardReport` as JSON.
        finish: ``finish(results, plan, shards)``: the chord's body; returns
            :func:`report_data` of :meth:`Engine.finish_sweep <privacy_kit.Engine.finish_sweep>`.
        rows_per_shard: the default size of a shard (rows, as the adapter estimates them).

    Example:
        >>> from celery import Celery
        >>> tasks = register_tasks(Celery("example", set_as_current=False), lambda: None)
        >>> tasks.apply_shard.name, tasks.apply_shard.acks_late
        ('privacy_kit.sweep.apply_shard', True)
    """

    app: Any
    plan: Any
    shard: Any
    fan_out: Any
    apply_shard: Any
    finish: Any
    rows_per_shard: int
    _engines: _Engines = attrs.field(repr=False, alias="engines")

    def engine(self) -> Engine:
        """This process's engine (built by the factory on first use, and checked)."""
        return self._engines.get()

    def chord(self, plan: str, shards: Sequence[str]) -> Any:
        """The signature that applies ``shards`` of ``plan`` (JSON texts), then ``finish``.

        The shards run in waves (:func:`waves`): every shard of a wave at once, on any workers,
        and the next wave once the whole of it is done, so no shard waits on, or runs itself,
        an entry it must follow. One wave is one chord; several are a chain of groups ending in
        ``finish``. A plan with no shards (nothing planned) is ``finish`` alone.
        """
        if not shards:
            return self.finish.s([], plan, [])
        steps = [
            celery.group([self.apply_shard.si(plan, s) for s in wave])
            for wave in waves([Shard.from_json(s) for s in shards], list(shards))
        ]
        return celery.chain(*steps, self.finish.s(plan, list(shards)))

    def sweep(self, *, now: dt.datetime, rows_per_shard: int | None = None) -> Any:
        """Plan the sweep due at ``now`` in a worker and run it: plan, shards, then finish.

        Returns the ``AsyncResult`` of the chain; its ``get()`` is ``finish``'s report
        (:func:`report_data`). ``now`` is sent as ISO 8601 with its offset: compute it when the
        sweep is enqueued (see the beat example in docs/celery.md).

        Raises:
            NaiveDatetimeError: ``now`` without a timezone.
            ConfigurationError: the app has no result backend (a chord needs one).
        """
        self._check_backend()
        rows = self._rows(rows_per_shard)
        chain = self.plan.s(require_aware(now).isoformat(), rows) | self.fan_out.s()
        return chain.apply_async()

    def run(
        self,
        plan: RetentionPlan | str,
        *,
        shards: Sequence[Shard | str] | None = None,
        rows_per_shard: int | None = None,
    ) -> Any:
        """Run a plan made in this or another process through the chord; the ``AsyncResult``.

        ``shards``: the plan's shards (:meth:`Engine.shards <privacy_kit.Engine.shards>`), or
        ``None`` to have a worker choose them (``shard``, then ``fan_out``).

        Raises:
            ConfigurationError: the app has no result backend (a chord needs one).
        """
        self._check_backend()
        text = plan.to_json() if isinstance(plan, RetentionPlan) else plan
        if shards is None:
            return (self.shard.s(text, self._rows(rows_per_shard)) | self.fan_out.s()).apply_async()
        given = [s.to_json() if isinstance(s, Shard) else s for s in shards]
        return self.chord(text, given).apply_async()

    def _rows(self, rows: int | None) -> int:
        return _positive(self.rows_per_shard if rows is None else rows)

    def _check_backend(self) -> None:
        if self.app.conf.task_always_eager:
            return
        if not self.app.conf.result_backend:
            raise ConfigurationError(
                "privacy_kit.contrib.celery: a sweep is a chord, and a chord needs a result "
                "backend: set the app's result_backend (e.g. the Redis broker's URL)"
            )


def claim_names(app: Any, prefix: str, group: str, tasks: Sequence[str]) -> dict[str, str]:
    """The names ``<prefix>.<group>.<task>``, claimed on ``app``.

    Raises:
        ConfigurationError: one of them is registered on ``app`` already.
    """
    names = {t: f"{prefix}.{group}.{t}" for t in tasks}
    # Celery keeps the first task of a name and silently returns it for a second definition:
    # a second factory would never be used. Tasks made lazily are not in the registry until the
    # app is finalized, so the prefixes registered here are remembered too.
    registered = _REGISTERED.setdefault(app, set())
    taken = sorted(n for n in names.values() if n in app._tasks)  # without finalizing the app
    if f"{prefix}.{group}" in registered:
        taken = sorted({*taken, *names.values()})
    if taken:
        raise ConfigurationError(
            f"tasks {', '.join(taken)} are already registered on this Celery app: register "
            "privacy_kit's tasks once per app, or pass another prefix="
        )
    registered.add(f"{prefix}.{group}")
    return names


class Retrying:
    """The tasks' options (acknowledged late, rejected when the worker dies) and their retries:
    a transient failure (:func:`transient`) retries with exponential backoff and jitter.

    Raises:
        ConfigurationError: a bad number.
    """

    def __init__(self, max_retries: int, backoff: float, backoff_max: float) -> None:
        if max_retries < 0 or backoff <= 0 or backoff_max < backoff:
            raise ConfigurationError(
                "max_retries must be >= 0 and 0 < retry_backoff <= retry_backoff_max, got "
                f"{max_retries}, {backoff}, {backoff_max}"
            )
        self.max_retries, self.backoff, self.backoff_max = max_retries, backoff, backoff_max
        self._jitter = random.SystemRandom()

    def options(self) -> dict[str, Any]:
        """The options of every privacy_kit task."""
        return {
            "bind": True,
            "acks_late": True,  # a message leaves the queue once its task has finished...
            "reject_on_worker_lost": True,  # ...and goes back to it when its worker dies
            "max_retries": self.max_retries,
        }

    def __call__(self, task: Any, body: Callable[[], Any]) -> Any:
        try:
            return body()
        except Exception as exc:
            if not transient(exc) or task.request.called_directly or task.request.is_eager:
                raise  # eagerly (a host's tests), the error itself, at once
            wait = min(self.backoff * 2**task.request.retries, self.backoff_max)
            raise task.retry(exc=exc, countdown=wait * self._jitter.uniform(0.5, 1.0)) from exc


def register_tasks(
    app: Any,
    engine_factory: EngineFactory,
    *,
    prefix: str = "privacy_kit",
    rows_per_shard: int = 100_000,
    max_retries: int = 8,
    retry_backoff: float = 2.0,
    retry_backoff_max: float = 300.0,
) -> SweepTasks:
    """Register privacy_kit's sweep tasks on ``app``; return them (see :class:`SweepTasks`).

    Args:
        app: the host's ``celery.Celery`` app.
        engine_factory: builds the host's :class:`~privacy_kit.Engine`; called once per worker
            process, in it, the first time a task runs there. Its engine must keep its state in
            a store every worker shares and its audit log outside the process (refused
            otherwise, unless the app runs tasks eagerly).
        prefix: the tasks are named ``<prefix>.sweep.plan`` and so on (route them with the
            app's ``task_routes``, e.g. ``{"privacy_kit.*": {"queue": "privacy"}}``).
        rows_per_shard: the default shard size of :meth:`SweepTasks.sweep`.
        max_retries: how often a task retries after a database error before it fails.
        retry_backoff: seconds before the first retry; doubled each time, with jitter.
        retry_backoff_max: the longest wait between two retries.

    Raises:
        ConfigurationError: a task of that name is already registered on ``app`` (use another
            ``prefix``), or a bad number.

    Example:
        >>> from celery import Celery
        >>> tasks = register_tasks(Celery("example", set_as_current=False), lambda: None)
        >>> tasks.plan.name, tasks.finish.name
        ('privacy_kit.sweep.plan', 'privacy_kit.sweep.finish')
    """
    _positive(rows_per_shard)
    retrying = Retrying(max_retries, retry_backoff, retry_backoff_max)  # checked before claiming
    names = claim_names(app, prefix, "sweep", _TASKS)
    engines = _Engines(engine_factory, eager=lambda: bool(app.conf.task_always_eager))
    options = retrying.options()

    def plan_task(task: Any, now: str, rows_per_shard: int) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            engine = engines.get()
            plan = engine.plan_retention(now=parse_now(now))
            return _planned(plan, engine.shards(plan, rows_per_shard=rows_per_shard))

        return retrying(task, body)  # type: ignore[no-any-return]

    def shard_task(task: Any, plan: str, rows_per_shard: int) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            engine = engines.get()
            loaded = RetentionPlan.from_json(plan)
            return _planned(loaded, engine.shards(loaded, rows_per_shard=rows_per_shard))

        return retrying(task, body)  # type: ignore[no-any-return]

    def fan_out_task(task: Any, planned: dict[str, Any]) -> Any:
        work = tasks.chord(planned["plan"], planned["shards"])
        if task.request.is_eager:
            # Run here. Replacing would freeze the signature into results the result backend
            # tracks, and an eager app (a host's tests) may have no backend running.
            return work.apply().get()
        return task.replace(work)

    def apply_shard_task(task: Any, plan: str, shard: str) -> str:
        def body() -> str:
            engine = engines.get()
            report = engine.apply_shard(RetentionPlan.from_json(plan), Shard.from_json(shard))
            return report.to_json()

        return retrying(task, body)  # type: ignore[no-any-return]

    def finish_task(
        task: Any, results: list[str] | str | None, plan: str, shards: list[str]
    ) -> dict[str, Any]:
        loaded = RetentionPlan.from_json(plan)
        parts = [Shard.from_json(s) for s in shards]
        expected = {(s.entry, s.index) for s in parts}
        # the last wave's reports (one report alone when the wave was a single shard)
        given = [results] if isinstance(results, str) else list(results or ())
        for got in (ShardReport.from_json(text) for text in given):
            if got.plan != loaded.id or (got.entry, got.index) not in expected:
                raise PlanError(
                    f"the chord of plan {loaded.id} received the report of shard "
                    f"{got.entry}.{got.index} of plan {got.plan}, which is not one of its shards"
                )

        def body() -> dict[str, Any]:
            engine = engines.get()
            report = engine.finish_sweep(loaded, parts)
            return report_data(report, plan=loaded.id, shards=_journalled(engine, loaded, parts))

        return retrying(task, body)  # type: ignore[no-any-return]

    made = {
        "plan": app.task(name=names["plan"], **options)(plan_task),
        "shard": app.task(name=names["shard"], **options)(shard_task),
        "fan_out": app.task(name=names["fan_out"], **options)(fan_out_task),
        "apply_shard": app.task(name=names["apply_shard"], **options)(apply_shard_task),
        "finish": app.task(name=names["finish"], **options)(finish_task),
    }
    tasks = SweepTasks(app=app, rows_per_shard=rows_per_shard, engines=engines, **made)
    return tasks
