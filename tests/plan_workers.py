"""Process bodies for tests/test_plan_json.py: a deployment on files, and a CLI that applies a plan.

The deployment is a SQLite database and a SQLite state store (holds, commitments, retention
overrides, journals and the secret), so another process opened on the same files (or on copies)
is the same deployment. ``python plan_workers.py apply DB STATE PLAN`` loads the JSON plan in
``PLAN`` in a fresh interpreter, applies it with an engine on ``DB`` and ``STATE`` and prints what
the report says as JSON; ``FAIL_AFTER=n`` in the environment makes the store fail after ``n``
written batches (a crash half-way), which the CLI reports as ``{"error": ...}``.
``python plan_workers.py shards DB STATE PLAN SHARD...`` applies the JSON shards in the files
``SHARD...`` of the JSON retention plan in ``PLAN`` (tests/test_shards.py) and prints their reports'
JSON documents (or ``{"error": ...}``).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import orjson

import privacy_kit as pk
from privacy_kit.adapters import SQLiteAdapter, where
from privacy_kit.audit import SqliteStateStore
from test_export import HANA, example_rows, policy_and_datamap
from test_resume_counts import FailingSQLite

T = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)  # the erasure that leaves commitments
SWEEP = dt.datetime(2031, 6, 2, tzinfo=dt.UTC)  # after the commitments are due
SECRET_STATE = "state.db"


def rows() -> dict[str, list[dict[str, Any]]]:
    """The shared example, plus customers who closed their accounts at various times and many
    bookings, so the sweep deletes, minimises, anonymises and fulfils commitments."""
    data = example_rows()
    template_user, template_booking = data["users"][1], data["bookings"][2]
    for i in range(3, 15):
        closed = dt.datetime(2019 + i % 6, 1 + i % 12, 3, tzinfo=dt.UTC) if i % 3 else None
        data["users"].append(
            dict(
                template_user, id=i, name=f"User {i}", email=f"u{i}@host.example", closed_at=closed
            )
        )
        data["sessions"].append(dict(data["sessions"][1], id=100 + i, user_id=i, cookie_id=f"c{i}"))
        for j in range(4):
            data["bookings"].append(
                dict(
                    template_booking,
                    id=1000 + 10 * i + j,
                    host_id=i,
                    invitee_email=f"guest{i}-{j}@example.com",
                    invitee_name=f"Guest {i}-{j}",
                    end_at=dt.datetime(2018 + j, 2, 1, tzinfo=dt.UTC),
                )
            )
    return data


def engine(db: str | os.PathLike[str], state: str | os.PathLike[str], **kw: Any) -> pk.Engine:
    policy, datamap = policy_and_datamap()
    adapter = kw.pop("adapter", None)
    if adapter is None and str(db).startswith("postgresql"):  # tests/test_shards_blocks.py
        from privacy_kit.adapters import SQLAlchemyAdapter

        adapter = SQLAlchemyAdapter(str(db))
    adapter = adapter or SQLiteAdapter(db)
    return pk.Engine(policy, datamap, adapter, state=SqliteStateStore(state), **kw)


def seed(db: Path, state: Path) -> pk.Engine:
    """A deployment on ``db`` and ``state``: the example's data, Hana erased at ``T`` (her kept
    records become commitments due before ``SWEEP``), a legal hold and a customer's override."""
    _, datamap = policy_and_datamap()
    adapter = SQLiteAdapter(db)
    adapter.create_schema(datamap)
    for table, items in rows().items():
        adapter.insert(datamap.record_type(table), items)
    return prepare(engine(db, state, adapter=adapter))


def prepare(e: pk.Engine) -> pk.Engine:
    """``e`` with Hana erased at ``T`` (her kept records: commitments due before ``SWEEP``), a
    legal hold on customer 5's bookings and customer 4's override (``seed`` on any store)."""
    e.apply(e.plan_erasure(HANA, now=T))
    e.place_hold(
        reason="Dispute 7",
        placed_by="legal",
        now=T,
        record_type="bookings",
        selection=where.eq("host_id", 5),
        hold_id="h-dispute",
    )
    assert e.settings is not None
    e.settings.set(4, "booking_data", "P30D")
    return e


def copy_deployment(db: Path, state: Path, to: Path) -> tuple[Path, Path]:
    """Consistent copies of both databases (SQLite's backup, WAL included) under ``to``."""
    to.mkdir(parents=True, exist_ok=True)
    out = []
    for src in (db, state):
        dst = to / src.name
        with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
            a.backup(b)
        a.close()
        b.close()
        out.append(dst)
    return out[0], out[1]


def table_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the data map, ordered by key: what "the same end state" means."""
    _, datamap = policy_and_datamap()
    with sqlite3.connect(db) as con:
        found = {
            rt.table_name: con.execute(
                f'SELECT * FROM "{rt.table_name}" ORDER BY "{rt.primary_key}"'
            ).fetchall()
            for rt in datamap.record_types
        }
    con.close()
    return found


def summary(report: Any) -> dict[str, Any]:
    """What a report says, as JSON (the counts, not the objects)."""
    if isinstance(report, pk.ExportResult):
        return {"counts": report.counts, "sha256": report.sha256, "redacted": report.redacted}
    if isinstance(report, pk.ErasureReport):
        return {
            "plan_id": report.plan_id,
            "deleted": report.deleted,
            "anonymised": report.anonymised,
            "kept": [k.count for k in report.kept],
            "commitments": sorted(c.id for c in report.commitments),
            "resumed_steps": list(report.resumed_steps),
        }
    return {
        "counts": report.counts(),
        "total": report.total,
        "lines": [[ln.rule, ln.record_type, ln.action, ln.planned, ln.done] for ln in report.lines],
        "held": [ln.held for ln in report.lines],
        "fulfilled": sorted(report.fulfilled),
        "skipped_units": report.skipped_units,
        "exact": report.exact,
    }


def load(text: bytes) -> Any:
    kind = orjson.loads(text)["kind"]
    cls = {"retention": pk.RetentionPlan, "erasure": pk.ErasurePlan, "export": pk.ExportJob}[kind]
    return cls.from_json(text)


def main(argv: list[str]) -> int:
    _, command, db, state, plan_path, *shards = argv
    plan = load(Path(plan_path).read_bytes())
    if command == "shards":
        worker = engine(db, state)
        try:
            reports = [
                worker.apply_shard(plan, pk.Shard.from_json(Path(p).read_bytes())).to_json()
                for p in shards
            ]
            result: dict[str, Any] = {"ok": reports}
        except pk.PrivacyKitError as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(orjson.dumps(result).decode())
        return 0
    assert command == "apply"
    fail_after = os.environ.get("FAIL_AFTER")
    adapter = None
    if fail_after is not None:
        adapter = FailingSQLite(db)
        adapter.fail_after = int(fail_after)
    e = engine(db, state, adapter=adapter)
    try:
        result = {"ok": summary(e.apply(plan))}
    except pk.PrivacyKitError as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
