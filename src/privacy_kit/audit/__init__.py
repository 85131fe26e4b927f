"""What happened, kept so that it can be proven: the audit log and the journals.

The hash-chained :class:`AuditLog` (memory, JSONL, SQLite and SQLAlchemy sinks; several
processes may append to one file or table; optionally keyed with an HMAC) and the journals with
which erasures resume after a failure.

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
    "open_journal": "._journal",
    "AuditLog": "._log",
    "JsonlSink": "._sink_jsonl",
    "SQLAlchemySink": "._sink_sqlalchemy",
    "AuditSink": "._sinks",
    "AuditSinkError": "._sinks",
    "MemorySink": "._sinks",
    "SqliteSink": "._sinks",
}

__all__ = [
    "CHAIN_HMAC",
    "CHAIN_SHA256",
    "GENESIS_HASH",
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
    "MemoryJournal",
    "MemorySink",
    "RawEntry",
    "SQLAlchemySink",
    "SqliteSink",
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
    from ._journal import FileJournal, Journal, MemoryJournal, open_journal
    from ._log import AuditLog
    from ._sink_jsonl import JsonlSink
    from ._sink_sqlalchemy import SQLAlchemySink
    from ._sinks import AuditSink, AuditSinkError, MemorySink, SqliteSink
