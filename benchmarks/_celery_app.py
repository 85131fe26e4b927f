"""The Celery app of scenario 8's workers (``python -m celery -A benchmarks._celery_app worker``).

Configured by the environment the scenario sets: ``PK_BENCH_CELERY_BROKER`` (Redis URL, broker and
result backend), ``PK_BENCH_CELERY_RUN`` (the queue and the prefix of every Redis key, unique to
the run) and ``PK_BENCH_CELERY_DB`` (the SQLAlchemy URL of the run's database). Each worker builds
the engine a host would: the SQLAlchemy adapter, and the state store (journals, holds) and keyed
audit log in the same database. The broker keeps Celery's default one-hour visibility timeout:
a shard here takes seconds, and nothing is killed.
"""

from __future__ import annotations

import os
from typing import Any

AUDIT_KEY = b"benchmark-celery-audit-key-0123456789"
AUDIT_TABLE = "bench_audit"


def engine_for(url: str) -> Any:
    """The engine of a worker (and of the scenario's setup): shared state and audit log."""
    import privacy_kit as pk
    from privacy_kit.adapters import SQLAlchemyAdapter
    from privacy_kit.audit import SQLAlchemyStateStore

    from ._data import example_datamap
    from .retention import retention_policy

    return pk.Engine(
        retention_policy(),
        example_datamap(),
        SQLAlchemyAdapter(url),
        state=SQLAlchemyStateStore(url),
        audit=pk.AuditLog.sqlalchemy(url, table=AUDIT_TABLE, key=AUDIT_KEY),
    )


def make_app(broker: str, run: str) -> Any:
    """A Celery app whose queue and Redis keys are this run's alone."""
    from celery import Celery

    app = Celery(f"pk_bench_{run}", broker=broker, backend=broker, set_as_current=False)
    app.conf.update(
        broker_transport_options={"global_keyprefix": f"{run}:"},
        result_backend_transport_options={"global_keyprefix": f"{run}:"},
        task_default_queue=run,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        result_expires=3600,
        worker_hijack_root_logger=False,
    )
    return app


def __getattr__(name: str) -> Any:
    """``app`` (what ``celery -A`` loads) is made on first use, from the environment."""
    if name == "app":
        from privacy_kit.contrib.celery import register_tasks

        url = os.environ["PK_BENCH_CELERY_DB"]
        app = make_app(os.environ["PK_BENCH_CELERY_BROKER"], os.environ["PK_BENCH_CELERY_RUN"])
        register_tasks(app, lambda: engine_for(url))
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
