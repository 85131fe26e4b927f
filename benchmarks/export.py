"""Scenario 3: exporting one host's data from SQLite, against hand-written SELECTs and orjson.

The store holds one host (user 1) with 100,000 records across the example's eight record types
(60% bookings, 30% usage events, 9% sessions, the rest support tickets, payment methods, the
company, the services and the account itself), and 200 other hosts with as many records again.

privacy_kit: ``engine.export(subject, folder, now=..., format="folder", formats=["json"])``,
which resolves the subject, streams every record type in batches and writes each as JSON, leaves
the invitees' fields out of the bookings, and writes the manifest (with SHA-256 of every file) and
a readable summary. Baseline: :func:`baseline_json_folder`, the same folder written by hand
(``records/<table>.json`` from one ``SELECT`` per table in batches, datetimes and booleans
converted, SHA-256 as written, a manifest of counts, sizes and hashes, a summary page); after
every run the JSON record files of the two sides are checked to be byte-identical. The row
``SELECT + orjson.dumps`` (no target) keeps the earlier, naive comparison for the history:
:func:`baseline_export`, ``fetchall()`` and one ``orjson.dumps`` per table, with no batches, no
datetime conversion, no hashes, no manifest and no summary.

The default three formats (``format="folder"``) are timed against :func:`baseline_three_formats`
(the three files by hand; no target).

The default export, ``engine.export(subject, "bundle.zip", now=...)``, is timed against
:func:`baseline_zip_bundle`: the same zip written by hand (batches, datetimes, SHA-256, the same
record files with the same bytes, a manifest of hashes and a summary page), at the same deflate
level; after every run the record files of the two zips are checked to be identical. Both
by-hand bundles write their record files with one function, :func:`write_record_files`.

A last row exports a host with 1,000,000 records once (the default zip), under tracemalloc, to
show that memory stays bounded (streaming): the target is a peak growth of the Python heap under
100 MB.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import orjson

from . import _data
from ._harness import Config, Row, Skip, alternate, median, peak_python_memory

NAME = "export"
GROWS = True

# The hand-written part: what a team would write for "give host 1 their data". The bookings
# leave out the invitees' fields (they are another person's data).
QUERIES = {
    "users": (
        "SELECT id, name, email, time_zone, language, is_admin, created_at, last_seen_at, "
        "closed_at, deactivated_at FROM users WHERE id = ?"
    ),
    "companies": (
        "SELECT id, owner_id, name, description, website, created_at FROM companies "
        "WHERE owner_id = ?"
    ),
    "services": (
        "SELECT id, owner_id, title, description, duration_minutes, created_at FROM services "
        "WHERE owner_id = ?"
    ),
    "bookings": (
        "SELECT id, host_id, service_id, host_notes, start_at, end_at, conferencing_provider, "
        "meeting_url, created_at FROM bookings WHERE host_id = ?"
    ),
    "support_tickets": (
        "SELECT id, user_id, subject, body, created_at FROM support_tickets WHERE user_id = ?"
    ),
    "payment_methods": (
        "SELECT id, user_id, card_brand, card_last4, card_holder, expires, created_at "
        "FROM payment_methods WHERE user_id = ?"
    ),
    "sessions": (
        "SELECT id, user_id, ip_address, device_type, browser, cookie_id, created_at, "
        "last_seen_at FROM sessions WHERE user_id = ?"
    ),
    "usage_events": "SELECT id, user_id, feature, occurred_at FROM usage_events WHERE user_id = ?",
}


def baseline_export(conn: sqlite3.Connection, host: int, folder: Path) -> dict[str, int]:
    """The hand-written export: one SELECT per table, ``orjson.dumps`` into ``<table>.json``."""
    folder.mkdir(parents=True)
    counts = {}
    for table, sql in QUERIES.items():
        cursor = conn.execute(sql, [host])
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        (folder / f"{table}.json").write_bytes(orjson.dumps(rows))
        counts[table] = len(rows)
    return counts


def baseline_three_formats(conn: sqlite3.Connection, host: int, folder: Path) -> dict[str, int]:
    """The same three files per table as privacy_kit's bundle, written by hand.

    One SELECT per table in batches of 1,000 rows (bounded memory, as privacy_kit), timestamps
    converted to RFC 3339 with an offset (as privacy_kit writes them), then JSON, NDJSON and CSV
    (``csv`` module). No manifest, hashes or summary page.
    """
    import csv
    import datetime as dt
    import io

    folder.mkdir(parents=True)
    counts = {}
    for table, sql in QUERIES.items():
        cursor = conn.execute(sql, [host])
        columns = [d[0] for d in cursor.description]
        stamps = [i for i, c in enumerate(columns) if c.endswith("_at")]
        count = 0
        with (
            open(folder / f"{table}.json", "wb") as js,
            open(folder / f"{table}.ndjson", "wb") as nd,
            open(folder / f"{table}.csv", "w", newline="", encoding="utf-8") as cs,
        ):
            writer = csv.writer(cs)
            writer.writerow(columns)
            js.write(b"[")
            while rows := cursor.fetchmany(1000):
                records = []
                for row in rows:
                    values = list(row)
                    for i in stamps:
                        if values[i] is not None:
                            values[i] = dt.datetime.fromisoformat(values[i])
                    records.append(values)
                data = [orjson.dumps(dict(zip(columns, v, strict=True))) for v in records]
                js.write((b"\n  " if count == 0 else b",\n  ") + b",\n  ".join(data))
                nd.write(b"\n".join(data) + b"\n")
                buffer = io.StringIO()
                csv.writer(buffer).writerows(
                    [
                        [
                            "" if x is None else x.isoformat() if i in stamps else x
                            for i, x in enumerate(v)
                        ]
                        for v in records
                    ]
                )
                cs.write(buffer.getvalue())
                count += len(rows)
            js.write(b"\n]\n")
        counts[table] = count
    return counts


# What the hand-written bundle converts, knowing its schema: stored timestamp text to aware
# datetimes (written back as RFC 3339), SQLite's 0/1 to booleans; text cells a spreadsheet would
# run as a formula are made text (OWASP CSV injection).
BOOLEANS = frozenset({"is_admin"})
INTEGERS = frozenset({"id", "owner_id", "host_id", "service_id", "user_id", "duration_minutes"})
FORMULA_LEADS = frozenset("=+-@\t\r")


RECORD_KINDS = ("json", "ndjson", "csv")


def write_record_files(
    conn: sqlite3.Connection, host: int, folder: Path, kinds: tuple[str, ...] = RECORD_KINDS
) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """The record files of a bundle written by hand into ``folder``: ``<table>.<kind>``.

    Per table, one ``SELECT`` read in batches of 1,000 rows (bounded memory); timestamps turned
    into aware datetimes and booleans into ``bool`` (what any adapter returns); each batch
    written as JSON and NDJSON (``orjson`` per record) and CSV (``csv`` module, converting only
    the columns that need it), each of the chosen ``kinds`` only, hashed (SHA-256) as it is
    written. Returns the counts per table and ``{file name: {"sha256", "bytes"}}``.
    """
    import csv
    import datetime as dt
    import hashlib
    import io

    unknown = set(kinds) - set(RECORD_KINDS)
    if unknown or not kinds:
        raise ValueError(f"kinds must be some of {RECORD_KINDS}, got {kinds}")
    counts: dict[str, int] = {}
    files: dict[str, dict[str, Any]] = {}
    parse = dt.datetime.fromisoformat
    for table, sql in QUERIES.items():
        cursor = conn.execute(sql, [host])
        columns = [d[0] for d in cursor.description]
        stamps = [i for i, c in enumerate(columns) if c.endswith("_at")]
        bools = [i for i, c in enumerate(columns) if c in BOOLEANS]
        texts = [
            i
            for i, c in enumerate(columns)
            if i not in stamps and i not in bools and c not in INTEGERS
        ]
        outs = {k: open(folder / f"{table}.{k}", "wb") for k in kinds}  # noqa: SIM115
        hashes = {k: hashlib.sha256() for k in kinds}

        def put(kind: str, data: bytes) -> None:
            outs[kind].write(data)  # noqa: B023 - called within this iteration only
            hashes[kind].update(data)  # noqa: B023

        text = io.StringIO()
        writer = csv.writer(text)
        if "csv" in kinds:
            writer.writerow(columns)
            put("csv", text.getvalue().encode())
        count = 0
        while rows := cursor.fetchmany(1000):
            records = [list(row) for row in rows]
            for values in records:
                for i in stamps:
                    if values[i] is not None:
                        values[i] = parse(values[i])
                for i in bools:
                    if values[i] is not None:
                        values[i] = bool(values[i])
            data = [orjson.dumps(dict(zip(columns, v, strict=True))) for v in records]
            if "json" in kinds:
                put("json", (b"[\n  " if count == 0 else b",\n  ") + b",\n  ".join(data))
            if "ndjson" in kinds:
                put("ndjson", b"\n".join(data) + b"\n")
            count += len(rows)
            if "csv" not in kinds:
                continue
            # The JSON is written: the CSV cells are converted in place.
            for values in records:
                for i in stamps:
                    if values[i] is not None:
                        values[i] = values[i].isoformat()
                for i in bools:
                    if values[i] is not None:
                        values[i] = "true" if values[i] else "false"
                for i in texts:
                    x = values[i]
                    if x and x[0] in FORMULA_LEADS:
                        values[i] = "'" + x
            text.seek(0)
            text.truncate()
            writer.writerows(records)
            put("csv", text.getvalue().encode())
        if "json" in kinds:
            put("json", b"\n]\n" if count else b"[]\n")
        for kind in kinds:
            files[f"{table}.{kind}"] = {
                "sha256": hashes[kind].hexdigest(),
                "bytes": outs[kind].tell(),
            }
            outs[kind].close()
        counts[table] = count
    return counts, files


def _summary_and_manifest(
    counts: dict[str, int], files: dict[str, dict[str, Any]]
) -> tuple[str, bytes]:
    """The hand-written bundle's ``summary.html`` and ``manifest.json`` (counts, sizes, hashes)."""
    summary = "".join(f"<tr><td>{t}</td><td>{n}</td></tr>" for t, n in counts.items())
    manifest = {"counts": counts, "files": files}
    return (
        f"<!doctype html><table>{summary}</table>\n",
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2),
    )


def baseline_zip_bundle(
    conn: sqlite3.Connection, host: int, path: Path, *, compresslevel: int | None
) -> dict[str, int]:
    """The default bundle written by hand: the same zip members, with the same bytes.

    The three record files per table by :func:`write_record_files` into a temporary folder,
    then into a deflated zip (``compresslevel``; ``None`` is zlib's default, 6) under
    ``records/``, with a ``manifest.json`` of counts, sizes and hashes and a short
    ``summary.html``. Left out against privacy_kit: resolving the subject, the policy's
    descriptions in the manifest, and publishing under a temporary name.
    """
    import tempfile
    import zipfile

    with (
        tempfile.TemporaryDirectory(dir=path.parent) as tmp,
        zipfile.ZipFile(
            path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        ) as bundle,
    ):
        counts, written = write_record_files(conn, host, Path(tmp))
        for name in written:
            bundle.write(Path(tmp) / name, f"records/{name}")
        files = {f"records/{name}": info for name, info in written.items()}
        summary, manifest = _summary_and_manifest(counts, files)
        bundle.writestr("summary.html", summary)
        bundle.writestr("manifest.json", manifest)
    return counts


def baseline_json_folder(conn: sqlite3.Connection, host: int, folder: Path) -> dict[str, int]:
    """A JSON bundle written by hand into ``folder``: what ``formats=["json"]`` writes.

    ``records/<table>.json`` by :func:`write_record_files` (JSON only: batches, datetimes,
    booleans, SHA-256 as written), then ``manifest.json`` (counts, sizes, hashes) and
    ``summary.html`` next to them. Left out against privacy_kit: resolving the subject, the
    policy's descriptions in the manifest, and publishing under a temporary name.
    """
    records = folder / "records"
    records.mkdir(parents=True)
    counts, written = write_record_files(conn, host, records, ("json",))
    files = {f"records/{name}": info for name, info in written.items()}
    summary, manifest = _summary_and_manifest(counts, files)
    (folder / "summary.html").write_text(summary, encoding="utf-8")
    (folder / "manifest.json").write_bytes(manifest)
    return counts


def record_file_hashes(folder: Path) -> dict[str, str]:
    """``{name: SHA-256}`` of the record files in an exported folder's ``records/``."""
    import hashlib

    return {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted((folder / "records").iterdir())
    }


def _record_members(path: Path) -> dict[str, tuple[int, int, int]]:
    """``{name: (CRC-32, size, compressed size)}`` of the record files in a zip."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        return {
            i.filename: (i.CRC, i.file_size, i.compress_size)
            for i in z.infolist()
            if i.filename.startswith("records/")
        }


def _compression_level() -> int:
    """privacy_kit's default deflate level (zlib's default, 6, before it had one)."""
    try:
        from privacy_kit.rights._bundle import COMPRESSION_LEVEL
    except ImportError:
        return 6
    return COMPRESSION_LEVEL


def _engine(path: Path) -> Any:
    import privacy_kit as pk
    from privacy_kit.adapters import SQLiteAdapter

    from ._harness import durable

    adapter = SQLiteAdapter(path)
    engine = pk.Engine(
        pk.load_policy(pk.example_path()),
        _data.example_datamap(),
        adapter,
        secret=b"b" * 32,
        audit=durable(str(path.parent), NAME)["audit"],  # durable, fresh for each run
    )
    return adapter, engine


def run(config: Config) -> list[Row]:
    """Time both exports alternately; then the large export's memory."""
    import privacy_kit as pk

    if not hasattr(pk.Engine, "export"):
        raise Skip("privacy_kit has no Engine.export yet")
    work = Path(config.workdir)
    total = config.size(100_000, 5_000)
    store = work / "export.sqlite"
    counts = _data.build_host_store(store, total, others=total)
    subject = pk.Subject.of("customer", user_id=_data.HOST)
    out = work / "export_out"
    bundle = work / "export_out.zip"
    level = _compression_level()

    # Reading does not change the store: one file serves every run. The output folder and zip
    # are new for each run (prepare removes the previous ones, untimed).
    def prepare() -> dict[str, Any]:
        shutil.rmtree(out, ignore_errors=True)
        bundle.unlink(missing_ok=True)
        adapter, engine = _engine(store)
        return {"adapter": adapter, "engine": engine, "conn": sqlite3.connect(store)}

    def privacy_kit(state: dict[str, Any]) -> dict[str, int]:
        # A JSON bundle, as the baseline writes: the record files in JSON only.
        result = state["engine"].export(
            subject, out, now=_data.NOW, format="folder", formats=["json"]
        )
        return dict(result.counts)

    def privacy_kit_all(state: dict[str, Any]) -> dict[str, int]:
        result = state["engine"].export(subject, out, now=_data.NOW, format="folder")
        return dict(result.counts)

    def privacy_kit_zip(state: dict[str, Any]) -> dict[str, int]:
        # The default: engine.export(subject, path, now=...) and nothing else.
        result = state["engine"].export(subject, bundle, now=_data.NOW)
        return dict(result.counts)

    def naive(state: dict[str, Any]) -> dict[str, int]:
        return baseline_export(state["conn"], _data.HOST, out)

    def json_by_hand(state: dict[str, Any]) -> dict[str, int]:
        return baseline_json_folder(state["conn"], _data.HOST, out)

    def zip_by_hand(state: dict[str, Any]) -> dict[str, int]:
        return baseline_zip_bundle(state["conn"], _data.HOST, bundle, compresslevel=level)

    def three_formats(state: dict[str, Any]) -> dict[str, int]:
        return baseline_three_formats(state["conn"], _data.HOST, out)

    members: dict[str, tuple[int, int, int]] = {}
    json_files: dict[str, str] = {}

    def check(name: str, _state: dict[str, Any], result: dict[str, int]) -> None:
        if result != counts:
            raise AssertionError(f"{name} exported {result}, expected {counts}")
        if name in ("pkzip", "handzip"):
            # The same artefact: every record file in both zips has the same bytes (CRC-32 and
            # size) and the same compressed size.
            found = _record_members(bundle)
            if members and found != members:
                diff = sorted(
                    k for k in found.keys() | members.keys() if found.get(k) != members.get(k)
                )
                raise AssertionError(f"{name}: record files differ from the other side's: {diff}")
            members.update(found)
        if name in ("pk", "handjson"):
            # The same artefact: every JSON record file in both folders has the same bytes.
            hashed = record_file_hashes(out)
            if json_files and hashed != json_files:
                diff = sorted(
                    k
                    for k in hashed.keys() | json_files.keys()
                    if hashed.get(k) != json_files.get(k)
                )
                raise AssertionError(
                    f"{name}: JSON record files differ from the other side's: {diff}"
                )
            json_files.update(hashed)

    def cleanup(state: dict[str, Any]) -> None:
        state["adapter"].close()
        state["conn"].close()

    times = alternate(
        prepare,
        [
            ("pk", privacy_kit),
            ("handjson", json_by_hand),
            ("base", naive),
            ("pk3", privacy_kit_all),
            ("three", three_formats),
            ("pkzip", privacy_kit_zip),
            ("handzip", zip_by_hand),
        ],
        config.repetitions,
        cleanup=cleanup,
        check=check,
    )
    state = prepare()
    try:
        peak, _ = peak_python_memory(lambda: privacy_kit(state))
    finally:
        cleanup(state)
    rows = [
        Row(
            scenario="3. export of one host (SQLite -> JSON bundle)",
            size=f"{total:,} records",
            pk=median(times["pk"]),
            baseline=median(times["handjson"]),
            baseline_name="the same JSON folder by hand",
            target=1.5,
            peak_mb=peak,
            note=(
                "formats=['json']; JSON record files byte-identical; by hand: batches, datetimes, "
                "SHA-256, manifest of hashes, summary page"
            ),
            samples=times,
        ),
        Row(
            scenario="3. export, JSON bundle vs SELECT + orjson.dumps",
            size=f"{total:,} records",
            pk=median(times["pk"]),
            baseline=median(times["base"]),
            baseline_name="SELECT + orjson.dumps",
            note=(
                "the earlier, naive baseline, kept for the history: fetchall, no batches, no "
                "datetime conversion, no hashes, no manifest, no summary"
            ),
        ),
        Row(
            scenario="3. export, JSON + NDJSON + CSV (the default)",
            size=f"{total:,} records",
            pk=median(times["pk3"]),
            baseline=median(times["three"]),
            baseline_name="JSON + NDJSON + CSV by hand",
            note="the default three record formats against the same three files by hand",
        ),
        Row(
            scenario="3. export, the default (zip bundle)",
            size=f"{total:,} records",
            pk=median(times["pkzip"]),
            baseline=median(times["handzip"]),
            baseline_name="the same zip by hand",
            target=1.5,
            note=(
                f"both deflate at level {level}; record files byte-identical; by hand: batches, "
                "datetimes, SHA-256, manifest of hashes"
            ),
        ),
    ]

    # Streaming: a host with ten times as many records, memory only.
    big_total = config.size(1_000_000, 20_000)
    big = work / "export_big.sqlite"
    big_counts = _data.build_host_store(big, big_total, others=0)
    bundle.unlink(missing_ok=True)
    adapter, engine = _engine(big)
    try:
        peak_big, result = peak_python_memory(lambda: engine.export(subject, bundle, now=_data.NOW))
    finally:
        adapter.close()
    if dict(result.counts) != big_counts:
        raise AssertionError(f"exported {result.counts}, expected {big_counts}")
    size_mb = bundle.stat().st_size / 1e6
    bundle.unlink()
    big.unlink()
    rows.append(
        Row(
            scenario="3. export, memory (streaming)",
            size=f"{big_total:,} records",
            peak_mb=peak_big,
            memory_limit_mb=100,
            note=f"the default zip, one run under tracemalloc; {size_mb:,.0f} MB on disk",
        )
    )
    return rows
