"""An export collected store by store (one part per store, any order, twice) and assembled into
one bundle: the same files and result as ``engine.export`` in one process, one audit entry, and
every missing, stale or corrupt part refused; on the in-memory store, SQLite and PostgreSQL, with
a second store in a SQLite file."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter, SQLiteAdapter
from privacy_kit.audit import MemoryStateStore
from privacy_kit.rights._export_parts import PARTS, ExportPart
from test_export import HANA, example_rows, policy_and_datamap
from two_stores import two_stores as moved

NOW = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
SECRET = b"export-parts-test-secret-0123456789"


def two_stores() -> tuple[pk.Policy, pk.DataMap]:
    """The example's policy, and its data map with two stores (tests/two_stores.py)."""
    policy, datamap = policy_and_datamap()
    return policy, moved(datamap)


def filled(adapter: Any, datamap: pk.DataMap, store: str) -> Any:
    """``adapter`` with the example's rows of the record types in ``store``."""
    for table, items in example_rows().items():
        rt = datamap.record_type(table)
        if rt.store == store:
            adapter.insert(rt, copy.deepcopy(items))
    return adapter


def _memory(datamap: pk.DataMap) -> Any:
    return InMemoryAdapter({rt.table_name: [] for rt in datamap.record_types})


def _sqlite(datamap: pk.DataMap, path: Path | str = ":memory:") -> Any:
    db = SQLiteAdapter(str(path))
    db.create_schema(datamap)
    return db


@pytest.fixture
def postgres_adapter(postgres_engine: Any) -> Iterator[Callable[[pk.DataMap], Any]]:
    """A factory of SQLAlchemy adapters, each on a fresh PostgreSQL database (dropped after)."""
    sa = pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed")
    from privacy_kit.adapters import SQLAlchemyAdapter

    admin = postgres_engine.execution_options(isolation_level="AUTOCOMMIT")
    made: list[tuple[Any, str]] = []

    def factory(datamap: pk.DataMap) -> Any:
        name = f"parts_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        db = sa.create_engine(postgres_engine.url.set(database=name))
        made.append((db, name))
        adapter = SQLAlchemyAdapter(db)
        adapter.create_schema(datamap)
        return adapter

    yield factory
    for db, name in made:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def deployment(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, state: Any = None
) -> pk.Engine:
    """An engine over two stores: ``main`` on ``kind``, ``analytics`` in a SQLite file."""
    policy, datamap = two_stores()
    if kind == "memory":
        main = _memory(datamap)
    elif kind == "sqlite":
        main = _sqlite(datamap)
    else:
        main = request.getfixturevalue("postgres_adapter")(datamap)
    analytics = _sqlite(datamap, tmp_path / f"analytics-{uuid.uuid4().hex[:8]}.db")
    return pk.Engine(
        policy,
        datamap,
        {
            "main": filled(main, datamap, "main"),
            "analytics": filled(analytics, datamap, "analytics"),
        },
        secret=SECRET,
        state=MemoryStateStore() if state is None else state,
    )


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("kind", KINDS)
def test_parts_in_any_order_and_twice_assemble_to_the_whole_export(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = deployment(kind, tmp_path, request)
    whole = engine.export(HANA, tmp_path / "whole.zip", now=NOW)
    job = engine.export_job(HANA, tmp_path / "parts.zip", now=NOW, parts=tmp_path / "parts")
    assert set(job.stores) == {"main", "analytics"}
    job = pk.ExportJob.from_json(job.to_json())  # as a worker receives it
    collected = [engine.collect_export_part(job, s) for s in reversed(job.stores)]
    again = [engine.collect_export_part(job, s) for s in job.stores]
    assert [p.resumed for p in collected] == [False, False]
    assert all(p.resumed for p in again)
    assert {p.store: p.sha256 for p in collected} == {p.store: p.sha256 for p in again}
    analytics = next(p for p in collected if p.store == "analytics")
    assert analytics.counts == {
        "support_tickets:customer": 1,
        "sessions:customer": 1,
        "usage_events:customer": 1,
    }
    result = engine.assemble_export(job)

    # the same bundle, member for member (the zip's own timestamps aside), and the same result
    assert members(tmp_path / "parts.zip") == members(tmp_path / "whole.zip")
    for field in ("format", "subject_reference", "generated_at", "counts", "redacted", "files"):
        assert getattr(result, field) == getattr(whole, field), field
    assert result.searched == whole.searched
    assert result.total == whole.total > 0
    # one audit entry, saying which parts it was made of; the parts are gone
    done = [e for e in engine.audit.entries() if e.action == "export.completed"]
    assert len(done) == 2
    assert done[1].details["counts"] == done[0].details["counts"]
    assert done[1].details["parts"] == {p.store: p.sha256 for p in collected}
    assert not any((tmp_path / "parts").rglob("*.part"))
    assert engine.state.items(PARTS, prefix=collected[0].job + ".main") == ()  # type: ignore[union-attr]


def test_a_missing_part_is_refused_naming_its_store(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = deployment("memory", tmp_path, request)
    job = engine.export_job(HANA, tmp_path / "out.zip", now=NOW, parts=tmp_path / "parts")
    engine.collect_export_part(job, "main")
    with pytest.raises(pk.PlanError, match=r"no part collected for store\(s\) \['analytics'\]"):
        engine.assemble_export(job)
    assert not (tmp_path / "out.zip").exists()
    engine.collect_export_part(job, "analytics")
    assert engine.assemble_export(job).total > 0


def test_a_corrupt_part_is_refused_and_collecting_again_repairs_it(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = deployment("sqlite", tmp_path, request)
    job = engine.export_job(HANA, tmp_path / "out.zip", now=NOW, parts=tmp_path / "parts")
    parts = [engine.collect_export_part(job, s) for s in job.stores]
    damaged = Path(parts[0].path)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(pk.PlanError, match=rf"store '{parts[0].store}'.*corrupt"):
        engine.assemble_export(job)
    assert not (tmp_path / "out.zip").exists()
    repaired = engine.collect_export_part(job, parts[0].store)
    assert not repaired.resumed  # collected again, not the damaged file
    assert repaired.sha256 == parts[0].sha256  # the same records make the same part
    assert engine.assemble_export(job).total > 0


def test_a_lost_part_file_is_refused_then_collected_again(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = deployment("memory", tmp_path, request)
    job = engine.export_job(HANA, tmp_path / "out.zip", now=NOW, parts=tmp_path / "parts")
    parts = [engine.collect_export_part(job, s) for s in job.stores]
    Path(parts[1].path).unlink()
    with pytest.raises(pk.PlanError, match="missing from the parts folder"):
        engine.assemble_export(job)
    assert not engine.collect_export_part(job, parts[1].store).resumed
    assert engine.assemble_export(job).total > 0


def test_stale_parts_are_refused(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    engine = deployment("memory", tmp_path, request)
    state = engine.state
    assert state is not None
    job = engine.export_job(HANA, tmp_path / "out.zip", now=NOW, parts=tmp_path / "parts")
    parts = {s: engine.collect_export_part(job, s) for s in job.stores}
    # 1. a part recorded under another policy version
    key = f"{parts['analytics'].job}.analytics"
    recorded = state.get(PARTS, key)
    assert recorded is not None
    state.put(PARTS, key, {**recorded.document, "policy_version": "0.9"})
    with pytest.raises(pk.PlanError, match=r"'analytics'.*under policy '0\.9'"):
        engine.assemble_export(job)
    state.put(PARTS, key, recorded.document)
    # 2. the subject resolves differently now: Hana's address changed, so the bookings she
    # made as an invitee under the old one are no longer hers; the main part is stale
    engine.adapter_for("users").update(
        engine.datamap.record_type("users"),
        pk.adapters.Eq("id", 1),
        {"email": "hana@new.example"},
    )
    with pytest.raises(pk.PlanError, match=r"store 'main'.*stale"):
        engine.assemble_export(job)
    assert not (tmp_path / "out.zip").exists()
    # collected again (not the stale record), the part is the subject's records as they are now
    fresh = engine.collect_export_part(job, "main")
    assert not fresh.resumed
    assert fresh.scope != parts["main"].scope
    assert engine.collect_export_part(job, "analytics").resumed  # nothing changed there
    assembled = engine.assemble_export(job)
    assert members(tmp_path / "out.zip") == members(
        engine.export(HANA, tmp_path / "now.zip", now=NOW).path  # type: ignore[arg-type]
    )
    assert assembled.total > 0


def test_assembling_again_returns_the_recorded_result_and_audits_once(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = deployment("memory", tmp_path, request)
    job = engine.export_job(
        HANA, tmp_path / "out", now=NOW, format="folder", parts=tmp_path / "parts"
    )
    for store in job.stores:
        engine.collect_export_part(job, store)
    first = engine.assemble_export(job)
    second = engine.assemble_export(job)  # a task retried after it published the bundle
    assert second == first
    actions = [e.action for e in engine.audit.entries()]
    assert actions.count("export.completed") == 1


def test_a_job_for_parts_is_json_and_old_jobs_still_load(tmp_path: Path) -> None:
    policy, datamap = two_stores()
    engine = pk.Engine(policy, datamap, {"main": _memory(datamap), "analytics": _memory(datamap)},
                       secret=SECRET, state=MemoryStateStore(), verify=False)  # fmt: skip
    job = engine.export_job(HANA, tmp_path / "o.zip", now=NOW, parts=tmp_path / "p")
    assert pk.ExportJob.from_json(job.to_json()) == job
    assert job.parts == str(tmp_path / "p")
    document = orjson.loads(job.to_json())
    del document["plan"]["parts"], document["plan"]["stores"]
    old = pk.ExportJob.from_json(orjson.dumps(document))
    assert (old.parts, old.stores) == (None, ())
    with pytest.raises(pk.ConfigurationError, match="written in one go"):
        engine.collect_export_part(old, "main")
    with pytest.raises(pk.ConfigurationError, match="store 'elsewhere' holds no part"):
        engine.collect_export_part(job, "elsewhere")
    document = orjson.loads(job.to_json())
    document["plan"]["stores"] = "main"
    with pytest.raises(pk.PlanFormatError, match=r"plan\.stores"):
        pk.ExportJob.from_json(orjson.dumps(document))


def test_an_engine_without_a_state_store_is_refused(tmp_path: Path) -> None:
    policy, datamap = two_stores()
    engine = pk.Engine(policy, datamap, {"main": _memory(datamap), "analytics": _memory(datamap)},
                       secret=SECRET, verify=False)  # fmt: skip
    job = engine.export_job(HANA, tmp_path / "o.zip", now=NOW, parts=tmp_path / "p")
    with pytest.raises(pk.ConfigurationError, match="has none"):
        engine.collect_export_part(job, "main")


def test_a_part_is_json(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    engine = deployment("memory", tmp_path, request)
    job = engine.export_job(HANA, tmp_path / "o.zip", now=NOW, parts=tmp_path / "p")
    part = engine.collect_export_part(job, "analytics")
    assert ExportPart.from_json(part.to_json()) == part
    with pytest.raises(pk.PlanFormatError, match=r"part\.size"):
        ExportPart.from_json(orjson.dumps({**part.to_dict(), "size": "big"}))
