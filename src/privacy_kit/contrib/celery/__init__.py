"""privacy_kit on Celery: a retention sweep planned once and applied shard by shard by any worker.

The optional extra ``celery`` (``pip install 'privacy-kit[celery]'``, Celery with Redis).
:func:`register_tasks` adds privacy_kit's tasks to the host's Celery app, given the host's way of
building its :class:`~privacy_kit.Engine` in a worker (an engine factory), and returns them as
:class:`SweepTasks`:

- ``plan``: plan the sweep due at ``now`` (an aware ISO 8601 string) and split it into shards
  (:meth:`Engine.shards <privacy_kit.Engine.shards>`); returns the plan and the shards as JSON.
- ``shard``: split a plan made elsewhere (its JSON) into shards.
- ``fan_out``: replace itself with the shard tasks, in waves (:func:`waves`: a shard runs after
  the entries it must follow), then ``finish``.
- ``apply_shard``: apply one shard (:meth:`Engine.apply_shard <privacy_kit.Engine.apply_shard>`):
  acknowledged late and rejected back to the queue when its worker dies, retried with backoff on
  a database error, idempotent through the plan's journal in the shared state store.
- ``finish``: the chord's callback: :meth:`Engine.finish_sweep <privacy_kit.Engine.finish_sweep>`
  (refused while a shard is unfinished), the report as JSON-able data.

:meth:`SweepTasks.sweep` runs the whole chain (plan, then the chord) and returns its
``AsyncResult``; :meth:`SweepTasks.run` runs the chord for a plan made in another process. The
engine a worker builds must keep its state (the journals) in a store every worker shares and its
audit log somewhere that outlives the process: an engine with no state store, an in-memory one or
an in-memory audit log is refused (``ConfigurationError``), except in an app that runs its tasks
eagerly in the calling process (``task_always_eager``). See docs/celery.md.

:func:`register_request_tasks` adds the data-subject request tasks (:class:`RequestTasks`): an
export collected store by store in parallel (``collect_part``, one per store) and assembled into
one bundle (``assemble``), and an erasure plan applied store by store (``apply_unit``, in waves
that keep the plan's deletion order) and finished once (``finish_erasure``); see docs/celery.md.

``import privacy_kit`` never imports Celery; importing this package does.

Example:
    >>> import datetime as dt, privacy_kit as pk
    >>> from celery import Celery
    >>> from privacy_kit.adapters import InMemoryAdapter
    >>> from privacy_kit.audit import MemoryStateStore
    >>> from privacy_kit.contrib.celery import register_tasks
    >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
    >>> tables = {rt.table_name: [] for rt in dm.record_types}
    >>> tables["users"] = [{"id": 1, "closed_at": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)}]
    >>> tables["payment_methods"] = [{"id": 10, "user_id": 1}]
    >>> store = InMemoryAdapter(tables)
    >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, store,
    ...                    state=MemoryStateStore(), verify=False)
    >>> app = Celery("example", set_as_current=False)
    >>> app.conf.task_always_eager = True  # runs here: one process, so a memory store is shared
    >>> tasks = register_tasks(app, lambda: engine)
    >>> report = tasks.sweep(now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).get()
    >>> report["total"], store.rows("payment_methods")
    (1, [])
"""

from __future__ import annotations

from ._requests import RequestTasks, erasure_data, export_data, register_request_tasks
from ._tasks import SweepTasks, register_tasks, report_data, waves

__all__ = [
    "RequestTasks",
    "SweepTasks",
    "erasure_data",
    "export_data",
    "register_request_tasks",
    "register_tasks",
    "report_data",
    "waves",
]
