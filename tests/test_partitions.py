"""Partition-aware sweeps on PostgreSQL: whole expired partitions go, nothing else changes.

Each PostgreSQL test runs in a database of its own (``pk_parts_<random>``, created and dropped by
the test). Bookings are range-partitioned by their trigger time (``end_at``, one partition per
month, an unbounded first partition and a default one), and every sweep is compared with the same
sweep of an identical unpartitioned table: the rows left must be the same, row for row, and the
counts the same. Partitions go whole only when the step's selection is the bare time range and
their bounds lie inside it: a legal hold (placed before or after planning), a foreign key
referencing the table, a DELETE trigger, row-level security, a publication, a sub-partitioned
partition, an account trigger or a bound one microsecond past the cutoff keep them, and the plan
says why.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import privacy_kit as pk
from conftest import POSTGRES_URL, create_database
from privacy_kit.adapters import All, InMemoryAdapter, where
from privacy_kit.model._datamap import DataMap
from privacy_kit.retention import cutoff
from strategies import partition_layouts

UTC = dt.UTC
MICRO = dt.timedelta(microseconds=1)
NOW = dt.datetime(2025, 6, 15, tzinfo=UTC)  # cutoff one year before: 2024-06-15T00:00
CUTOFF = dt.datetime(2024, 6, 15, tzinfo=UTC)
EXAMPLE = pk.load_datamap(pk.example_path("datamap.yaml"))
Bound = tuple[dt.datetime | None, dt.datetime | None]
MONTHLY: list[Bound] = [(None, dt.datetime(2023, 1, 1, tzinfo=UTC))] + [
    (dt.datetime(2023 + m // 12, m % 12 + 1, 1, tzinfo=UTC),
     dt.datetime(2023 + (m + 1) // 12, (m + 1) % 12 + 1, 1, tzinfo=UTC))
    for m in range(30)
]  # fmt: skip
"""Before 2023, then one partition per month from January 2023 to June 2025."""


def policy(trigger: str = "event") -> pk.Policy:
    """The example policy with bookings deleted one year after ``trigger`` (no overrides)."""
    doc = pk.load_policy(pk.example_path()).model_dump(mode="json", exclude_defaults=True)
    for rule in doc["retention"]:
        if rule["key"] == "booking_data":
            rule["trigger"] = trigger
            rule["duration"] = "P1Y"
            rule.pop("override", None)
    return pk.load_policy(doc)


POLICY = policy()


def datamap(prefix: str) -> DataMap:
    """The example's users and bookings, their tables named ``<prefix>users``, ``<prefix>bookings``."""
    kept = [
        {**rt.model_dump(mode="json", exclude_none=True), "table": prefix + rt.table_name}
        for rt in EXAMPLE.record_types
        if rt.name in {"users", "bookings"}
    ]
    return DataMap.model_validate({"record_types": kept})


def booking(i: int, end: dt.datetime | None) -> dict[str, Any]:
    return {
        **dict.fromkeys(EXAMPLE.record_type("bookings").field_names),
        "id": i,
        "host_id": i % 3 + 1,
        "invitee_email": f"i{i}@example.org",
        "end_at": end,
    }


def spread() -> list[dt.datetime | None]:
    """End times from June 2022 to mid 2025 every 5 days, on and around the cutoff, and NULLs."""
    start = dt.datetime(2022, 6, 1, 13, tzinfo=UTC)
    times: list[dt.datetime | None] = [start + dt.timedelta(days=5 * n) for n in range(220)]
    return [*times, CUTOFF - MICRO, CUTOFF, CUTOFF + MICRO, None, None]


# == the database ==================================================================================
pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed (extra [sqlalchemy])")
import sqlalchemy as sa  # noqa: E402 - after the skip

from privacy_kit.adapters import SQLAlchemyAdapter  # noqa: E402
from privacy_kit.adapters._pg_partitions import PartitionAware  # noqa: E402


@pytest.fixture
def pg(postgres_engine: Any) -> Iterator[sa.Engine]:
    """A database of this test's own on the PostgreSQL server, dropped afterwards."""
    name = f"pk_parts_{uuid.uuid4().hex[:12]}"
    server = postgres_engine.execution_options(isolation_level="AUTOCOMMIT")
    create_database(server, name)
    url = sa.engine.make_url(POSTGRES_URL).set(database=name)
    db = sa.create_engine(url)
    try:
        yield db
    finally:
        db.dispose()
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _literal(t: dt.datetime | None, unbounded: str) -> str:
    return unbounded if t is None else f"'{t.isoformat()}'"


class Store:
    """One pair of tables (users, bookings) under a prefix, bookings partitioned or not."""

    def __init__(self, db: sa.Engine, prefix: str, **adapter: Any) -> None:
        self.db, self.prefix = db, prefix
        self.dm = datamap(prefix)
        self.bookings = self.dm.record_type("bookings")
        self.adapter = SQLAlchemyAdapter(db, **adapter)
        self._engines: dict[pk.Policy, pk.Engine] = {}

    @property
    def table(self) -> str:
        return f"{self.prefix}bookings"

    def create(
        self, layout: Sequence[Bound] | None, *, default: bool = True, like: str | None = None
    ) -> Store:
        """Create the tables; ``layout``: partition bookings by ``end_at`` with these bounds."""
        if layout is not None:
            assert like is not None, "a partitioned table copies an unpartitioned one's columns"
            with self.db.begin() as conn:
                conn.execute(
                    sa.text(f"CREATE TABLE {self.table} (LIKE {like}) PARTITION BY RANGE (end_at)")
                )
                for n, (lo, hi) in enumerate(layout):
                    conn.execute(
                        sa.text(
                            f"CREATE TABLE {self.table}_p{n} PARTITION OF {self.table} FOR VALUES "
                            f"FROM ({_literal(lo, 'MINVALUE')}) TO ({_literal(hi, 'MAXVALUE')})"
                        )
                    )
                if default:
                    conn.execute(
                        sa.text(f"CREATE TABLE {self.table}_def PARTITION OF {self.table} DEFAULT")
                    )
                conn.execute(sa.text(f"CREATE INDEX ON {self.table} (end_at)"))
        self.adapter.create_schema(self.dm)  # users (and bookings when not partitioned)
        return self

    def fill(self, times: Sequence[dt.datetime | None]) -> Store:
        users = self.dm.record_type("users")
        self.adapter.insert(
            users,
            [
                {**dict.fromkeys(users.field_names), "id": u, "name": f"U{u}", "closed_at": None}
                for u in (1, 2, 3)
            ],
        )
        self.adapter.insert(self.bookings, [booking(i, t) for i, t in enumerate(times, 1)])
        return self

    def engine(self, pol: pk.Policy = POLICY) -> pk.Engine:
        """The store's engine for ``pol`` (one per policy: holds placed on it stay)."""
        if pol not in self._engines:
            self._engines[pol] = pk.Engine(pol, self.dm, self.adapter, secret=b"p" * 32)
        return self._engines[pol]

    def rows(self) -> list[dict[str, Any]]:
        found = [r for b in self.adapter.iter_records(self.bookings, All()) for r in b]
        return sorted(found, key=lambda r: r["id"])

    def partitions(self) -> dict[str, int]:
        """The attached partitions and their rows."""
        with self.db.connect() as conn:
            names = conn.execute(
                sa.text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = CAST(:t AS regclass) ORDER BY 1"
                ),
                {"t": self.table},
            ).scalars()
            return {
                n: conn.execute(sa.text(f'SELECT count(*) FROM ONLY "{n}"')).scalar_one()
                for n in list(names)
            }

    def exists(self, name: str) -> bool:
        with self.db.connect() as conn:
            return conn.execute(
                sa.text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}
            ).scalar_one()


def pair(
    db: sa.Engine,
    layout: Sequence[Bound],
    times: Sequence[dt.datetime | None],
    *,
    default: bool = True,
    tag: str = "",
    **adapter: Any,
) -> tuple[Store, Store]:
    """An unpartitioned store and a partitioned one holding the same rows."""
    flat = Store(db, f"f{tag}_").create(None).fill(times)
    parted = Store(db, f"p{tag}_", **adapter)
    parted.create(layout, default=default, like=flat.table).fill(times)
    return flat, parted


def bookings_line(report: pk.RetentionReport) -> Any:
    return next(line for line in report.lines if line.record_type == "bookings")


def bookings_entry(plan: pk.RetentionPlan) -> pk.RetentionEntry:
    return next(e for e in plan.entries if e.record_type == "bookings")


def hold(engine: pk.Engine, booking_id: int) -> None:
    """A legal hold on one booking."""
    engine.place_hold(
        reason="Case 7",
        placed_by="legal",
        now=NOW,
        record_type="bookings",
        selection=where.eq("id", booking_id),
    )


def expired_months(layout: Sequence[Bound], cutoff: dt.datetime) -> list[int]:
    """The indexes of the partitions every value of which is ``<= cutoff``."""
    return [n for n, (_lo, hi) in enumerate(layout) if hi is not None and hi - MICRO <= cutoff]


# == PostgreSQL ====================================================================================
@pytest.mark.postgres
def test_sweep_drops_expired_partitions_and_ends_as_the_unpartitioned_sweep(pg: sa.Engine) -> None:
    flat, parted = pair(pg, MONTHLY, spread())
    before = parted.partitions()
    plan = parted.engine().plan_retention(now=NOW)
    entry = bookings_entry(plan)
    whole = [f"{parted.table}_p{n}" for n in expired_months(MONTHLY, CUTOFF)]
    assert [p.name for p in entry.partitions] == whole  # in bound order
    assert [p.rows for p in entry.partitions] == [before[n] for n in whole]
    assert "whole partition(s)" in entry.describe()

    report = parted.engine().apply(plan)
    expected = flat.engine().apply(flat.engine().plan_retention(now=NOW))
    line = bookings_line(report)
    assert [p.name for p in line.partitions] == whole
    assert {p.how for p in line.partitions} == {"drop"}
    assert line.done == line.planned == bookings_line(expected).done
    assert sum(p.rows for p in line.partitions) < line.done  # June 2024 went row by row
    assert report.exact
    assert parted.rows() == flat.rows()  # row for row
    after = parted.partitions()
    assert not set(whole) & set(after)
    assert not any(parted.exists(n) for n in whole)  # detached and dropped
    assert after[f"{parted.table}_def"] == 2  # the NULLs stay in the default partition
    june = f"{parted.table}_p{len(whole)}"  # June 2024, partly expired
    assert 0 < after[june] < before[june]
    later = [n for n in after if n not in (june, f"{parted.table}_def")]
    assert all(after[n] == before[n] for n in later)
    assert "dropped" in report.summary()
    assert whole[0] in report.summary()
    again = parted.engine().apply(parted.engine().plan_retention(now=NOW))
    assert again.total == 0
    assert not bookings_line(again).partitions


@pytest.mark.postgres
def test_dry_run_lists_the_partitions_and_changes_nothing(pg: sa.Engine) -> None:
    _flat, parted = pair(pg, MONTHLY, spread())
    before, rows = parted.partitions(), parted.rows()
    engine = parted.engine()
    plan = engine.plan_retention(now=NOW)
    report = engine.apply(plan, dry_run=True)
    line = bookings_line(report)
    assert [p.name for p in line.partitions] == [p.name for p in bookings_entry(plan).partitions]
    assert sum(p.rows for p in line.partitions) == sum(before[p.name] for p in line.partitions)
    assert line.partitions
    assert "would be dropped" in report.summary()
    assert "whole partition(s)" in plan.summary()
    assert parted.partitions() == before
    assert parted.rows() == rows
    loaded = pk.RetentionPlan.from_json(plan.to_json())
    assert bookings_entry(loaded).partitions == bookings_entry(plan).partitions


def partition_of(store: Store, booking_id: int) -> str:
    """The partition holding a booking."""
    with store.db.connect() as conn:
        return str(
            conn.execute(
                sa.text(f"SELECT tableoid::regclass::text FROM {store.table} WHERE id = :i"),
                {"i": booking_id},
            ).scalar_one()
        )


@pytest.mark.postgres
def test_a_legal_hold_keeps_only_the_partition_it_reaches(pg: sa.Engine) -> None:
    times = spread()
    flat, parted = pair(pg, MONTHLY, times)
    held_id = 3  # ends in June 2022: in the first, wholly expired partition
    for store in (flat, parted):
        hold(store.engine(), held_id)
    before = parted.partitions()
    kept = partition_of(parted, held_id)
    whole = [f"{parted.table}_p{n}" for n in expired_months(MONTHLY, CUTOFF)]
    assert kept in whole
    engine = parted.engine()
    plan = engine.plan_retention(now=NOW)
    entry = bookings_entry(plan)
    assert entry.hold_ids
    assert [p.name for p in entry.partitions] == [n for n in whole if n != kept]
    assert any(kept in n and "legal hold" in n and "row by row" in n for n in plan.notes), (
        plan.notes
    )
    report = engine.apply(plan)
    assert [p.name for p in bookings_line(report).partitions] == [n for n in whole if n != kept]
    expected = flat.engine().apply(flat.engine().plan_retention(now=NOW))
    assert bookings_line(report).done == bookings_line(expected).done
    assert parted.rows() == flat.rows()  # row for row
    assert held_id in {r["id"] for r in parted.rows()}
    after = parted.partitions()
    assert after[kept] == 1  # the held booking alone: its expired neighbours went row by row
    assert set(after) == set(before) - {n for n in whole if n != kept}


@pytest.mark.postgres
def test_a_hold_placed_after_planning_keeps_its_partition_checked_under_the_lock(
    pg: sa.Engine,
) -> None:
    flat, parted = pair(pg, MONTHLY, spread())
    before = parted.partitions()
    engine = parted.engine()
    plan = engine.plan_retention(now=NOW)
    planned = [p.name for p in bookings_entry(plan).partitions]
    kept = partition_of(parted, 3)
    assert kept in planned  # planned to go whole
    hold(engine, 3)
    report = engine.apply(plan)
    line = bookings_line(report)
    assert [p.name for p in line.partitions] == [n for n in planned if n != kept]
    assert [name for name, _why in line.partitions_kept] == [kept]
    assert "legal hold" in line.partitions_kept[0][1]
    assert line.newly_held == 1
    assert kept in parted.partitions()
    assert set(parted.partitions()) == set(before) - {n for n in planned if n != kept}
    hold(flat.engine(), 3)
    flat.engine().apply(flat.engine().plan_retention(now=NOW))
    assert parted.rows() == flat.rows()
    assert 3 in {r["id"] for r in parted.rows()}


@pytest.mark.postgres
def test_a_partition_whose_hold_is_unknown_for_a_row_is_not_dropped(pg: sa.Engine) -> None:
    """A selection leaving out one invitee's booking: a row whose invitee is NULL is not "not
    left out" (SQL's unknown), so the row-by-row delete would keep it, and its partition must
    not go whole either."""
    _flat, parted = pair(pg, MONTHLY, spread())
    expired = where.before("end_at", CUTOFF, inclusive=True)
    with parted.db.begin() as conn:
        conn.execute(sa.text(f"UPDATE {parted.table} SET invitee_email = NULL WHERE id = 3"))
    unknown, left_out = partition_of(parted, 3), partition_of(parted, 80)
    survey = parted.adapter.partition_survey(
        parted.bookings, expired & ~where.eq("invitee_email", "i80@example.org")
    )
    assert survey is not None
    names = [p.name for p in survey.whole]
    expired_names = [f"{parted.table}_p{n}" for n in expired_months(MONTHLY, CUTOFF)]
    assert {unknown, left_out} <= set(expired_names)
    assert unknown != left_out
    assert names == [n for n in expired_names if n not in (unknown, left_out)]
    assert {name for name, _why in survey.kept} == {unknown, left_out}


BLOCKERS: dict[str, tuple[tuple[str, ...], str]] = {
    "foreign key": (
        (
            "ALTER TABLE {t} ADD PRIMARY KEY (id, end_at)",
            (
                "CREATE TABLE {t}_refs (b bigint, e timestamptz, "
                "FOREIGN KEY (b, e) REFERENCES {t} (id, end_at))"
            ),
        ),
        "a foreign key references",
    ),
    "delete trigger": (
        (
            (
                "CREATE FUNCTION {t}_log() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RETURN NULL; END $$"
            ),
            "CREATE TRIGGER {t}_del AFTER DELETE ON {t} FOR EACH ROW EXECUTE FUNCTION {t}_log()",
        ),
        "DELETE or TRUNCATE triggers",
    ),
    "row-level security": (("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",), "row-level security"),
    "publication": (
        (  # deletes from a published table need a replica identity: the primary key
            "ALTER TABLE {t} ADD PRIMARY KEY (id, end_at)",
            "CREATE PUBLICATION {t}_pub FOR TABLE {t}",
        ),
        "logical replication",
    ),
}


@pytest.mark.postgres
@pytest.mark.parametrize("blocker", sorted(BLOCKERS))
def test_what_a_dropped_partition_would_bypass_keeps_it(pg: sa.Engine, blocker: str) -> None:
    times = [t for t in spread() if t is not None]  # a primary key on end_at: no NULLs
    flat, parted = pair(pg, MONTHLY, times)
    statements, words = BLOCKERS[blocker]
    with pg.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement.format(t=parted.table)))
    before = parted.partitions()
    plan = parted.engine().plan_retention(now=NOW)
    assert bookings_entry(plan).partitions == ()
    assert any(words in n for n in plan.notes), plan.notes
    report = parted.engine().apply(plan)
    assert bookings_line(report).partitions == ()
    flat.engine().apply(flat.engine().plan_retention(now=NOW))
    assert parted.rows() == flat.rows()
    assert set(parted.partitions()) == set(before)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("upper", "dropped"),
    [(CUTOFF, True), (CUTOFF + MICRO, True), (CUTOFF + 2 * MICRO, False)],
    ids=["at-cutoff", "one-microsecond-after", "two-microseconds-after"],
)
def test_a_partition_goes_whole_only_when_its_bound_is_inside_the_cutoff(
    pg: sa.Engine, upper: dt.datetime, dropped: bool
) -> None:
    layout: list[Bound] = [
        (None, dt.datetime(2024, 6, 1, tzinfo=UTC)),
        (dt.datetime(2024, 6, 1, tzinfo=UTC), upper),
        (upper, None),
    ]
    times = [
        CUTOFF - MICRO,
        CUTOFF,
        CUTOFF + MICRO,
        CUTOFF + 2 * MICRO,
        CUTOFF - dt.timedelta(days=40),
    ]
    flat, parted = pair(pg, layout, times, default=False)
    report = parted.engine().apply(parted.engine().plan_retention(now=NOW))
    names = [p.name for p in bookings_line(report).partitions]
    assert names == [f"{parted.table}_p0", f"{parted.table}_p1"][: 2 if dropped else 1]
    flat.engine().apply(flat.engine().plan_retention(now=NOW))
    assert parted.rows() == flat.rows()
    assert [r["end_at"] for r in parted.rows()] == [CUTOFF + MICRO, CUTOFF + 2 * MICRO]


@pytest.mark.postgres
def test_truncate_mode_empties_the_partitions_and_keeps_them(pg: sa.Engine) -> None:
    flat, parted = pair(pg, MONTHLY, spread(), partitions="truncate")
    before = parted.partitions()
    report = parted.engine().apply(parted.engine().plan_retention(now=NOW))
    line = bookings_line(report)
    whole = [f"{parted.table}_p{n}" for n in expired_months(MONTHLY, CUTOFF)]
    assert [p.name for p in line.partitions] == whole
    assert {p.how for p in line.partitions} == {"truncate"}
    assert [p.rows for p in line.partitions] == [before[n] for n in whole]
    assert "truncated" in report.summary()
    after = parted.partitions()
    assert set(after) == set(before)  # still attached
    assert all(after[n] == 0 for n in whole)
    flat.engine().apply(flat.engine().plan_retention(now=NOW))
    assert parted.rows() == flat.rows()


@pytest.mark.postgres
def test_the_audit_entry_and_the_log_list_the_partitions(
    pg: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    _flat, parted = pair(pg, MONTHLY, spread())
    before = parted.partitions()
    engine = parted.engine()
    with caplog.at_level(logging.INFO, logger="privacy_kit.retention"):
        report = engine.apply(engine.plan_retention(now=NOW))
    step = next(
        e.details
        for e in engine.audit.entries()
        if e.action == "retention.step" and e.details["record_type"] == "bookings"
    )
    line = bookings_line(report)
    assert [p["name"] for p in step["partitions"]] == [p.name for p in line.partitions]
    assert [p["rows"] for p in step["partitions"]] == [before[p.name] for p in line.partitions]
    assert step["partition_rows"] == sum(before[p.name] for p in line.partitions)
    assert step["count"] == line.done
    assert all(p["how"] == "drop" for p in step["partitions"])
    others = [
        e.details
        for e in engine.audit.entries()
        if e.action == "retention.step" and e.details["record_type"] != "bookings"
    ]
    assert others
    assert not any("partitions" in d for d in others)
    logged = [r.getMessage() for r in caplog.records if "whole partition(s)" in r.getMessage()]
    assert len(logged) == 1
    assert line.partitions[0].name in logged[0]
    assert "whole partition(s) dropped" in logged[0]


@pytest.mark.postgres
def test_a_sub_partitioned_partition_goes_row_by_row(pg: sa.Engine) -> None:
    flat = Store(pg, "f_").create(None).fill(spread())
    parted = Store(pg, "p_").create(MONTHLY[1:], like=flat.table)
    with pg.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE {parted.table}_old PARTITION OF {parted.table} FOR VALUES FROM "
                "(MINVALUE) TO ('2023-01-01+00') PARTITION BY RANGE (end_at)"
            )
        )
        conn.execute(
            sa.text(f"CREATE TABLE {parted.table}_old_all PARTITION OF {parted.table}_old DEFAULT")
        )
    parted.fill(spread())
    plan = parted.engine().plan_retention(now=NOW)
    names = [p.name for p in bookings_entry(plan).partitions]
    assert f"{parted.table}_old" not in names
    assert names
    assert any(f"{parted.table}_old" in n and "partitioned itself" in n for n in plan.notes)
    parted.engine().apply(plan)
    flat.engine().apply(flat.engine().plan_retention(now=NOW))
    assert parted.rows() == flat.rows()
    assert parted.exists(f"{parted.table}_old")


@pytest.mark.postgres
def test_steps_that_cannot_drop_say_why_and_unpartitioned_tables_say_nothing(
    pg: sa.Engine,
) -> None:
    flat, parted = pair(pg, MONTHLY, spread())
    # The example's own rule: bookings go when their host's account has been closed a year.
    account = policy("account_closed")
    plan = parted.engine(account).plan_retention(now=NOW)
    assert bookings_entry(plan).partitions == ()
    assert any("trigger time is the account's" in n for n in plan.notes), plan.notes
    flat_plan = flat.engine().plan_retention(now=NOW)
    assert not any("partition" in n for n in flat_plan.notes)
    assert bookings_entry(flat_plan).partitions == ()
    # Partitioned by another field than the rule's time: row by row, and said.
    other = Store(pg, "o_")
    with pg.begin() as conn:
        conn.execute(
            sa.text(f"CREATE TABLE {other.table} (LIKE {flat.table}) PARTITION BY RANGE (start_at)")
        )
        conn.execute(sa.text(f"CREATE TABLE {other.table}_all PARTITION OF {other.table} DEFAULT"))
    other.create(None).fill(spread())
    notes = other.engine().plan_retention(now=NOW).notes
    assert any("range on end_at, not on start_at" in n for n in notes), notes


@pytest.mark.postgres
def test_the_adapter_refuses_anything_but_a_bare_range_on_the_key(pg: sa.Engine) -> None:
    _flat, parted = pair(pg, MONTHLY, spread())
    rt, adapter = parted.bookings, parted.adapter
    expired = where.before("end_at", CUTOFF, inclusive=True)
    for selection, why in [
        (expired & where.eq("host_id", 1), "also tests host_id"),
        (expired | where.is_null("end_at"), "also tests end_at"),
        (where.all(), "does not bound a time field"),
        (where.before("start_at", CUTOFF), "range on start_at, not on end_at"),
    ]:
        survey = adapter.partition_survey(rt, selection)
        assert survey is not None
        assert survey.whole == ()
        assert why in (survey.reason or "")
        assert adapter.drop_partitions(rt, selection).dropped == ()
    window = expired & where.after("end_at", dt.datetime(2023, 3, 1, tzinfo=UTC), inclusive=True)
    survey = adapter.partition_survey(rt, window)
    assert survey is not None
    assert next(p.name for p in survey.whole) == f"{parted.table}_p3"  # from March 2023
    assert len(parted.partitions()) == len(MONTHLY) + 1  # surveys change nothing


def change_before_removing(
    monkeypatch: pytest.MonkeyPatch, pg: sa.Engine, name: str, statements: Sequence[str]
) -> None:
    """Another session runs ``statements`` (committed) just before partition ``name`` is
    locked for removal, after the survey that chose it."""
    original = PartitionAware._remove

    def change_then_remove(
        self: Any, table: Any, candidate: Any, selection: Any, keeps: Any
    ) -> Any:
        if candidate.name == name:
            with pg.begin() as conn:
                for statement in statements:
                    conn.execute(sa.text(statement))
        return original(self, table, candidate, selection, keeps)

    monkeypatch.setattr(PartitionAware, "_remove", change_then_remove)


# == concurrent changes ===========================================================================
@pytest.mark.postgres
def test_a_partition_changed_after_the_survey_is_verified_again_and_kept(
    pg: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the survey and the drop, another session moves an expired partition to bounds in
    2030 and puts a record not yet due in it: the drop surveys it again under its locks and
    leaves it (with its record); the other expired partitions still go."""
    _flat, parted = pair(pg, MONTHLY, spread())
    moved = f"{parted.table}_p2"  # February 2023
    change_before_removing(
        monkeypatch,
        pg,
        moved,
        [
            f"ALTER TABLE {parted.table} DETACH PARTITION {moved}",
            f"DELETE FROM {moved}",
            f"INSERT INTO {moved} (id, end_at) VALUES (9999, '2030-01-15+00')",
            (
                f"ALTER TABLE {parted.table} ATTACH PARTITION {moved} FOR VALUES FROM "
                "('2030-01-01+00') TO ('2030-02-01+00')"
            ),
        ],
    )
    engine = parted.engine()
    plan = engine.plan_retention(now=NOW)
    assert moved in [p.name for p in bookings_entry(plan).partitions]
    report = engine.apply(plan)
    line = bookings_line(report)
    assert moved not in [p.name for p in line.partitions]
    assert line.partitions  # the others went
    assert [name for name, _why in line.partitions_kept] == [moved]
    assert "changed" in line.partitions_kept[0][1]
    assert f"partition {moved} went row by row" in report.summary()
    assert parted.partitions()[moved] == 1
    assert 9999 in {r["id"] for r in parted.rows()}  # not due: kept


@pytest.mark.postgres
def test_a_partition_locked_by_another_session_is_left_to_the_delete(pg: sa.Engine) -> None:
    """A session holding a lock on an expired partition is not waited for beyond the lock
    timeout (the adapter's ``partition_lock_timeout``): that partition's records go row by row
    once the session ends, the others whole."""
    flat, parted = pair(pg, MONTHLY, spread(), partition_lock_timeout=0.2)
    busy = f"{parted.table}_p5"
    other = pg.connect()
    transaction = other.begin()
    other.execute(sa.text(f"LOCK TABLE {busy} IN ROW EXCLUSIVE MODE"))
    try:
        drops = parted.adapter.drop_partitions(
            parted.bookings, where.before("end_at", CUTOFF, inclusive=True)
        )
    finally:
        transaction.rollback()
        other.close()
    assert busy not in drops.names
    assert drops.names  # the others went
    assert [name for name, _why in drops.kept] == [busy]
    assert "LockNotAvailable" in drops.kept[0][1]
    report = parted.engine().apply(parted.engine().plan_retention(now=NOW))
    assert busy in [p.name for p in bookings_line(report).partitions]  # now it goes too
    flat.engine().apply(flat.engine().plan_retention(now=NOW))
    assert parted.rows() == flat.rows()


@pytest.mark.postgres
def test_a_record_held_after_the_survey_keeps_its_partition_checked_under_the_lock(
    pg: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the survey and the drop, another session writes into an expired partition a
    record the selection leaves out (as a hold would): the check made again under the locks
    keeps that partition; the others go."""
    _flat, parted = pair(pg, MONTHLY, spread())
    changed = f"{parted.table}_p1"
    change_before_removing(
        monkeypatch,
        pg,
        changed,
        [
            (
                f"UPDATE {changed} SET invitee_email = 'held@example.org' "
                f"WHERE id = (SELECT min(id) FROM {changed})"
            )
        ],
    )
    selection = where.before("end_at", CUTOFF, inclusive=True) & ~where.eq(
        "invitee_email", "held@example.org"
    )
    survey = parted.adapter.partition_survey(parted.bookings, selection)
    assert survey is not None
    assert changed in [p.name for p in survey.whole]
    drops = parted.adapter.drop_partitions(parted.bookings, selection)
    assert changed not in drops.names
    assert drops.names  # the others went
    assert [name for name, _why in drops.kept] == [changed]
    assert "legal hold" in drops.kept[0][1]
    assert parted.exists(changed)


def test_the_partition_lock_timeout_is_a_setting() -> None:
    assert SQLAlchemyAdapter("sqlite://").partition_lock_timeout == 5.0
    assert SQLAlchemyAdapter("sqlite://", partition_lock_timeout=0.5).partition_lock_timeout == 0.5
    for bad in (0, -1, "5s", True, 0.0001):
        with pytest.raises(pk.ConfigurationError, match="partition_lock_timeout"):
            SQLAlchemyAdapter("sqlite://", partition_lock_timeout=bad)


@pytest.mark.postgres
def test_a_partition_being_detached_concurrently_is_not_removed(pg: sa.Engine) -> None:
    """``DETACH PARTITION ... CONCURRENTLY`` waiting for a reader leaves the partition listed
    but pending: it is no longer the table's, so it is neither counted nor removed (truncate
    mode: dropping would wait for the same reader, see the next test)."""
    times = [t for t in spread() if t is not None]
    # CONCURRENTLY refuses a table with a default partition
    _flat, parted = pair(pg, MONTHLY, times, default=False, partitions="truncate")
    leaving = f"{parted.table}_p3"
    reader = pg.connect()
    transaction = reader.begin()
    reader.execute(sa.text(f"LOCK TABLE ONLY {parted.table} IN ACCESS SHARE MODE"))
    errors: list[BaseException] = []

    def detach() -> None:
        try:
            with pg.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(
                    sa.text(f"ALTER TABLE {parted.table} DETACH PARTITION {leaving} CONCURRENTLY")
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=detach)
    thread.start()
    try:
        pending = sa.text(
            "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = CAST(:p AS regclass)"
        )
        for _ in range(100):
            with pg.connect() as conn:
                if conn.execute(pending, {"p": leaving}).scalar():
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"the concurrent detach never became pending ({errors})")
        expired = where.before("end_at", CUTOFF, inclusive=True)
        survey = parted.adapter.partition_survey(parted.bookings, expired)
        assert survey is not None
        assert leaving not in [p.name for p in survey.whole]
        assert (leaving, "it is being detached") in survey.kept
        drops = parted.adapter.drop_partitions(parted.bookings, expired)
        assert leaving not in drops.names
        assert drops.names
    finally:
        transaction.rollback()
        reader.close()
        thread.join(timeout=30)
    assert not errors
    assert parted.exists(leaving)  # detached by the other session, never dropped


@pytest.mark.postgres
def test_a_table_locked_by_another_session_is_waited_for_once(pg: sa.Engine) -> None:
    """Dropping needs the partitioned table to itself: while another session reads it, the first
    partition's lock times out and the others are not tried (they would wait for the same
    reader); their records go row by row, and the report says why."""
    flat, parted = pair(pg, MONTHLY, spread(), partition_lock_timeout=0.3)
    reader = pg.connect()
    transaction = reader.begin()
    reader.execute(sa.text(f"LOCK TABLE ONLY {parted.table} IN ACCESS SHARE MODE"))
    try:
        started = time.perf_counter()
        drops = parted.adapter.drop_partitions(
            parted.bookings, where.before("end_at", CUTOFF, inclusive=True)
        )
        waited = time.perf_counter() - started
    finally:
        transaction.rollback()
        reader.close()
    whole = [f"{parted.table}_p{n}" for n in expired_months(MONTHLY, CUTOFF)]
    assert drops.dropped == ()
    assert [name for name, _why in drops.kept] == whole
    assert all("stayed locked by another session" in why for _name, why in drops.kept)
    assert "lock timeout (0.3 s)" in drops.kept[0][1]
    assert waited < 5  # one timeout, not one per partition
    flat.engine().apply(flat.engine().plan_retention(now=NOW))
    parted.engine().apply(parted.engine().plan_retention(now=NOW))
    assert parted.rows() == flat.rows()


# == the property: any layout, any cutoff, the same end state =======================================
_examples = itertools.count()


@pytest.mark.postgres
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(layout=partition_layouts())
def test_any_layout_and_cutoff_ends_as_the_unpartitioned_sweep(
    pg: sa.Engine, layout: dict[str, Any]
) -> None:
    tag = str(next(_examples))
    flat, parted = pair(
        pg, layout["partitions"], layout["times"], default=layout["default"], tag=tag
    )
    try:
        now = layout["now"]
        before = parted.partitions()
        report = parted.engine().apply(parted.engine().plan_retention(now=now))
        expected = flat.engine().apply(flat.engine().plan_retention(now=now))
        cut = cutoff(pk.Duration.parse("P1Y"), now)
        whole = [f"{parted.table}_p{n}" for n in expired_months(layout["partitions"], cut)]
        line = bookings_line(report)
        assert [p.name for p in line.partitions] == whole
        assert [p.rows for p in line.partitions] == [before[n] for n in whole]
        assert line.done == bookings_line(expected).done
        assert parted.rows() == flat.rows()
        assert set(parted.partitions()) == set(before) - set(whole)
    finally:
        with pg.begin() as conn:
            for store in (flat, parted):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {store.table}, {store.prefix}users"))


# == without PostgreSQL: nothing new ===============================================================
def test_other_databases_and_adapters_have_no_partition_capability() -> None:
    with SQLAlchemyAdapter("sqlite://") as lite:
        assert pk.adapters.Capability.PARTITIONS not in lite.capabilities
        assert lite.partitions == "off"
        assert lite.drop_partitions(EXAMPLE.record_type("bookings"), where.all()).dropped == ()
    with pytest.raises(pk.ConfigurationError, match="needs PostgreSQL"):
        SQLAlchemyAdapter("sqlite://", partitions="drop")
    with pytest.raises(pk.ConfigurationError, match="expected one of drop, truncate, off"):
        SQLAlchemyAdapter("sqlite://", partitions="sometimes")  # type: ignore[arg-type]
    memory = InMemoryAdapter({rt.table_name: [] for rt in EXAMPLE.record_types})
    assert pk.adapters.Capability.PARTITIONS not in memory.capabilities
