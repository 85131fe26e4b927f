"""The record writers and the zip's compression: the same bytes whatever path a batch takes.

``RecordWriters`` serialises records the adapter returned with exactly the exported columns as
they are, and converts CSV cells column by column; these tests hold it to a plain per-record,
per-cell reference (the rules the docs state), for any mix of values, key orders, missing and
unasked fields. The compression level changes the zip's size, never a record file's bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.rights import COMPRESSION_LEVEL, RecordWriters
from test_export import ANN, NOW, example_rows, make_adapter, make_engine

COLUMNS = ["id", "name", "at", "flag", "amount", "extra"]
LEADS = "=+-@\t\r"


def reference_cell(value: Any) -> str:
    """A CSV cell as the docs state it, one value at a time."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value[:1] and value[0] in LEADS else value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, bytes):
        return value.hex()
    text = str(value)
    return "'" + text if text[:1] and text[0] in LEADS else text


def reference(records: list[dict[str, Any]], columns: list[str]) -> dict[str, bytes]:
    """The three files, one record and one cell at a time (exact columns, in order)."""
    ordered = [{c: r.get(c) for c in columns} for r in records]

    def default(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return str(value)
        if isinstance(value, bytes):
            return value.hex()
        raise TypeError

    lines = [orjson.dumps(o, default=default) for o in ordered]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([[reference_cell(o[c]) for c in columns] for o in ordered])
    return {
        "json": (b"[\n  " + b",\n  ".join(lines) + b"\n]\n") if lines else b"[]\n",
        "ndjson": b"".join(line + b"\n" for line in lines),
        "csv": text.getvalue().encode(),
    }


texts = st.one_of(
    st.text(max_size=8),
    st.sampled_from(LEADS).flatmap(lambda lead: st.text(max_size=5).map(lambda t: lead + t)),
)
stamps = st.datetimes(
    min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    stamps,
    st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.binary(max_size=4),
    st.lists(st.integers(0, 9), max_size=3),
)
# Columns of one type (the fast paths) or of anything (the general path).
column_values = {
    "id": st.integers(0, 10**9),
    "name": st.one_of(st.none(), texts),
    "at": st.one_of(st.none(), stamps),
    "flag": st.one_of(st.none(), st.booleans()),
    "amount": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    "extra": values,
}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record = {c: draw(s) for c, s in column_values.items()}
    if draw(st.booleans()):  # an adapter that leaves a field out, or sends one unasked,
        record.pop(draw(st.sampled_from(COLUMNS)))  # or returns them in another order
    if draw(st.booleans()):
        record["secret"] = "another party's"
    if draw(st.booleans()):
        items = list(record.items())
        record = dict(draw(st.permutations(items)))
    return record


def write(batches: list[list[dict[str, Any]]], columns: list[str]) -> dict[str, bytes]:
    outs = {k: io.BytesIO() for k in ("json", "ndjson", "csv")}
    writers = RecordWriters(outs, columns)
    for batch in batches:
        writers.write_batch(batch)
    writers.close()
    assert writers.count == sum(map(len, batches))
    return {k: v.getvalue() for k, v in outs.items()}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(records(), max_size=6), max_size=4))
def test_writers_match_the_per_cell_rules_for_any_batch(
    batches: list[list[dict[str, Any]]],
) -> None:
    flat = [r for batch in batches for r in batch]
    assert write(batches, COLUMNS) == reference(flat, COLUMNS)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.fixed_dictionaries(column_values), min_size=1, max_size=8))
def test_exact_records_are_written_as_they_are_and_left_untouched(
    rows: list[dict[str, Any]],
) -> None:
    before = [dict(r) for r in rows]
    assert write([rows], COLUMNS) == reference(rows, COLUMNS)
    assert rows == before  # the adapter's records are read, never changed


def test_a_column_with_one_formula_cell_neutralises_only_that_cell() -> None:
    rows = [{"name": n} for n in ("Ann", None, "", "=1+2", "-5", "Bo")]
    out = write([rows], ["name"])["csv"].decode()
    # A lone empty cell is written as "" (csv's rule, so the row is not a blank line).
    assert out.split("\r\n") == ["name", "Ann", '""', '""', "'=1+2", "'-5", "Bo", ""]


def test_no_columns_writes_one_empty_line_per_record() -> None:
    out = write([[{}, {"secret": 1}]], [])
    assert out["csv"] == b"\r\n\r\n\r\n"
    assert out["ndjson"] == b"{}\n{}\n"


def _bundle(path: Path) -> tuple[dict[str, zipfile.ZipInfo], dict[str, bytes]]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: i for i in z.infolist()}, {n: z.read(n) for n in z.namelist()}


def test_compression_level_changes_the_size_never_the_files(tmp_path: Path) -> None:
    rows = example_rows()
    template = rows["bookings"][0]
    rows["bookings"] = [
        {
            **template,
            "id": 1000 + i,
            "invitee_notes": "bring the agenda " * (i % 5),
            "start_at": NOW - dt.timedelta(hours=i),
        }
        for i in range(400)
    ]
    engine = make_engine(make_adapter("memory", rows))
    sizes = {}
    contents = {}
    for level in (None, 0, 1, 9):
        path = tmp_path / f"{level}.zip"
        engine.export(ANN, path, now=NOW, compression_level=level)
        infos, files = _bundle(path)
        sizes[level] = path.stat().st_size
        contents[level] = {n: b for n, b in files.items() if n.startswith("records/")}
        stored = level == 0
        for info in infos.values():
            assert info.compress_type == (zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
        manifest = json.loads(files["manifest.json"])
        for item in manifest["record_types"]:
            for f in item["files"].values():  # the manifest's hash is the file's, at any level
                assert hashlib.sha256(files[f["path"]]).hexdigest() == f["sha256"]
    assert COMPRESSION_LEVEL == 1
    assert contents[None] == contents[0] == contents[1] == contents[9]
    assert sizes[None] == sizes[1]
    assert sizes[9] < sizes[1] < sizes[0]


@pytest.mark.parametrize("level", [-1, 10, True, 1.0, "1"])
def test_a_bad_compression_level_is_refused(tmp_path: Path, level: Any) -> None:
    engine = make_engine(make_adapter("memory"))
    with pytest.raises(pk.ConfigurationError, match="compression_level"):
        engine.export(ANN, tmp_path / "a.zip", now=NOW, compression_level=level)
    assert list(tmp_path.iterdir()) == []
