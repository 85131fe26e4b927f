"""The benchmark harness keeps working (no timing is asserted: that is the benchmarks' job)."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT))
    import benchmarks._harness as harness

    return harness


def test_alternate_runs_each_side_on_a_fresh_copy_and_alternates_the_order(bench) -> None:
    calls: list[str] = []
    prepared: list[list[int]] = []

    def prepare() -> list[int]:
        state = [1, 2, 3]
        prepared.append(state)
        return state

    def mutate(name: str):
        def fn(state: list[int]) -> int:
            assert state == [1, 2, 3], "each run must get an untouched copy"
            calls.append(name)
            state.clear()
            return 0

        return fn

    times = bench.alternate(prepare, [("a", mutate("a")), ("b", mutate("b"))], 3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert len(prepared) == 6
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    assert all(t >= 0 for v in times.values() for t in v)


def test_a_contender_that_timed_itself_is_taken_at_its_word(bench) -> None:
    times = bench.alternate(lambda: None, [("x", lambda _s: bench.Measured(42.0))], 2)
    assert times == {"x": [42.0, 42.0]}


def test_check_sees_each_result_and_cleanup_runs_even_when_a_side_fails(bench) -> None:
    cleaned: list[object] = []
    seen: list[tuple[str, object]] = []

    def boom(_state: object) -> None:
        raise RuntimeError("side failed")

    with pytest.raises(RuntimeError, match="side failed"):
        bench.alternate(
            object,
            [("ok", lambda _s: 7), ("bad", boom)],
            1,
            cleanup=cleaned.append,
            check=lambda name, _s, result: seen.append((name, result)),
        )
    assert seen == [("ok", 7)]
    assert len(cleaned) == 2


def test_row_ratio_and_status(bench) -> None:
    row = bench.Row("s", "1", pk=1.2, baseline=1.0, target=1.25)
    assert row.ratio == pytest.approx(1.2)
    assert row.status == "met"
    assert bench.Row("s", "1", pk=1.3, baseline=1.0, target=1.25).status == "MISSED"
    assert bench.Row("s", "1", peak_mb=120.0, memory_limit_mb=100).status == "MISSED"
    assert bench.Row("s", "1", peak_mb=20.0, memory_limit_mb=100).status == "met"
    assert bench.Row("s", "-", note="skipped: no server").status == "skipped"
    assert bench.Row("s", "-", error=True).status == "ERROR"
    assert bench.Row("s", "1", pk=1.0).status == "-"
    assert bench.Row("s", "1", pk=1.0, baseline=0.0).ratio is None


def test_tables_align_and_escape(bench) -> None:
    rows = [
        bench.Row("1. sweep", "1000 rows", pk=0.012, baseline=0.010, target=1.25, peak_mb=1.5),
        bench.Row("2. other", "-", note="skipped: a|b"),
    ]
    text = bench.format_table(rows).splitlines()
    assert text[0].startswith("scenario")
    assert set(text[1].replace(" ", "")) == {"-"}
    assert "12.0 ms" in text[2]
    assert "10.0 ms" in text[2]
    assert "1.20" in text[2]
    assert "met" in text[2]
    assert "skipped" in text[3]
    md = bench.format_markdown(rows).splitlines()
    assert md[0].count("|") == len(bench.HEADERS) + 1
    assert all(line.count("|") - line.count("\\|") == len(bench.HEADERS) + 1 for line in md)
    assert "a\\|b" in md[3]


def test_a_multi_line_note_stays_on_its_row(bench) -> None:
    row = bench.Row("2. pg", "-", note="skipped: connection failed\n\tIs the server running?")
    lines = bench.format_table([row]).splitlines()
    assert len(lines) == 3
    assert lines[2].endswith("skipped: connection failed Is the server running?")
    assert len(bench.format_markdown([row]).splitlines()) == 3


def test_peak_memory_sees_a_large_allocation(bench) -> None:
    peak, result = bench.peak_python_memory(lambda: len(bytearray(20_000_000)))
    assert result == 20_000_000
    assert peak >= 19.0


def test_unknown_scenario_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.__main__ import selected

    assert [s[0] for s in selected(["retention"])] == [
        "retention-sqlite",
        "retention-postgres",
        "retention-mariadb",
    ]
    assert [s[0] for s in selected(["load,import"])] == ["load", "import"]
    with pytest.raises(SystemExit, match="unknown scenario"):
        selected(["nope"])


def test_the_command_runs_a_quick_scenario_and_writes_markdown(tmp_path: Path) -> None:
    out = tmp_path / "table.md"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--only",
            "load",
            "--repetitions",
            "1",
            "--markdown",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "5. load + validate policy and data map" in proc.stdout
    assert "ERROR" not in proc.stdout
    text = out.read_text(encoding="utf-8")
    assert "| scenario |" in text
    assert "100 categories, 20 record types" in text


def test_growth_sizes_are_parsed_and_bad_ones_refused(bench) -> None:
    assert bench.parse_sizes("10k,100k,1M") == (10_000, 100_000, 1_000_000)
    assert bench.parse_sizes("2500, 1_000") == (2_500, 1_000)
    for bad in ("", "ten", "0", "-5", "1G"):
        with pytest.raises(ValueError, match="size"):
            bench.parse_sizes(bad)
    assert bench.FULL_SIZES == (10_000, 100_000, 1_000_000)


def test_a_growth_size_overrides_every_scenario_size(bench) -> None:
    assert bench.Config(scale=10_000).size(1_000_000, 20_000) == 10_000
    assert bench.Config(quick=True, scale=300).size(1_000_000, 20_000) == 300
    assert bench.Config(quick=True).size(1_000_000, 20_000) == 20_000


def test_durable_records_are_files_made_fresh_for_each_run(bench, tmp_path: Path) -> None:
    first = bench.durable(str(tmp_path), "x")
    first["audit"].record("probe", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert (tmp_path / "durable_x" / "audit.sqlite").stat().st_size > 0
    second = bench.durable(str(tmp_path), "x")
    assert list(second["audit"].entries()) == []
    assert second["journal_dir"].is_dir()
    assert second["journal"].parent == tmp_path / "durable_x"


def test_the_cache_wrapper_sets_the_realistic_cache_before_the_run(bench) -> None:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    run = bench.with_cache(
        lambda state: state.execute("PRAGMA cache_size").fetchone()[0], lambda s: s
    )
    assert run(conn) == -bench.REALISTIC_CACHE_KIB


def test_postgres_database_names_are_unique_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.retention_pg import database_names

    names = {database_names() for _ in range(20)}
    assert len(names) == 20
    assert all(b.endswith("_base") and r.endswith("_run") for b, r in names)


def test_the_mariadb_scenario_is_skipped_saying_why_without_its_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed (extra [sqlalchemy])")
    pytest.importorskip("pymysql", reason="the pymysql driver is not installed")
    from benchmarks import __main__ as cli
    from benchmarks import retention_mariadb
    from benchmarks._harness import Config, Skip

    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setattr(retention_mariadb, "SERVER", f"mysql+pymysql://root@127.0.0.1:{port}")
    with pytest.raises(Skip, match="MariaDB unreachable"):
        retention_mariadb.run(Config(quick=True, workdir=str(tmp_path)))
    (row,) = cli.run_scenario(
        "retention-mariadb", ".retention_mariadb", "9.", Config(quick=True, workdir=str(tmp_path))
    )
    assert row.note.startswith("skipped: MariaDB unreachable")
    assert not row.error


@pytest.mark.mariadb
def test_the_mariadb_scenario_runs_both_sides_on_copies_and_drops_its_databases(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mariadb_engine: Any
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    import sqlalchemy as sa
    from benchmarks import retention_mariadb
    from benchmarks._harness import Config

    made: list[tuple[str, str]] = []
    real = retention_mariadb.database_names

    def names() -> tuple[str, str]:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(retention_mariadb, "database_names", names)
    # Each run is checked to leave the expected bookings (an AssertionError otherwise).
    rows = retention_mariadb.run(Config(repetitions=1, workdir=str(tmp_path), scale=3_000))
    assert [r.scenario for r in rows] == [
        "9. retention sweep, MariaDB",
        "9. retention sweep, MariaDB, batch_size=100,000",
    ]
    assert rows[0].size.startswith("3,000 bookings, ")
    assert rows[0].pk is not None
    assert rows[0].baseline is not None
    assert rows[0].ratio is not None
    ((base, run),) = made
    with mariadb_engine.connect() as conn:
        left = conn.execute(
            sa.text(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (:a, :b)"
            ),
            {"a": base, "b": run},
        ).all()
    assert left == []


def test_growth_runs_a_data_scenario_once_per_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    import types

    from benchmarks import __main__ as cli
    from benchmarks._harness import Config, Row

    seen: list[int | None] = []
    fake = types.ModuleType("benchmarks._fake")
    fake.GROWS = True  # type: ignore[attr-defined]
    fake.run = lambda config: seen.append(config.scale) or [Row("s", str(config.scale))]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks._fake", fake)
    rows = cli.run_scenario("fake", "._fake", "fake", Config(), (10, 20))
    assert seen == [10, 20]
    assert [r.size for r in rows] == ["10", "20"]
    fake.GROWS = False  # type: ignore[attr-defined]
    seen.clear()
    cli.run_scenario("fake", "._fake", "fake", Config(), (10, 20))
    assert seen == [None]


def test_strict_exits_non_zero_on_a_missed_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import __main__ as cli
    from benchmarks._harness import Row

    missed = [Row("6. slow", "1", pk=2.0, baseline=1.0, target=1.5)]
    monkeypatch.setattr(cli, "run_scenario", lambda *a, **k: missed)
    assert cli.main(["--quick", "--only", "import"]) == 0
    assert cli.main(["--quick", "--only", "import", "--strict"]) == 1
    met = [Row("6. fast", "1", pk=1.0, baseline=1.0, target=1.5)]
    monkeypatch.setattr(cli, "run_scenario", lambda *a, **k: met)
    assert cli.main(["--quick", "--only", "import", "--strict"]) == 0


def test_the_import_scenario_measures_the_checkout_on_a_relative_pythonpath(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The measured interpreters run in an empty directory: ``PYTHONPATH=src`` still names the
    caller's ``src``, not whatever ``privacy_kit`` is installed."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import import_cost

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PYTHONPATH", "src")
    env = import_cost._env()
    assert env["PYTHONPATH"] == str(ROOT / "src")
    out = subprocess.run(
        [sys.executable, "-c", "import privacy_kit; print(privacy_kit.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(out.stdout.strip()) == ROOT / "src" / "privacy_kit" / "__init__.py"


def test_the_export_bundles_by_hand_have_privacy_kit_s_record_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The export baselines write the same artefact: the JSON folder's record files and the zip's
    record members have privacy_kit's bytes; the manifest by hand names their sizes and hashes."""
    monkeypatch.syspath_prepend(str(ROOT))
    import hashlib
    import json
    import sqlite3

    from benchmarks import _data, export

    import privacy_kit as pk

    store = tmp_path / "export.sqlite"
    counts = _data.build_host_store(store, 2_000, others=200)
    subject = pk.Subject.of("customer", user_id=_data.HOST)
    adapter, engine = export._engine(store)
    conn = sqlite3.connect(store)
    try:
        engine.export(subject, tmp_path / "pk", now=_data.NOW, format="folder", formats=["json"])
        engine.export(subject, tmp_path / "pk.zip", now=_data.NOW)
        assert export.baseline_json_folder(conn, _data.HOST, tmp_path / "hand") == counts
        level = export._compression_level()
        hand_zip = tmp_path / "hand.zip"
        assert export.baseline_zip_bundle(conn, _data.HOST, hand_zip, compresslevel=level) == counts
    finally:
        adapter.close()
        conn.close()

    pk_json = export.record_file_hashes(tmp_path / "pk")
    assert sorted(pk_json) == sorted(f"{t}.json" for t in export.QUERIES)
    assert export.record_file_hashes(tmp_path / "hand") == pk_json
    manifest = json.loads((tmp_path / "hand" / "manifest.json").read_bytes())
    assert manifest["counts"] == counts
    for name, info in manifest["files"].items():
        data = (tmp_path / "hand" / name).read_bytes()
        assert info == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert (tmp_path / "hand" / "summary.html").read_text(encoding="utf-8").startswith("<!doctype")
    pk_members = export._record_members(tmp_path / "pk.zip")
    assert len(pk_members) == 3 * len(export.QUERIES)
    assert export._record_members(hand_zip) == pk_members
