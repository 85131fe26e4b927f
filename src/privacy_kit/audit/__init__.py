"""What happened, kept so that it can be proven: the audit log and the journals.

The hash-chained :class:`AuditLog` (memory, JSONL, SQLite and SQLAlchemy sinks; several
processes may append to one file or table; optionally keyed with an HMAC), the journals with
which erasures resume after a failure, and the :class:`StateStore` every process of a
deployment shares (memory, SQLite, SQLAlchemy; see docs/state.md).

Layer rule: imports only the foundation; the operations above record into it through the values
they are handed (an audit log, a journal), never through the engine.

Example:
    >>> import datetime as dt
    >>> from privacy_kit.audit import AuditLog
    >>> log = AuditLog.memory()
    >>> _ = log.record("hold.placed", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    >>> log.verify().ok
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

# name -> the module that defines it
_NAMES: dict[str, str] = {
    "AuditEntry": "._entries",
    "AuditHead": "._entries",
    "AuditProblem": "._entries",
    "AuditVerification": "._entries",
    "CHAIN_HMAC": "._entries",
    "CHAIN_SHA256": "._entries",
    "GENESIS_HASH": "._entries",
    "RawEntry": "._entries",
    "FileJournal": "._journal",
    "Journal": "._journal",
    "MemoryJournal": "._journal",
    "StateJournal": "._journal",
    "open_journal": "._journal",
    "AuditLog": "._log",
    "JsonlSink": "._sink_jsonl",
    "SQLAlchemySink": "._sink_sqlalchemy",
    "AuditSink": "._sinks",
    "AuditSinkError": "._sinks",
    "MemorySink": "._sinks",
    "SqliteSink": "._sinks",
    "MAX_DOCUMENT_BYTES": "._state",
    "MAX_KEY_BYTES": "._state",
    "SCHEMA_VERSION": "._state",
    "LogEntry": "._state",
    "MemoryStateStore": "._state_base",
    "SchemaMigration": "._state",
    "StateConflictError": "._state",
    "StateError": "._state",
    "StateStore": "._state",
    "StateValueError": "._state",
    "StoredDocument": "._state",
    "SqliteStateStore": "._state_sqlite",
    "SQLAlchemyStateStore": "._state_sqlalchemy",
}

__all__ = [
    "CHAIN_HMAC",
    "CHAIN_SHA256",
    "GENESIS_HASH",
    "MAX_DOCUMENT_BYTES",
    "MAX_KEY_BYTES",
    "SCHEMA_VERSION",
    "AuditEntry",
    "AuditHead",
    "AuditLog",
    "AuditProblem",
    "AuditSink",
    "AuditSinkError",
    "AuditVerification",
    "FileJournal",
    "Journal",
    "JsonlSink",
    "LogEntry",
    "MemoryJournal",
    "MemorySink",
    "MemoryStateStore",
    "RawEntry",
    "SQLAlchemySink",
    "SQLAlchemyStateStore",
    "SchemaMigration",
    "SqliteSink",
    "SqliteStateStore",
    "StateConflictError",
    "StateError",
    "StateJournal",
    "StateStore",
    "StateValueError",
    "StoredDocument",
    "open_journal",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._entries import (
        CHAIN_HMAC,
        CHAIN_SHA256,
        GENESIS_HASH,
        AuditEntry,
        AuditHead,
        AuditProblem,
        AuditVerification,
        RawEntry,
    )
    from ._journal import FileJournal, Journal, MemoryJournal, StateJournal, open_journal
    from ._log import AuditLog
    from ._sink_jsonl import JsonlSink
    from ._sink_sqlalchemy import SQLAlchemySink
    from ._sinks import AuditSink, AuditSinkError, MemorySink, SqliteSink
    from ._state import (
        MAX_DOCUMENT_BYTES,
        MAX_KEY_BYTES,
        SCHEMA_VERSION,
        LogEntry,
        SchemaMigration,
        StateConflictError,
        StateError,
        StateStore,
        StateValueError,
        StoredDocument,
    )
    from ._state_base import MemoryStateStore
    from ._state_sqlalchemy import SQLAlchemyStateStore
    from ._state_sqlite import SqliteStateStore
