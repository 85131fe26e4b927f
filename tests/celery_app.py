"""The Celery app of tests/test_contrib_celery.py's workers, configured by environment variables.

A worker is started as ``python -m celery -A celery_app worker ...`` with:

- ``PK_CELERY_BROKER``: the Redis URL (broker and result backend);
- ``PK_CELERY_RUN``: this test run's name: the queue the tasks go to and the prefix of every
  Redis key (so runs of other sessions on the same server never meet these: not even the
  broker's hash of unacknowledged messages, which a short visibility timeout restores);
- ``PK_CELERY_DB``: the SQLAlchemy URL of the run's PostgreSQL database;
- ``PK_CELERY_ANALYTICS`` (optional): a SQLite file holding the store ``analytics`` of the
  request tasks' engine (tests/two_stores.py; the other stores in ``PK_CELERY_DB``);
- ``PK_CELERY_STALL_DIR`` (optional), ``PK_CELERY_STALL_TABLE``, ``PK_CELERY_STALLS``: the
  first ``delete`` on that table fails (an ``AdapterError``, as a lost connection would: the task
  retries), whoever claims the file ``fail-1``; after a later ``delete`` on it has committed, a
  worker that can claim one of the numbered stall files (``stall-1``, ``stall-2``, ...) sleeps,
  so the test can kill it mid-shard: its rows are gone but its shard is not journalled as done.
  Each file is created exclusively, so one process claims it, once, and writes its process id
  and its parent's there. Reads (an export's part) do the same with ``readfail-1`` and
  ``readstall-<n>``: the stall comes after the first batch was read, before the part is written.

The test process builds the same app (:func:`make_app`) to send the tasks; the engine factory is
only ever called in a worker.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from celery import Celery

import privacy_kit as pk
from privacy_kit.adapters import SQLAlchemyAdapter, SQLiteAdapter
from privacy_kit.audit import SQLAlchemyStateStore
from privacy_kit.contrib.celery import (
    RequestTasks,
    SweepTasks,
    register_request_tasks,
    register_tasks,
)
from two_stores import two_stores

UTC = dt.UTC
POLICY = pk.load_policy(pk.example_path())
DATAMAP = pk.load_datamap(pk.example_path("datamap.yaml"))
AUDIT_TABLE = "celery_audit"
AUDIT_KEY = b"celery-test-audit-chain-key-0123456789"
STATE_PREFIX = "celery_state_"
VISIBILITY_TIMEOUT = 4  # seconds: far below a real deployment's (see docs/celery.md)
STALL_SECONDS = 120.0


class StallingAdapter(SQLAlchemyAdapter):
    """The SQLAlchemy adapter, stalling after a committed ``delete`` when the test asks it to."""

    def delete(self, record_type: pk.RecordType, selection: Any, *, batch_size: Any = None) -> int:
        if claim(record_type.name, "fail", 1) is not None:
            raise pk.AdapterError(
                "injected by the test: the connection was lost",
                adapter=self.name,
                record_type=record_type.name,
                operation="delete",
            )
        done = super().delete(record_type, selection, batch_size=batch_size)
        if claim(record_type.name, "stall", int(os.environ.get("PK_CELERY_STALLS", "1"))):
            time.sleep(STALL_SECONDS)  # the test kills this process long before
        return done

    def iter_records(
        self,
        record_type: pk.RecordType,
        selection: Any,
        *,
        fields: Any = None,
        batch_size: int = 1000,
    ) -> Iterator[list[dict[str, Any]]]:
        if claim(record_type.name, "readfail", 1) is not None:
            raise pk.AdapterError(
                "injected by the test: the connection was lost",
                adapter=self.name,
                record_type=record_type.name,
                operation="read",
            )
        stall = claim(record_type.name, "readstall", int(os.environ.get("PK_CELERY_STALLS", "1")))
        for batch in super().iter_records(
            record_type, selection, fields=fields, batch_size=batch_size
        ):
            yield batch
            if stall is not None:
                time.sleep(STALL_SECONDS)  # the test kills this process long before


def claim(table: str, kind: str, count: int) -> Path | None:
    """Claim the next free ``<kind>-<n>`` file for ``table`` (if the test set them up): created
    exclusively, holding this process's id and its parent's; ``None`` when there is none."""
    folder = os.environ.get("PK_CELERY_STALL_DIR")
    if not folder or os.environ.get("PK_CELERY_STALL_TABLE") != table:
        return None
    for n in range(1, count + 1):
        path = Path(folder) / f"{kind}-{n}"
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()} {os.getppid()}\n")
        return path
    return None


def engine_for(
    url: str, *, app: str = "celery-test", stalling: bool = False, analytics: str | None = None
) -> pk.Engine:
    """The engine a host's worker builds: shared state store and keyed audit log in the database;
    with ``analytics``, the store ``analytics`` in that SQLite file (tests/two_stores.py)."""
    adapter_class = StallingAdapter if stalling else SQLAlchemyAdapter
    adapter = adapter_class(sa.create_engine(url, connect_args={"application_name": app}))
    adapters: Any = adapter
    datamap = DATAMAP
    if analytics is not None:
        datamap = two_stores(DATAMAP)
        adapters = {"main": adapter, "analytics": SQLiteAdapter(analytics)}
    return pk.Engine(
        POLICY,
        datamap,
        adapters,
        state=SQLAlchemyStateStore(url, prefix=STATE_PREFIX),
        audit=pk.AuditLog.sqlalchemy(url, table=AUDIT_TABLE, key=AUDIT_KEY),
    )


def make_app(broker: str, run: str) -> Celery:
    """The app of the workers and of the test process: one queue and key prefix per run."""
    app = Celery(f"pk_{run}", broker=broker, backend=broker, set_as_current=False)
    options = {
        "global_keyprefix": f"{run}:",
        "visibility_timeout": VISIBILITY_TIMEOUT,
        # sweep the broker's unacknowledged messages every second, so a message whose worker
        # died is back in the queue about VISIBILITY_TIMEOUT seconds later
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
    app.conf.update(
        broker_transport_options=options,
        result_backend_transport_options={"global_keyprefix": f"{run}:"},
        task_default_queue=run,
        worker_prefetch_multiplier=1,  # a worker holds only the message it is running
        broker_connection_retry_on_startup=True,
        result_expires=600,
        worker_hijack_root_logger=False,
    )
    return app


def _from_environment() -> tuple[Celery, SweepTasks, RequestTasks]:
    url = os.environ["PK_CELERY_DB"]
    app = make_app(os.environ["PK_CELERY_BROKER"], os.environ["PK_CELERY_RUN"])
    name = f"celery-worker-{os.getpid()}"
    stalling = bool(os.environ.get("PK_CELERY_STALL_DIR"))
    tasks = register_tasks(
        app,
        lambda: engine_for(url, app=name, stalling=stalling),
        retry_backoff=0.2,
        retry_backoff_max=1.0,
    )
    analytics = os.environ.get("PK_CELERY_ANALYTICS")
    requests = register_request_tasks(
        app,
        lambda: engine_for(url, app=name, stalling=stalling, analytics=analytics),
        retry_backoff=0.2,
        retry_backoff_max=1.0,
    )
    return app, tasks, requests


def __getattr__(name: str) -> Any:
    """``app``, ``tasks`` and ``requests`` are made on first use, from the environment (the
    worker's)."""
    if name in ("app", "tasks", "requests"):
        app, tasks, requests = _from_environment()
        globals().update(app=app, tasks=tasks, requests=requests)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
