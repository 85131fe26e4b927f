"""The soak test: several processes at once on one PostgreSQL database, then the books are checked.

For ``PRIVACY_KIT_SOAK_SECONDS`` (default 20) three worker processes place legal holds, record
objections, export, erase and sweep (each through its own ``Engine`` on one shared
``SQLAlchemyStateStore`` and one keyed audit log in the database), while a fourth reopens closed
accounts and adds new ones with their records. Everything runs in a database of its own
(``soak_<random>``, dropped afterwards) on the loopback server; the randomness is seeded
(``PRIVACY_KIT_SOAK_SEED``), the waits are generous, and a process that fails puts its traceback
in the test's failure.

Triggers log every row updated or deleted in the application's tables, with the process that did
it (its ``application_name``) and the database's clock; each process writes what it did, timed by
that clock, to a ground-truth table (tests/soak_workers.py). At the end:

- nothing held was touched by a statement that started after the hold committed, however long
  before that the erasure or sweep was planned (applying re-reads the holds before each unit);
- no sweep touched an account after its reopening committed, nor an account never closed;
- an erasure touched its own subject's records only, and every change belongs to an operation;
- every export's file matches its reported SHA-256 and counts, holds only its subject's records,
  and holds every record of theirs that no one changed while it ran;
- the audit chain verifies under its key, has an entry per operation, and each ``*.applied``
  entry counts exactly the rows its operation changed (per record type);
- every objection is honoured and every hold is in force, read by a new engine.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import POSTGRES_URL, create_database

pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed (extra [sqlalchemy])")
pytest.importorskip("psycopg", reason="the psycopg driver is not installed")
import soak_workers as soak  # after the skips: it needs SQLAlchemy

SECONDS = float(os.environ.get("PRIVACY_KIT_SOAK_SECONDS", "20"))
SEED = int(os.environ.get("PRIVACY_KIT_SOAK_SEED", "14"))
WORKERS = 3
ONE = dt.timedelta(seconds=1)
_CTX = multiprocessing.get_context("spawn")

pytestmark = pytest.mark.postgres


# == the database ==================================================================================
@pytest.fixture
def soak_url(postgres_engine: Any) -> Iterator[str]:
    """A fresh database on the server, with the schema, triggers and starting data; dropped after."""
    import sqlalchemy as sa

    from privacy_kit.adapters import SQLAlchemyAdapter

    name = f"soak_{uuid.uuid4().hex[:12]}"
    server = postgres_engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        create_database(server, name)
    except sa.exc.SQLAlchemyError as exc:
        pytest.skip(f"the soak test needs a database of its own, and: {exc}")
    url = sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        db = sa.create_engine(url)
        try:
            adapter = SQLAlchemyAdapter(db)
            adapter.create_schema(soak.DATAMAP)
            with db.begin() as conn:
                for statement in (soak.TRUTH, soak.CHANGES, soak.LOG_FUNCTION):
                    conn.execute(sa.text(statement))
                for table in soak.LOGGED_TABLES:
                    conn.execute(
                        sa.text(
                            f"CREATE TRIGGER soak_log_{table} AFTER UPDATE OR DELETE ON {table} "
                            "FOR EACH ROW EXECUTE FUNCTION soak_log()"
                        )
                    )
            for table, rows in soak.initial_rows().items():
                adapter.insert(soak.DATAMAP.record_type(table), rows)
        finally:
            db.dispose()
        truth = soak.Truth(url, "setup")
        try:
            with soak.engine_for(url, "soak-setup") as (engine, _db):
                for user in soak.HELD_AT_START:
                    started = truth.clock()
                    engine.place_hold(
                        reason="Soak dispute",
                        placed_by="setup",
                        now=soak.wall(),
                        subject=soak.customer(user),
                        hold_id=f"hold_soak_setup_{user}",
                    )
                    truth.record("hold", user, started, {"hold": f"hold_soak_setup_{user}"})
        finally:
            truth.close()
        yield url
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _run(url: str, folder: Path) -> dict[str, Any]:
    """Start the workers and the reopener together; each one's result, or fail with every error."""
    queue = _CTX.Queue()
    barrier = _CTX.Barrier(WORKERS + 1)
    processes = [
        _CTX.Process(target=soak.worker, args=(url, n, SEED, SECONDS, str(folder), barrier, queue))
        for n in range(1, WORKERS + 1)
    ]
    processes.append(_CTX.Process(target=soak.reopener, args=(url, SEED, SECONDS, barrier, queue)))
    for p in processes:
        p.start()
    results: dict[str, Any] = {}
    failures: list[str] = []
    try:
        for _ in processes:
            try:
                name, status, body = queue.get(timeout=SECONDS + 300)
            except Exception as exc:  # noqa: BLE001 - reported with the others
                failures.append(f"no result from a process within {SECONDS + 300:.0f} s: {exc!r}")
                break
            if status == "ok":
                results[name] = body
            else:
                failures.append(f"{name} failed:\n{body}")
    finally:
        for p in processes:
            p.join(timeout=60)
            if p.is_alive():  # pragma: no cover - only when a child hangs
                p.kill()
                p.join(timeout=10)
        queue.close()
        queue.join_thread()
    assert not failures, "\n\n".join(failures)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return results


# == what happened =================================================================================
class Books:
    """The ground truth, the logged row changes and the audit log, read after the run."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        import privacy_kit as pk

        db = sa.create_engine(url)
        try:
            with db.connect() as conn:
                self.truth = [
                    dict(r._mapping)
                    for r in conn.execute(sa.text("SELECT * FROM soak_truth ORDER BY seq"))
                ]
                self.changes = [
                    dict(r._mapping)
                    for r in conn.execute(sa.text("SELECT * FROM soak_changes ORDER BY seq"))
                ]
        finally:
            db.dispose()
        log = pk.AuditLog.sqlalchemy(url, table=soak.AUDIT_TABLE, key=soak.AUDIT_KEY)
        try:
            self.verification = log.verify()
            self.audit = list(log.entries())
        finally:
            log.sink.close()  # type: ignore[attr-defined]
        self.ops: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for row in self.truth:
            self.ops[row["kind"]].append(row)
        # Whose each booking is: the host, and the invitee's address when it was inserted.
        start = soak.initial_rows()
        self.bookings = {b["id"]: (b["host_id"], b["invitee_email"]) for b in start["bookings"]}
        self.sessions = {s["id"]: s["user_id"] for s in start["sessions"]}
        for row in self.ops["insert"]:
            for b in row["info"]["bookings"]:
                self.bookings[b] = (row["subject"], f"g{b}@x.net")
            for s in row["info"]["sessions"]:
                self.sessions[s] = row["subject"]
        self.closed_at_start = {u["id"] for u in start["users"] if u["closed_at"] is not None} | {
            r["subject"] for r in self.ops["insert"] if r["info"]["closed"]
        }
        self._first_change: dict[tuple[str, int], dt.datetime] = {}
        for c in self.changes:
            key = (c["tbl"], c["id"])
            if c["app"] != "soak-reopener" and c["at"] < self._first_change.get(key, c["at"] + ONE):
                self._first_change[key] = c["at"]
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def op_of(self, change: dict[str, Any]) -> dict[str, Any] | None:
        """The erasure or sweep of the process that made ``change``, running when it was made."""
        for kind in ("erasure", "sweep"):
            for op in self.ops[kind]:
                if op["worker"] == change["app"] and op["started"] <= change["at"] <= op["ended"]:
                    return op
        return None

    def by_op(self) -> dict[int, list[dict[str, Any]]]:
        found: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
        for change in self.changes:
            if change["app"] == "soak-reopener":
                continue
            op = self.op_of(change)
            if op is None:
                self.problem(f"a change made outside any erasure or sweep: {change}")
            else:
                found[op["seq"]].append(change)
        return found

    def touched_before(self, table: str, key: int, when: dt.datetime) -> bool:
        """Whether a worker changed that row before ``when`` (a reopening leaves it whole)."""
        first = self._first_change.get((table, key))
        return first is not None and first < when


def _counts(changes: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {"DELETE": {}, "UPDATE": {}}
    for c in changes:
        out[c["op"]][c["tbl"]] = out[c["op"]].get(c["tbl"], 0) + 1
    return out


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


def check_changes(books: Books) -> None:
    """Nothing held, reopened, never closed or another subject's was touched; counts match."""
    holds = books.ops["hold"]
    reopened = {r["subject"]: r["ended"] for r in books.ops["reopen"]}
    applied = collections.defaultdict(list)
    for entry in books.audit:
        if entry.action in ("erasure.applied", "retention.applied"):
            applied[entry.details["plan"]].append(entry)
    steps: dict[str, list[Any]] = collections.defaultdict(list)
    for entry in books.audit:
        if entry.action == "retention.step":
            steps[entry.details["plan"]].append(entry)
    grouped = books.by_op()
    for kind in ("erasure", "sweep"):
        for op in books.ops[kind]:
            changes = grouped.get(op["seq"], [])
            what = f"{kind} #{op['seq']} by {op['worker']} (subject {op['subject']})"
            for c in changes:
                row = f"{c['op']} of {c['tbl']} {c['id']} (account {c['owner']})"
                for hold in holds:
                    if hold["subject"] != c["owner"]:
                        continue
                    if hold["ended"] < op["started"]:
                        books.problem(f"{what}: {row}, held by {hold['info']['hold']}")
                    elif hold["ended"] < c["stmt_at"]:  # planned before the hold, applied after
                        books.problem(
                            f"{what}: {row}, by a statement that started at {c['stmt_at']}, "
                            f"after {hold['info']['hold']} committed ({hold['ended']})"
                        )
                if kind == "erasure" and c["owner"] != op["subject"]:
                    books.problem(f"{what}: {row}, another subject's record")
                if kind == "sweep":
                    if c["owner"] not in books.closed_at_start:
                        books.problem(f"{what}: {row}, an account never closed")
                    elif c["owner"] in reopened and c["stmt_at"] > reopened[c["owner"]]:
                        books.problem(
                            f"{what}: {row}, by a statement that started at {c['stmt_at']}, "
                            f"after the account's reopening committed ({reopened[c['owner']]})"
                        )
            counted = _counts(changes)
            entries = applied.get(op["info"]["plan"], [])
            if len(entries) != 1:
                books.problem(f"{what}: {len(entries)} *.applied audit entries for its plan")
                continue
            details = entries[0].details
            if kind == "erasure":
                said = {
                    "DELETE": _nonzero(details["deleted"]),
                    "UPDATE": _nonzero(details["anonymised"]),
                }
                reported = {
                    "DELETE": _nonzero(op["info"]["deleted"]),
                    "UPDATE": _nonzero(op["info"]["anonymised"]),
                }
                if reported != said:
                    books.problem(f"{what}: its report {reported} differs from the audit {said}")
            else:
                said = {"DELETE": {}, "UPDATE": {}}
                for step in steps[op["info"]["plan"]]:
                    op_name = "DELETE" if step.details["action"] == "delete" else "UPDATE"
                    rt = step.details["record_type"]
                    said[op_name][rt] = said[op_name].get(rt, 0) + step.details["count"]
                said = {k: _nonzero(v) for k, v in said.items()}
                if details["total"] != len(changes) or op["info"]["total"] != len(changes):
                    books.problem(
                        f"{what}: retention.applied total {details['total']} (report "
                        f"{op['info']['total']}), rows changed {len(changes)}"
                    )
            if said != counted:
                books.problem(f"{what}: the audit counts {said}, the rows changed {counted}")


def _belongs(books: Books, entry: str, record: dict[str, Any], user: int) -> bool:
    """Whether an exported record is the account's own (in the role its entry says)."""
    address = soak.email(user)
    as_host = "invitee_email" not in record and books.bookings.get(record["id"], (0, ""))[0] == user
    as_invitee = (
        "host_id" not in record
        and record.get("invitee_email") == address
        and books.bookings.get(record["id"], (0, ""))[1] == address
    )
    if entry == "users":
        return bool(record["id"] == user)
    if entry == "sessions":
        return books.sessions.get(record["id"]) == user
    if entry == "bookings":  # found in one role only: the entry does not name it
        return as_host or as_invitee
    if entry == "bookings.host":
        return as_host
    if entry == "bookings.invitee":
        return as_invitee
    return False  # the other tables are empty


def check_exports(books: Books) -> None:
    """Each export: its file, only its subject's records, and every record no one changed."""
    for op in books.ops["export"]:
        user, info = op["subject"], op["info"]
        what = f"export #{op['seq']} by {op['worker']} of account {user}"
        path = Path(info["path"])
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != info["sha256"]:
            books.problem(f"{what}: the file's SHA-256 {digest} is not the reported one")
        with zipfile.ZipFile(path) as bundle:
            found = {
                entry: json.loads(bundle.read(f"records/{entry}.json")) for entry in info["counts"]
            }
        for entry, records in found.items():
            if len(records) != info["counts"][entry]:
                books.problem(f"{what}: {entry} holds {len(records)}, reported {info['counts']}")
        for entry, records in found.items():
            for record in records:
                if not _belongs(books, entry, record, user):
                    books.problem(f"{what}: {entry} holds another's record {record}")
        # Completeness: the subject's records that no worker changed before the export ended.
        end = op["ended"]
        account_whole = not books.touched_before("users", user, end)
        expected = {
            "users": {user} if account_whole else set(),
            "bookings.host": {
                b
                for b, (host, _) in books.bookings.items()
                if host == user and not books.touched_before("bookings", b, end)
            },
            "bookings.invitee": {
                b
                for b, (_, address) in books.bookings.items()
                if account_whole
                and address == soak.email(user)
                and not books.touched_before("bookings", b, end)
            },
            "sessions": {
                s
                for s, owner in books.sessions.items()
                if owner == user and not books.touched_before("sessions", s, end)
            },
        }
        if "bookings" in found:  # the subject was found in one role only
            expected["bookings"] = expected.pop("bookings.host") | expected.pop("bookings.invitee")
        for entry, wanted in expected.items():
            have = {r["id"] for r in found.get(entry, [])}
            if wanted - have:
                books.problem(f"{what}: {entry} lacks {sorted(wanted - have)}")


def check_audit(books: Books) -> None:
    """The chain verifies under its key; one entry per operation the processes did."""
    if not books.verification.ok:
        books.problem(f"the audit log does not verify: {books.verification}")
    actions = collections.Counter(e.action for e in books.audit)
    for kind, action in (
        ("hold", "hold.placed"),
        ("objection", "objection.recorded"),
        ("export", "export.completed"),
        ("erasure", "erasure.applied"),
        ("sweep", "retention.applied"),
    ):
        if actions[action] != len(books.ops[kind]):
            books.problem(f"{actions[action]} {action} entries for {len(books.ops[kind])} {kind}s")


def check_state(books: Books, url: str) -> None:
    """A new engine honours every objection and every hold the processes recorded."""
    now = soak.wall()
    with soak.engine_for(url, "soak-check") as (engine, _db):
        objected = {r["subject"] for r in books.ops["objection"]}
        for user in range(1, soak.USERS + 1):
            allowed = engine.may_process(soak.customer(user), soak.PURPOSE, now=now).allowed
            if allowed == (user in objected):
                books.problem(f"account {user}: objected {user in objected}, allowed {allowed}")
        active = {h.id for h in engine.holds.active(now)}
        placed = {r["info"]["hold"] for r in books.ops["hold"]}
        if active != placed:
            books.problem(f"holds in force {sorted(active ^ placed)} differ from those placed")


# == the test ======================================================================================
def test_soak(soak_url: str, tmp_path: Path) -> None:
    results = _run(soak_url, tmp_path)
    books = Books(soak_url)
    check_changes(books)
    check_exports(books)
    check_audit(books)
    check_state(books, soak_url)
    swept = sum(1 for c in books.changes if c["app"] != "soak-reopener")
    reopens_in_sweeps = sum(
        1
        for r in books.ops["reopen"]
        if any(s["started"] < r["ended"] < s["ended"] for s in books.ops["sweep"])
    )
    summary = (
        f"soak {SECONDS:.0f} s, seed {SEED}: {results}; {swept} rows changed; "
        f"{reopens_in_sweeps} reopenings committed while a sweep ran; "
        f"{len(books.audit)} audit entries"
    )
    print(summary)  # shown with -s or on failure
    shown = "\n  ".join(books.problems[:30])
    assert not books.problems, f"{len(books.problems)} problem(s) ({summary}):\n  {shown}"
    for kind in soak.WORK:  # each process did each kind of work at least once
        assert len(books.ops[kind]) >= WORKERS, (kind, summary)
    assert swept > 0, summary
