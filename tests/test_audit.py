"""The audit log: hash chain, sinks, tamper detection with locations, personal-data guard."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.audit._entries import GENESIS_HASH, AuditEntry, RawEntry
from privacy_kit.audit._log import AuditLog
from privacy_kit.audit._sink_jsonl import JsonlSink
from privacy_kit.audit._sinks import MemorySink

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _fill(log: AuditLog, n: int = 5) -> None:
    for i in range(n):
        log.record(
            "test.step", now=NOW + dt.timedelta(minutes=i), subject=f"subj_{i}", details={"n": i}
        )


# -- the chain -----------------------------------------------------------------------------------
def test_entries_are_chained_and_numbered() -> None:
    log = AuditLog.memory()
    _fill(log, 3)
    entries = list(log.entries())
    assert [e.sequence for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    assert all(e.hash == e.compute_hash() for e in entries)
    assert log.verify().ok
    assert log.head() == pk.audit.AuditHead(3, entries[2].hash)


def test_timestamp_is_stored_in_utc() -> None:
    log = AuditLog.memory()
    paris = dt.timezone(dt.timedelta(hours=2))
    entry = log.record("a.b", now=dt.datetime(2026, 6, 1, 14, 0, tzinfo=paris))
    assert entry.at == dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    assert log.sink.rows[0]["at"] == "2026-06-01T12:00:00+00:00"  # type: ignore[attr-defined]


def test_naive_time_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        AuditLog.memory().record("a.b", now=dt.datetime(2026, 1, 1))


@pytest.mark.parametrize("action", ["", "Upper.case", "has space", ".leading"])
def test_bad_action_rejected(action: str) -> None:
    with pytest.raises(ValueError, match="dotted lower case"):
        AuditLog.memory().record(action, now=NOW)


# -- details: JSON only, no personal data ----------------------------------------------------------
@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({"email": "ann@example.com"}, r"details\.email: looks like an e-mail"),
        (
            {"nested": {"list": ["ok", "bob@mail.org"]}},
            r"details\.nested\.list\[1\]: looks like an e-mail",
        ),
        ({"when": dt.date(2026, 1, 1)}, r"details\.when: date is not a JSON"),
        ({"obj": object()}, r"details\.obj: object is not a JSON"),
        ({"bytes": b"x"}, r"details\.bytes: bytes is not a JSON"),
        ({"nan": float("nan")}, r"details\.nan: nan is not a JSON number"),
        ({"big": 2**70}, r"details\.big: integer .* does not fit"),
        ({"keys": {1: "x"}}, r"details\.keys: key 1 is not a string"),
    ],
)
def test_details_rejected(details: dict[str, object], message: str) -> None:
    log = AuditLog.memory()
    with pytest.raises(ValueError, match=message):
        log.record("a.b", now=NOW, details=details)
    assert log.sink.rows == []  # type: ignore[attr-defined]


def test_subject_that_is_an_address_rejected() -> None:
    with pytest.raises(ValueError, match="subject: looks like an e-mail"):
        AuditLog.memory().record("a.b", now=NOW, subject="ann@example.com")


def test_details_tuples_become_lists_and_verify() -> None:
    log = AuditLog.memory()
    entry = log.record(
        "a.b", now=NOW, details={"ids": (1, 2), "ratio": 0.5, "none": None, "ok": True}
    )
    assert entry.details == {"ids": [1, 2], "ratio": 0.5, "none": None, "ok": True}
    assert log.verify().ok


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet="abcdef0123456789_-. ", max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=4), min_size=1, max_size=6)
)
def test_any_json_details_verify_in_every_sink(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, object]]
) -> None:
    path = tmp_path_factory.mktemp("audit") / "a.jsonl"
    for log in (AuditLog.memory(), AuditLog.jsonl(path), AuditLog.sqlite(":memory:")):
        for row in rows:
            log.record("prop.test", now=NOW, details=row)
        assert log.verify().ok, log.verify()
        assert [dict(e.details) for e in log.entries()] == [
            orjson.loads(orjson.dumps(r)) for r in rows
        ]


# -- JSONL tampering -------------------------------------------------------------------------------
@pytest.fixture
def jsonl(tmp_path: Path) -> tuple[AuditLog, Path]:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.jsonl(path, fsync=True)
    _fill(log, 5)
    return log, path


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def test_jsonl_clean(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    assert len(_lines(path)) == 5
    result = log.verify()
    assert result.ok
    assert result.count == 5
    assert str(result) == "audit log OK: 5 entries"
    log.verify_or_raise()


def test_jsonl_edit_detected_at_its_line(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    lines = _lines(path)
    lines[2] = lines[2].replace(b'"n":2', b'"n":9')
    _write(path, lines)
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("line 3", 3)]
    assert "edited" in result.problems[0].message
    assert result.problems[0].index == 2


def test_jsonl_edit_with_recomputed_hash_detected_at_next_line(
    jsonl: tuple[AuditLog, Path],
) -> None:
    log, path = jsonl
    lines = _lines(path)
    data = orjson.loads(lines[1])
    data["details"] = {"n": 42}
    forged = AuditEntry.from_dict(data)
    forged_dict = {**forged.to_dict(), "hash": forged.compute_hash()}
    lines[1] = orjson.dumps(forged_dict, option=orjson.OPT_SORT_KEYS) + b"\n"
    _write(path, lines)
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("line 3", 3)]
    assert "prev_hash does not match" in result.problems[0].message


def test_jsonl_removed_entry_detected(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    lines = _lines(path)
    del lines[1]
    _write(path, lines)
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("line 2", 3)]
    assert "sequence 2 missing" in result.problems[0].message


def test_jsonl_reordered_entries_detected(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    lines = _lines(path)
    lines[1], lines[2] = lines[2], lines[1]
    _write(path, lines)
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("line 2", 3), ("line 3", 2)]
    assert "missing" in result.problems[0].message
    assert "out of order" in result.problems[1].message


def test_jsonl_inserted_entry_detected(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    lines = _lines(path)
    # A forged entry claiming sequence 3, correctly hashed and linked to entry 2.
    prev = orjson.loads(lines[1])
    fake = AuditEntry(3, NOW, "forged.entry", None, {}, prev["hash"], "")
    fake_line = (
        orjson.dumps({**fake.to_dict(), "hash": fake.compute_hash()}, option=orjson.OPT_SORT_KEYS)
        + b"\n"
    )
    lines.insert(2, fake_line)
    _write(path, lines)
    result = log.verify()
    assert not result.ok
    # The genuine entry 3 now follows the forgery (out of order), and entry 4 no longer links
    # to what precedes it: both point at the insertion.
    assert [(p.location, p.sequence) for p in result.problems] == [("line 4", 3), ("line 5", 4)]
    assert "inserted" in result.problems[0].message
    assert "prev_hash does not match" in result.problems[1].message


def test_jsonl_duplicated_entry_detected(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    lines = _lines(path)
    lines.insert(3, lines[2])
    _write(path, lines)
    assert [(p.location, p.sequence) for p in log.verify().problems] == [("line 4", 3)]


def test_jsonl_truncated_tail_needs_expected_head(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    head = log.head()
    assert head is not None
    _write(path, _lines(path)[:3])
    assert log.verify().ok  # a shorter valid chain cannot be told apart on its own
    result = log.verify(expected_head=head)
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert problem.location == "end"
    assert problem.sequence == 5
    assert "truncated" in problem.message
    assert "ends at sequence 3" in problem.message
    by_hash = log.verify(expected_head=head.hash)
    assert not by_hash.ok
    by_count = log.verify(expected_count=5)
    assert "3 entries, expected at least 5" in str(by_count)
    with pytest.raises(pk.AuditIntegrityError, match="truncated"):
        log.verify_or_raise(expected_head=head)


def test_expected_head_still_ok_after_the_log_grows(jsonl: tuple[AuditLog, Path]) -> None:
    log, _path = jsonl
    head = log.head()
    log.record("more.work", now=NOW)
    assert log.verify(expected_head=head, expected_count=5).ok


def test_jsonl_corrupt_line_reported_not_raised(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    lines = _lines(path)
    lines[1] = b"{this is not json\n"
    lines[3] = b"[1, 2]\n"
    _write(path, lines)
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [
        ("line 2", None),
        ("line 4", None),
    ]
    assert "not valid JSON" in result.problems[0].message
    assert "not a JSON object" in result.problems[1].message
    with pytest.raises(pk.AuditIntegrityError, match="line 2"):
        list(log.entries())
    # The tail is intact, so appending continues the chain.
    log.record("after.corruption", now=NOW)


def test_jsonl_malformed_entry_reported(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    lines = _lines(path)
    data = orjson.loads(lines[1])
    del data["prev_hash"]
    lines[1] = orjson.dumps(data) + b"\n"
    _write(path, lines)
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("line 2", 2)]
    assert "missing field(s): prev_hash" in result.problems[0].message


def test_appending_after_a_corrupt_tail_refuses(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    _write(path, [*_lines(path), b'{"torn": tr'])  # a torn write: no newline
    with pytest.raises(pk.AuditIntegrityError, match=r"line 6\).*torn write"):
        log.record("next.step", now=NOW)
    assert [(p.location, p.sequence) for p in log.verify().problems] == [("line 6", None)]


def test_appending_after_an_edited_tail_refuses(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    lines = _lines(path)
    lines[-1] = lines[-1].replace(b'"n":4', b'"n":5')
    _write(path, lines)
    with pytest.raises(pk.AuditIntegrityError, match="does not match its hash"):
        log.record("next.step", now=NOW)


def test_appending_after_a_non_json_tail_refuses(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    _write(path, [*_lines(path), b"garbage\n"])
    with pytest.raises(pk.AuditIntegrityError, match=r"line 6\) is corrupt"):
        log.record("next.step", now=NOW)


def test_jsonl_blank_line_reported(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    lines = _lines(path)
    lines.insert(2, b"\n")
    _write(path, lines)
    problems = log.verify().problems
    assert problems[0].location == "line 3"
    assert "empty line" in problems[0].message


def test_jsonl_missing_file_is_an_empty_log(tmp_path: Path) -> None:
    log = AuditLog.jsonl(tmp_path / "none.jsonl")
    assert log.verify().ok
    assert log.head() is None
    assert list(log.entries()) == []
    log.record("first.entry", now=NOW)
    assert log.head() is not None
    assert log.head().sequence == 1


def test_jsonl_reopened_log_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    _fill(AuditLog.jsonl(path), 2)
    entry = AuditLog(JsonlSink(path)).record("again.x", now=NOW)
    assert entry.sequence == 3
    assert AuditLog.jsonl(path).verify().ok


def test_jsonl_last_line_of_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    log = AuditLog.jsonl(path)
    for i in range(300):
        log.record("bulk.write", now=NOW, details={"pad": "x" * 60, "i": i})
    assert log.head().sequence == 300  # type: ignore[union-attr]
    assert log.verify(expected_count=300).ok


# -- SQLite tampering ------------------------------------------------------------------------------
@pytest.fixture
def sqlite_log() -> tuple[AuditLog, sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    log = AuditLog.sqlite(conn)
    _fill(log, 5)
    return log, conn


def test_sqlite_clean_and_schema(sqlite_log: tuple[AuditLog, sqlite3.Connection]) -> None:
    log, conn = sqlite_log
    assert log.verify().ok
    columns = [row[1] for row in conn.execute("PRAGMA table_info(privacy_kit_audit)")]
    assert columns == [
        "sequence",
        "at",
        "action",
        "subject",
        "details",
        "prev_hash",
        "hash",
        "chain",
    ]


def test_sqlite_edit_detected(sqlite_log: tuple[AuditLog, sqlite3.Connection]) -> None:
    log, conn = sqlite_log
    conn.execute("UPDATE privacy_kit_audit SET action = 'other.thing' WHERE sequence = 2")
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("row 2", 2)]


def test_sqlite_removed_row_detected(sqlite_log: tuple[AuditLog, sqlite3.Connection]) -> None:
    log, conn = sqlite_log
    conn.execute("DELETE FROM privacy_kit_audit WHERE sequence = 3")
    assert [(p.location, p.sequence) for p in log.verify().problems] == [("row 3", 4)]


def test_sqlite_renumbered_rows_detected(sqlite_log: tuple[AuditLog, sqlite3.Connection]) -> None:
    log, conn = sqlite_log
    # Swap entries 2 and 3 by renumbering them (a reorder in a table).
    conn.execute("UPDATE privacy_kit_audit SET sequence = 100 WHERE sequence = 2")
    conn.execute("UPDATE privacy_kit_audit SET sequence = 2 WHERE sequence = 3")
    conn.execute("UPDATE privacy_kit_audit SET sequence = 3 WHERE sequence = 100")
    result = log.verify()
    assert {p.location for p in result.problems} == {"row 2", "row 3", "row 4"}
    edited = {p.location for p in result.problems if "edited" in p.message}
    assert edited == {"row 2", "row 3"}


def test_sqlite_corrupt_details_reported(sqlite_log: tuple[AuditLog, sqlite3.Connection]) -> None:
    log, conn = sqlite_log
    conn.execute("UPDATE privacy_kit_audit SET details = '{oops' WHERE sequence = 5")
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("row 5", None)]
    with pytest.raises(pk.AuditIntegrityError, match=r"row 5\) is corrupt"):
        log.record("next.step", now=NOW)


def test_sqlite_truncated_tail(sqlite_log: tuple[AuditLog, sqlite3.Connection]) -> None:
    log, conn = sqlite_log
    head = log.head()
    conn.execute("DELETE FROM privacy_kit_audit WHERE sequence >= 4")
    assert log.verify().ok
    assert not log.verify(expected_head=head).ok


def test_sqlite_file_path_and_custom_table(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    log = AuditLog.sqlite(path, table="my_audit")
    _fill(log, 2)
    log.sink.close()  # type: ignore[attr-defined]
    again = AuditLog.sqlite(path, table="my_audit")
    assert [e.sequence for e in again.entries()] == [1, 2]
    assert again.verify().ok


def _journal_mode(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def test_sqlite_file_the_sink_creates_is_in_wal_mode_and_syncs_every_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new" / "audit.db"
    path.parent.mkdir()
    log = AuditLog.sqlite(path)
    sink = log.sink
    assert sink.connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # type: ignore[attr-defined]
    _fill(log, 3)
    assert _journal_mode(path) == "wal"
    sink.close()  # type: ignore[attr-defined]
    # Opened again, it is the same log (and stays in WAL mode: the mode belongs to the file).
    again = AuditLog.sqlite(path)
    assert [e.sequence for e in again.entries()] == [1, 2, 3]
    assert again.verify().ok
    assert _journal_mode(path) == "wal"
    # An empty file (made by someone's ``touch``) holds no database yet: it is created too.
    empty = tmp_path / "empty.db"
    empty.touch()
    AuditLog.sqlite(empty).record("a.b", now=NOW)
    assert _journal_mode(empty) == "wal"


def test_sqlite_file_that_existed_keeps_its_journal_mode(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    host = sqlite3.connect(path)
    host.execute("CREATE TABLE host_things (x INTEGER)")
    host.commit()
    host.close()
    log = AuditLog.sqlite(path)
    _fill(log, 2)
    assert _journal_mode(path) == "delete"  # the host's choice, not changed for them
    assert log.sink.connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # type: ignore[attr-defined]
    assert log.verify().ok


def test_sqlite_bad_table_name() -> None:
    with pytest.raises(ValueError, match="invalid table name"):
        AuditLog.sqlite(":memory:", table="x; DROP TABLE y")


# -- memory sink and the protocol ------------------------------------------------------------------
def test_memory_sink_tamper_and_protocol() -> None:
    sink = MemorySink()
    assert isinstance(sink, pk.audit.AuditSink)
    log = AuditLog(sink)
    _fill(log, 3)
    sink.rows[0]["subject"] = "subj_other"
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("entry 1", 1)]
    assert "entry 1 (sequence 1): content does not match its hash" in str(result)


def test_entry_from_dict_errors() -> None:
    good = AuditLog.memory().record("a.b", now=NOW).to_dict()
    for field, value, message in [
        ("sequence", 0, "sequence must be a positive integer"),
        ("sequence", True, "sequence must be a positive integer"),
        ("at", "yesterday", "at must be an ISO 8601"),
        ("at", "2026-01-01T00:00:00", "at must carry a UTC offset"),
        ("hash", "abc", "hash must be 64"),
        ("details", [], "details must be an object"),
        ("subject", 5, "subject must be a string"),
        ("action", 5, "action must be a string"),
    ]:
        with pytest.raises(ValueError, match=message):
            AuditEntry.from_dict({**good, field: value})
    with pytest.raises(ValueError, match="unexpected field"):
        AuditEntry.from_dict({**good, "extra": 1})


def test_engine_defaults_to_a_memory_log() -> None:
    from privacy_kit.adapters import InMemoryAdapter

    policy = pk.load_policy(pk.example_path())
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    engine = pk.Engine(
        policy, datamap, InMemoryAdapter({rt.table_name: [] for rt in datamap.record_types})
    )
    assert isinstance(engine.audit, pk.AuditLog)
    assert isinstance(engine.audit.sink, MemorySink)
    mine = AuditLog.memory()
    other = pk.Engine(
        policy,
        datamap,
        InMemoryAdapter({rt.table_name: [] for rt in datamap.record_types}),
        audit=mine,
    )
    assert other.audit is mine


# -- keyed chains ----------------------------------------------------------------------------------
KEY = b"0123456789abcdef0123456789abcdef"


def _forged_line(entry: AuditEntry, *, key: bytes | None = None) -> bytes:
    """``entry`` hashed (with ``key`` for a keyed one), as the canonical line a sink writes."""
    hashed = attrs.evolve(entry, hash=entry.compute_hash(key))
    return orjson.dumps(hashed.to_dict(), option=orjson.OPT_SORT_KEYS) + b"\n"


def test_keyed_log_records_hmacs_and_verifies_only_with_the_key(tmp_path: Path) -> None:
    path = tmp_path / "keyed.jsonl"
    log = AuditLog.jsonl(path, key=KEY)
    assert log.keyed
    _fill(log, 3)
    rows = [orjson.loads(line) for line in _lines(path)]
    assert {row["chain"] for row in rows} == {"hmac-sha256"}
    entries = list(log.entries())
    assert all(e.keyed and e.hash == e.compute_hash(KEY) for e in entries)
    assert all(e.hash != attrs.evolve(e, chain="sha256").compute_hash() for e in entries)
    assert log.verify().ok
    assert AuditLog.jsonl(path).verify(key=KEY).ok
    wrong = AuditLog.jsonl(path).verify(key=b"another key")
    assert [(p.location, p.sequence) for p in wrong.problems] == [
        ("line 1", 1),
        ("line 2", 2),
        ("line 3", 3),
    ]
    assert all("written without the key" in p.message for p in wrong.problems)
    keyless = AuditLog.jsonl(path).verify()
    assert [(p.location, p.sequence) for p in keyless.problems] == [("line 1", 1)]
    assert "cannot be checked without the key" in keyless.problems[0].message
    assert "keyed" in repr(log)


def test_forged_entry_without_the_key_fails_a_keyed_log(tmp_path: Path) -> None:
    path = tmp_path / "keyed.jsonl"
    log = AuditLog.jsonl(path, key=KEY)
    _fill(log, 3)
    tail = list(log.entries())[-1]
    # A writer without the key cannot use the library to append ...
    with pytest.raises(pk.AuditIntegrityError, match=r"keyed .* has no key"):
        AuditLog.jsonl(path).record("forged.entry", now=NOW)
    # ... and what it writes by hand does not verify: a plain SHA-256 entry, correctly linked,
    forged = AuditEntry(4, NOW, "forged.entry", None, {}, tail.hash, "")
    _write(path, [*_lines(path), _forged_line(forged)])
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("line 4", 4)]
    assert "not keyed" in result.problems[0].message
    # ... or an entry claiming to be keyed, hashed under a guessed key.
    lines = _lines(path)[:3]
    keyed_forgery = attrs.evolve(forged, chain="hmac-sha256")
    _write(path, [*lines, _forged_line(keyed_forgery, key=b"guess")])
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("line 4", 4)]
    assert "written without the key" in result.problems[0].message
    with pytest.raises(pk.AuditIntegrityError, match=r"last line, sequence 4.*without the key"):
        log.record("next.step", now=NOW)


def test_a_chain_rewritten_whole_without_the_key_fails(tmp_path: Path) -> None:
    path = tmp_path / "keyed.jsonl"
    _fill(AuditLog.jsonl(path, key=KEY), 3)
    path.unlink()
    _fill(AuditLog.jsonl(path), 3)  # a consistent unkeyed chain in its place
    result = AuditLog.jsonl(path, key=KEY).verify()
    assert len(result.problems) == 3
    assert all("not keyed" in p.message for p in result.problems)


def test_keyed_and_unkeyed_writers_do_not_mix(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    _fill(AuditLog.jsonl(path), 2)
    with pytest.raises(pk.AuditIntegrityError, match="cannot continue an unkeyed chain"):
        AuditLog.jsonl(path, key=KEY).record("a.b", now=NOW)
    assert len(_lines(path)) == 2
    with pytest.raises(pk.ConfigurationError, match="non-empty bytes"):
        AuditLog.memory(key=b"")
    with pytest.raises(pk.ConfigurationError, match="non-empty bytes"):
        AuditLog.memory(key="text")  # type: ignore[arg-type]


def test_unkeyed_lines_of_the_old_format_still_verify(tmp_path: Path) -> None:
    # Written by hand as privacy_kit wrote them before keys existed: no "chain" field, SHA-256.
    payload = {
        "sequence": 1,
        "at": "2026-03-01T12:00:00+00:00",
        "action": "a.b",
        "subject": None,
        "details": {"n": 1},
        "prev_hash": GENESIS_HASH,
    }
    digest = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
    path = tmp_path / "old.jsonl"
    path.write_bytes(orjson.dumps({**payload, "hash": digest}, option=orjson.OPT_SORT_KEYS) + b"\n")
    log = AuditLog.jsonl(path)
    assert log.verify().ok
    assert log.record("c.d", now=NOW).sequence == 2
    assert log.verify().ok
    assert b"chain" not in path.read_bytes()


def test_sqlite_keyed_log_and_a_table_from_before_keys() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE privacy_kit_audit (sequence INTEGER PRIMARY KEY, at TEXT NOT NULL, "
        "action TEXT NOT NULL, subject TEXT, details TEXT NOT NULL, prev_hash TEXT NOT NULL, "
        "hash TEXT NOT NULL)"
    )
    conn.commit()
    log = AuditLog.sqlite(conn, key=KEY)
    assert log.verify().ok
    _fill(log, 3)  # the first keyed append adds the chain column
    columns = [row[1] for row in conn.execute("PRAGMA table_info(privacy_kit_audit)")]
    assert columns[-1] == "chain"
    assert log.verify().ok
    assert not AuditLog.sqlite(conn).verify(key=b"wrong").ok
    conn.execute("UPDATE privacy_kit_audit SET chain = NULL WHERE sequence = 2")
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("row 2", 2)]


# -- duplicated JSON keys --------------------------------------------------------------------------
def test_jsonl_duplicated_key_reported_with_its_line(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    lines = _lines(path)
    # orjson keeps the last value, so the hash still matches; a reader of the first sees another.
    lines[1] = lines[1].replace(b'{"action":', b'{"action":"shown.instead","action":', 1)
    lines[2] = lines[2].replace(b'"details":{"n":2}', b'"details":{"n":7,"n":2}', 1)
    _write(path, lines)
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("line 2", 2), ("line 3", 3)]
    assert "duplicated JSON key 'action'" in result.problems[0].message
    assert "duplicated JSON key 'n'" in result.problems[1].message
    with pytest.raises(pk.AuditIntegrityError, match=r"line 2: duplicated JSON key"):
        list(log.entries())


def test_appending_after_an_ambiguous_tail_refuses(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    lines = _lines(path)
    lines[-1] = lines[-1].replace(b'{"action":', b'{"action":"x.y","action":', 1)
    _write(path, lines)
    with pytest.raises(pk.AuditIntegrityError, match=r"line 5\) is ambiguous: duplicated"):
        log.record("next.step", now=NOW)


def test_non_canonical_lines_without_duplicates_still_verify(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    # Pretty-printed by another tool: not canonical, but unambiguous.
    lines = [line.replace(b":", b": ", 1) for line in _lines(path)]
    _write(path, lines)
    assert log.verify().ok


def test_sqlite_duplicated_key_in_details(sqlite_log: tuple[AuditLog, sqlite3.Connection]) -> None:
    log, conn = sqlite_log
    conn.execute("""UPDATE privacy_kit_audit SET details = '{"n":9,"n":3}' WHERE sequence = 4""")
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("row 4", 4)]
    assert "details duplicated JSON key 'n'" in result.problems[0].message


# -- anchors ---------------------------------------------------------------------------------------
def test_anchor_is_json_and_catches_truncation(jsonl: tuple[AuditLog, Path]) -> None:
    log, path = jsonl
    published = orjson.dumps(log.anchor())  # e.g. sent to another system
    anchor = orjson.loads(published)
    assert anchor == {"sequence": 5, "hash": log.head().hash}  # type: ignore[union-attr]
    log.record("later.work", now=NOW)
    assert log.verify(expected_head=anchor).ok
    _write(path, _lines(path)[:4])
    result = log.verify(expected_head=anchor)
    assert [(p.location, p.sequence) for p in result.problems] == [("end", 5)]
    assert "truncated" in result.problems[0].message


def test_anchor_catches_a_forked_or_rewritten_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.jsonl(path)
    _fill(log, 3)
    fork = tmp_path / "fork.jsonl"
    fork.write_bytes(path.read_bytes())
    log.record("original.four", now=NOW)
    log.record("original.five", now=NOW)
    anchor = log.anchor()
    other = AuditLog.jsonl(fork)
    other.record("forked.four", now=NOW)
    other.record("forked.five", now=NOW)
    other.record("forked.six", now=NOW)
    assert other.verify().ok  # a valid chain on its own
    result = other.verify(expected_head=anchor)
    assert [(p.location, p.sequence) for p in result.problems] == [("end", 5)]
    assert "rewritten or forked" in result.problems[0].message
    # The same with the hash alone, and with the AuditHead.
    assert not other.verify(expected_head=anchor["hash"]).ok
    assert not other.verify(expected_head=pk.audit.AuditHead.from_dict(anchor)).ok
    assert log.verify(expected_head=anchor).ok


def test_anchor_of_an_empty_log_and_bad_anchors() -> None:
    log = AuditLog.memory()
    empty = log.anchor()
    assert empty == {"sequence": 0, "hash": GENESIS_HASH}
    _fill(log, 2)
    assert log.verify(expected_head=empty).ok
    with pytest.raises(pk.ConfigurationError, match="expected_head: audit anchor: sequence"):
        log.verify(expected_head={"sequence": -1, "hash": GENESIS_HASH})
    with pytest.raises(pk.ConfigurationError, match="genesis"):
        log.verify(expected_head={"sequence": 0, "hash": "a" * 64})
    with pytest.raises(pk.ConfigurationError, match="must be an AuditHead"):
        log.verify(expected_head=5)  # type: ignore[arg-type]


# -- sink failures name the sink -------------------------------------------------------------------
def test_sqlite_locked_database_raises_a_sink_error(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    log = AuditLog.sqlite(path, timeout=0.2)
    log.record("a.b", now=NOW)
    other = sqlite3.connect(path, timeout=0.1)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(pk.audit.AuditSinkError, match=r"SqliteSink\(.*audit\.db, table") as err:
            log.record("c.d", now=NOW)
    finally:
        other.rollback()
        other.close()
    assert isinstance(err.value, pk.PrivacyKitError)
    assert isinstance(err.value.__cause__, sqlite3.OperationalError)
    assert log.record("e.f", now=NOW).sequence == 2


def test_sqlite_duplicate_sequence_is_a_sink_error_not_an_integrity_error() -> None:
    log = AuditLog.sqlite(":memory:")
    entry = log.record("a.b", now=NOW)
    with pytest.raises(pk.audit.AuditSinkError, match=r"append failed: UNIQUE constraint"):
        log.sink.append(entry)
    assert log.verify(expected_count=1).ok


def test_jsonl_unwritable_path_is_a_sink_error(tmp_path: Path) -> None:
    log = AuditLog.jsonl(tmp_path / "missing-dir" / "audit.jsonl")
    with pytest.raises(pk.audit.AuditSinkError, match=r"JsonlSink: open failed: .*missing-dir"):
        log.record("a.b", now=NOW)


class _PlainSink:
    """A sink of one's own without append_next: still works (one process)."""

    def __init__(self) -> None:
        self.inner = MemorySink()

    def append(self, entry: AuditEntry) -> None:
        self.inner.append(entry)

    def read(self) -> Iterator[RawEntry]:
        return self.inner.read()

    def last(self) -> RawEntry | None:
        return self.inner.last()


def test_a_sink_without_append_next_still_chains() -> None:
    log = AuditLog(_PlainSink())
    _fill(log, 3)
    assert log.verify(expected_count=3).ok
