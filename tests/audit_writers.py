"""Worker processes for tests/test_audit_concurrency.py (importable by name, so 'spawn' works).

Each worker opens its own :class:`~privacy_kit.audit.AuditLog` on the shared store, as each
worker process of a web application would, waits for the others, then appends ``count`` entries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def open_log(kind: str, target: str, key: bytes | None) -> Any:
    """The log a worker appends to: ``kind`` is jsonl, sqlite or sqlalchemy (``target`` a URL)."""
    from privacy_kit.audit import AuditLog

    extra: dict[str, Any] = {} if key is None else {"key": key}
    if kind == "jsonl":
        return AuditLog.jsonl(target, **extra)
    if kind == "sqlite":
        return AuditLog.sqlite(target, **extra)
    url, _, table = target.partition("#")
    return AuditLog.sqlalchemy(url, table=table, **extra)


def append_many(
    kind: str, target: str, worker: int, count: int, start: Any, key: bytes | None = None
) -> None:
    """Append ``count`` entries from worker number ``worker`` once ``start`` (a barrier) opens."""
    log = open_log(kind, target, key)
    start.wait(timeout=60)
    for i in range(count):
        log.record("concurrency.append", now=NOW, subject=f"worker_{worker}", details={"i": i})
    close = getattr(log.sink, "close", None)
    if close is not None:
        close()
