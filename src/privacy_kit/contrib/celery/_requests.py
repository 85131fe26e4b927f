"""A data-subject export as Celery tasks: one task per store, in parallel, then one assembly.

An export is a chain: ``plan_export`` (in a worker: the subject resolved, the job made with the
host's shared ``parts`` folder) returns the job's JSON; ``fan_out`` replaces itself with a chord
whose header is one ``collect_part`` per store of the job and whose body is ``assemble``, which
writes the one bundle and records the one ``export.completed``. :meth:`RequestTasks.run` starts
the chord for a job made in the calling process (``engine.export_job(..., parts=...)``). Every
value that travels is JSON: the job and the parts in their JSON forms, the result as a dict.

The tasks are acknowledged late and rejected back to the queue when their worker dies, and retry
a database failure with backoff, as the sweep's tasks do; a part collected twice, or by two
workers at once, is recorded once (see :meth:`Engine.collect_export_part
<privacy_kit.Engine.collect_export_part>`), and an assembly run again after it published the
bundle returns the recorded result.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

import attrs
import celery

from ..._errors import ConfigurationError, PlanError
from ..._scope import Subject
from ..._types import require_aware
from ...retention._plan_codec import Reader
from ...rights import ErasurePlan, ErasureReport, ErasureUnit, ExportJob, ExportResult
from ...rights._export_job import subject_from, subject_to_data
from ...rights._export_parts import ExportPart
from ._tasks import EngineFactory, Retrying, _Engines, claim_names, parse_now

__all__ = ["RequestTasks", "erasure_data", "export_data", "register_request_tasks"]

_TASKS = ("plan_export", "fan_out", "collect_part", "assemble", "begin_erasure",
          "fan_out_erasure", "apply_unit", "finish_erasure")  # fmt: skip
_OPTIONS = ("format", "formats", "batch_size", "lang", "compression_level")


def export_data(result: ExportResult, *, parts: list[ExportPart] | None = None) -> dict[str, Any]:
    """An :class:`~privacy_kit.ExportResult` as JSON-able data (what ``assemble`` returns).

    Keys: ``path``, ``format``, ``subject_reference``, ``generated_at`` (ISO 8601), ``counts``,
    ``redacted``, ``files``, ``sha256``, ``searched``, ``size``, ``total``, ``nothing_held``
    and ``parts``: per part the chord collected, its ``store``, ``sha256``, ``total`` and
    ``resumed`` (the part had been collected before: a task run again, or by two workers).

    Example:
        >>> import datetime as dt, json, privacy_kit as pk
        >>> result = pk.ExportResult(path=None, format="zip", subject_reference="ref",
        ...                          generated_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        ...                          counts={"users": 1}, redacted={}, files=(), sha256="0" * 64)
        >>> data = export_data(result)
        >>> data["total"], json.loads(json.dumps(data)) == data
        (1, True)
    """
    return {
        "path": None if result.path is None else os.fspath(result.path),
        "format": result.format,
        "subject_reference": result.subject_reference,
        "generated_at": result.generated_at.isoformat(),
        "counts": dict(result.counts),
        "redacted": {k: list(v) for k, v in result.redacted.items()},
        "files": list(result.files),
        "sha256": result.sha256,
        "searched": list(result.searched),
        "size": result.size,
        "total": result.total,
        "nothing_held": result.nothing_held,
        "parts": [
            {"store": p.store, "sha256": p.sha256, "total": p.total, "resumed": p.resumed}
            for p in parts or ()
        ],
    }


def erasure_data(report: ErasureReport) -> dict[str, Any]:
    """An :class:`~privacy_kit.ErasureReport` as JSON-able data (what ``finish_erasure`` returns).

    Keys: ``plan``, ``subject_reference``, ``deleted``, ``anonymised`` (per record type),
    ``kept`` (one sentence per kept item), ``recipients``, ``resumed_steps`` (steps a unit run
    again found done), ``commitments`` (ids), ``notes``, ``newly_held`` and ``summary`` (the
    report's text).

    Example:
        >>> import privacy_kit as pk
        >>> data = erasure_data(pk.ErasureReport("p", "ref", {"users": 1}, {}, ()))
        >>> data["deleted"], data["plan"]
        ({'users': 1}, 'p')
    """
    return {
        "plan": report.plan_id,
        "subject_reference": report.subject_reference,
        "deleted": dict(report.deleted),
        "anonymised": dict(report.anonymised),
        "kept": [k.describe() for k in report.kept],
        "recipients": list(report.recipients),
        "resumed_steps": list(report.resumed_steps),
        "commitments": [c.id for c in report.commitments],
        "notes": list(report.notes),
        "newly_held": [n.to_dict() for n in report.newly_held],
        "summary": str(report),
    }


@attrs.frozen
class RequestTasks:
    """privacy_kit's request tasks on one Celery app (made by :func:`register_request_tasks`).

    Attributes:
        app: the Celery app they are registered on.
        plan_export: ``plan_export(subject, destination, now, options)``: make the export
            job in a worker (:meth:`Engine.export_job <privacy_kit.Engine.export_job>`;
            ``options``: the shared ``parts`` folder and the export's options); returns its
            JSON.
        fan_out: ``fan_out(job)``: replaces itself with :meth:`chord` over the job's stores.
        collect_part: ``collect_part(job, store)``: one store's part; returns its JSON.
        assemble: ``assemble(parts, job)``: the chord's body; returns :func:`export_data`.
        begin_erasure: ``begin_erasure(plan)``: record an erasure plan's commitments; returns
            its units' JSON (:meth:`Engine.begin_erasure <privacy_kit.Engine.begin_erasure>`).
        fan_out_erasure: ``fan_out_erasure(units, plan)``: replaces itself with
            :meth:`erasure_chain`.
        apply_unit: ``apply_unit(plan, unit)``: one unit; returns what it did.
        finish_erasure: ``finish_erasure(results, plan)``: returns :func:`erasure_data`.

    Example:
        >>> from celery import Celery
        >>> tasks = register_request_tasks(Celery("example", set_as_current=False), lambda: None)
        >>> tasks.collect_part.name, tasks.collect_part.acks_late
        ('privacy_kit.request.collect_part', True)
    """

    app: Any
    plan_export: Any
    fan_out: Any
    collect_part: Any
    assemble: Any
    begin_erasure: Any
    fan_out_erasure: Any
    apply_unit: Any
    finish_erasure: Any
    _engines: _Engines = attrs.field(repr=False, alias="engines")

    def engine(self) -> Any:
        """This process's engine (built by the factory on first use, and checked)."""
        return self._engines.get()

    def chord(self, job: str) -> Any:
        """The signature that collects every store's part of ``job`` (its JSON) at once, on any
        workers, then ``assemble``.

        Raises:
            ConfigurationError: the job was made without a ``parts`` folder.
        """
        loaded = ExportJob.from_json(job)
        if loaded.parts is None:
            raise ConfigurationError(
                "this export job has no parts folder: make it with engine.export_job(..., "
                "parts=<a folder every worker shares>)"
            )
        if not loaded.stores:
            return self.assemble.s([], job)
        header = celery.group([self.collect_part.si(job, store) for store in loaded.stores])
        return celery.chord(header, self.assemble.s(job))

    def export(
        self,
        subject: Subject,
        destination: str | os.PathLike[str],
        *,
        now: dt.datetime,
        parts: str | os.PathLike[str],
        **options: Any,
    ) -> Any:
        """Export ``subject`` through the workers: plan in one, a part per store in parallel,
        then the bundle; the ``AsyncResult``, whose ``get()`` is :func:`export_data`.

        ``destination`` and ``parts`` are paths as the workers see them (a shared volume);
        ``options`` are :meth:`Engine.export <privacy_kit.Engine.export>`'s ``format``,
        ``formats``, ``batch_size``, ``lang`` and ``compression_level``.

        Raises:
            NaiveDatetimeError: ``now`` without a timezone.
            ConfigurationError: an unknown option, or the app has no result backend.
        """
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigurationError(f"unknown export option(s) {unknown}; choose from {_OPTIONS}")
        self._check_backend()
        plan = self.plan_export.s(
            subject_to_data(subject),
            os.fspath(destination),
            require_aware(now).isoformat(),
            {
                **{k: list(v) if k == "formats" else v for k, v in options.items()},
                "parts": os.fspath(parts),
            },
        )
        return (plan | self.fan_out.s()).apply_async()

    def run(self, job: ExportJob | str) -> Any:
        """Run the chord for a job made in this or another process; the ``AsyncResult``.

        Raises:
            ConfigurationError: the job has no ``parts`` folder, or the app has no result
                backend.
        """
        self._check_backend()
        return self.chord(job.to_json() if isinstance(job, ExportJob) else job).apply_async()

    def erasure_chain(self, plan: str, units: list[str]) -> Any:
        """The signature that applies ``units`` of ``plan`` (JSON texts) wave by wave, then
        ``finish_erasure``: a wave's units at once, on any workers; the next wave once the whole
        of it is done."""
        loaded = [ErasureUnit.from_json(u) for u in units]
        if not loaded:  # a plan with no step: the finish alone (it reports nothing done)
            return self.finish_erasure.si(None, plan)
        waves = sorted({u.wave for u in loaded})
        steps = [
            celery.group(
                [
                    self.apply_unit.si(plan, text)
                    for u, text in zip(loaded, units, strict=True)
                    if u.wave == wave
                ]
            )
            for wave in waves
        ]
        return celery.chain(*steps, self.finish_erasure.s(plan))

    def erase(self, plan: ErasurePlan | str) -> Any:
        """Apply an erasure plan (made in any process) through the workers, store by store:
        begin, the units wave by wave, then finish; the ``AsyncResult``, whose ``get()`` is
        :func:`erasure_data` of the report ``engine.apply(plan)`` would have returned.

        Raises:
            ConfigurationError: the app has no result backend.
        """
        self._check_backend()
        text = plan.to_json() if isinstance(plan, ErasurePlan) else plan
        return (self.begin_erasure.s(text) | self.fan_out_erasure.s(text)).apply_async()

    def _check_backend(self) -> None:
        if self.app.conf.task_always_eager:
            return
        if not self.app.conf.result_backend:
            raise ConfigurationError(
                "privacy_kit.contrib.celery: a request over stores is a chord, and a chord "
                "needs a result backend: set the app's result_backend"
            )


def _parts_of(results: list[str] | str | None, job: ExportJob, key: str) -> list[ExportPart]:
    given = [results] if isinstance(results, str) else list(results or ())
    parts = [ExportPart.from_json(text) for text in given]
    for part in parts:
        if part.job != key or part.store not in job.stores:
            raise PlanError(
                f"the chord of export job {key[:12]}... received the part of store "
                f"{part.store!r} of job {part.job[:12]}..., which is not one of its parts"
            )
    return parts


def register_request_tasks(
    app: Any,
    engine_factory: EngineFactory,
    *,
    prefix: str = "privacy_kit",
    max_retries: int = 8,
    retry_backoff: float = 2.0,
    retry_backoff_max: float = 300.0,
) -> RequestTasks:
    """Register privacy_kit's request tasks on ``app``; return them (see :class:`RequestTasks`).

    The arguments are :func:`~privacy_kit.contrib.celery.register_tasks`'; the tasks are named
    ``<prefix>.request.collect_part`` and so on. The engine a worker builds must keep its state
    in a store every worker shares (the parts are recorded there) and its audit log outside the
    process (refused otherwise, unless the app runs tasks eagerly).

    Raises:
        ConfigurationError: a task of that name is already registered on ``app``, or a bad
            number.

    Example:
        >>> from celery import Celery
        >>> tasks = register_request_tasks(Celery("example", set_as_current=False), lambda: None)
        >>> tasks.plan_export.name, tasks.assemble.name
        ('privacy_kit.request.plan_export', 'privacy_kit.request.assemble')
    """
    retrying = Retrying(max_retries, retry_backoff, retry_backoff_max)
    names = claim_names(app, prefix, "request", _TASKS)
    engines = _Engines(engine_factory, eager=lambda: bool(app.conf.task_always_eager))
    options = retrying.options()

    def plan_export_task(
        task: Any,
        subject: Mapping[str, Any],
        destination: str,
        now: str,
        settings: Mapping[str, Any],
    ) -> str:
        who = subject_from(Reader(subject, "subject"))
        when = parse_now(now)

        def body() -> str:
            job = engines.get().export_job(who, destination, now=when, **settings)
            return job.to_json()

        return retrying(task, body)  # type: ignore[no-any-return]

    def fan_out_task(task: Any, job: str) -> Any:
        work = tasks.chord(job)
        if task.request.is_eager:
            return work.apply().get()  # run here (see the sweep's fan_out)
        return task.replace(work)

    def collect_part_task(task: Any, job: str, store: str) -> str:
        def body() -> str:
            return engines.get().collect_export_part(ExportJob.from_json(job), store).to_json()

        return retrying(task, body)  # type: ignore[no-any-return]

    def assemble_task(task: Any, results: list[str] | str | None, job: str) -> dict[str, Any]:
        loaded = ExportJob.from_json(job)

        def body() -> dict[str, Any]:
            from ...rights._export_parts import job_key  # noqa: PLC0415 - on use

            engine = engines.get()
            parts = _parts_of(results, loaded, job_key(loaded, engine.secret))
            return export_data(engine.assemble_export(loaded), parts=parts)

        return retrying(task, body)  # type: ignore[no-any-return]

    def begin_erasure_task(task: Any, plan: str) -> list[str]:
        def body() -> list[str]:
            units = engines.get().begin_erasure(ErasurePlan.from_json(plan))
            return [u.to_json() for u in units]

        return retrying(task, body)  # type: ignore[no-any-return]

    def fan_out_erasure_task(task: Any, units: list[str], plan: str) -> Any:
        work = tasks.erasure_chain(plan, units)
        if task.request.is_eager:
            return work.apply().get()
        return task.replace(work)

    def apply_unit_task(task: Any, plan: str, unit: str) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            engine = engines.get()
            return engine.apply_erasure_unit(
                ErasurePlan.from_json(plan), ErasureUnit.from_json(unit)
            )

        return retrying(task, body)  # type: ignore[no-any-return]

    def finish_erasure_task(task: Any, _results: Any, plan: str) -> dict[str, Any]:
        # the last wave's records; the finish reads every unit's from the state store
        def body() -> dict[str, Any]:
            return erasure_data(engines.get().finish_erasure(ErasurePlan.from_json(plan)))

        return retrying(task, body)  # type: ignore[no-any-return]

    bodies = {
        "plan_export": plan_export_task,
        "fan_out": fan_out_task,
        "collect_part": collect_part_task,
        "assemble": assemble_task,
        "begin_erasure": begin_erasure_task,
        "fan_out_erasure": fan_out_erasure_task,
        "apply_unit": apply_unit_task,
        "finish_erasure": finish_erasure_task,
    }
    made = {name: app.task(name=names[name], **options)(fn) for name, fn in bodies.items()}
    tasks = RequestTasks(app=app, engines=engines, **made)
    return tasks
