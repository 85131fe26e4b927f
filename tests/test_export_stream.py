"""Exports to a writable binary stream and as an iterator of byte chunks (no file on disk)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.rights import ExportStream, iter_export
from test_export import (
    ANN,
    HANA,
    NOW,
    SpyAdapter,
    _FailingReads,
    adapter_kind,  # noqa: F401 - a fixture
    example_rows,
    make_adapter,
    make_engine,
)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        return {name: z.read(name) for name in z.namelist()}


def _records(members: dict[str, bytes], name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in members[f"records/{name}.ndjson"].splitlines()]


def test_export_to_bytesio_writes_the_same_bundle_as_to_a_file(
    adapter_kind: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    engine = make_engine(make_adapter(adapter_kind))
    buffer = io.BytesIO()
    result = engine.export(HANA, buffer, now=NOW)
    on_disk = engine.export(HANA, tmp_path / "hana.zip", now=NOW)

    data = buffer.getvalue()
    assert result.path is None
    assert result.format == "zip"
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size == len(data)
    assert on_disk.size == (tmp_path / "hana.zip").stat().st_size
    assert result.counts == on_disk.counts
    assert result.counts
    assert result.redacted == on_disk.redacted
    streamed = _members(data)
    with zipfile.ZipFile(tmp_path / "hana.zip") as z:
        written = {name: z.read(name) for name in z.namelist()}
    # The record files are byte for byte the same (the manifest too: same now, same policy).
    assert streamed == written
    manifest = json.loads(streamed["manifest.json"])
    for item in manifest["record_types"]:
        for info in item["files"].values():
            assert hashlib.sha256(streamed[info["path"]]).hexdigest() == info["sha256"]
    entry = next(e for e in engine.audit.entries() if e.action == "export.completed")
    assert entry.action == "export.completed"
    assert entry.details["destination"] == "stream"
    assert entry.details["sha256"] == result.sha256
    assert entry.details["bytes"] == len(data)


class _WriteOnly:
    """A body writer with write() only: no tell, no seek, no flush; takes at most 1000 bytes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        taken = bytes(data[:1000])
        self.parts.append(taken)
        return len(taken)


def test_an_object_with_only_write_taking_short_writes_gets_the_whole_zip() -> None:
    engine = make_engine(make_adapter("memory"))
    sink = _WriteOnly()
    result = engine.export(ANN, sink, now=NOW)
    data = b"".join(sink.parts)
    assert max(map(len, sink.parts)) <= 1000
    assert hashlib.sha256(data).hexdigest() == result.sha256
    members = _members(data)
    assert [r["id"] for r in _records(members, "bookings")] == [
        r["id"] for r in example_rows()["bookings"] if r["invitee_email"] == "ann@example.com"
    ]
    assert "host_notes" not in members["records/bookings.json"].decode()


def test_a_generator_consumer_gets_the_zip_chunk_by_chunk() -> None:
    engine = make_engine(make_adapter("memory"))
    stream = engine.export_stream(ANN, now=NOW)
    assert isinstance(stream, ExportStream)
    assert stream.media_type == "application/zip"
    assert stream.filename.startswith("export-subj_")
    assert stream.filename.endswith(".zip")

    def consumer(chunks: Iterator[bytes]) -> Iterator[int]:
        for chunk in chunks:
            assert type(chunk) is bytes
            assert chunk
            yield len(chunk)

    received = bytearray()
    sizes = []
    for chunk in stream:
        received += chunk
        sizes.append(len(chunk))
        # Nothing is reported done until the consumer has taken every chunk.
        assert stream.result is None
    assert len(sizes) > 1
    assert stream.result is not None
    assert stream.result.sha256 == hashlib.sha256(received).hexdigest()
    assert stream.result.size == len(received)
    assert stream.result.counts == {"bookings": 2}
    members = _members(bytes(received))
    assert set(members) >= {"manifest.json", "summary.html", "records/bookings.csv"}
    # A second read is refused, not silently empty.
    with pytest.raises(pk.PlanError, match="read once"):
        iter(stream)
    again = engine.export_stream(ANN, now=NOW)
    assert sum(consumer(iter(again))) == again.result.size  # type: ignore[union-attr]


def test_the_csv_injection_rule_and_redaction_hold_in_streams() -> None:
    rows = example_rows()
    rows["bookings"][0]["invitee_notes"] = '=HYPERLINK("http://x")'
    engine = make_engine(make_adapter("memory", rows))
    members = _members(b"".join(engine.export_stream(ANN, now=NOW)))
    cells = list(csv.DictReader(io.StringIO(members["records/bookings.csv"].decode())))
    assert cells[0]["invitee_notes"].startswith("'=")
    assert _records(members, "bookings")[0]["invitee_notes"].startswith("=")
    assert "host_notes" not in cells[0]


def test_an_abandoned_stream_is_never_reported_done() -> None:
    engine = make_engine(make_adapter("memory"))
    before = len(list(engine.audit.entries()))
    stream = engine.export_stream(ANN, now=NOW, compression_level=0)
    chunks = iter(stream)
    first = next(chunks)
    chunks.close()  # the client went away
    assert stream.result is None
    assert not any(e.action == "export.completed" for e in list(engine.audit.entries())[before:])
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(first))


@pytest.mark.parametrize("how", ["stream", "iterator"])
def test_a_failed_stream_export_raises_and_is_not_a_readable_zip(how: str) -> None:
    engine = make_engine(_FailingReads(make_adapter("memory")))
    before = len(list(engine.audit.entries()))
    buffer = io.BytesIO()

    def run() -> None:
        if how == "stream":
            engine.export(ANN, buffer, now=NOW)
        else:
            for chunk in engine.export_stream(ANN, now=NOW):
                buffer.write(chunk)

    with pytest.raises(pk.AdapterError, match="disk gone"):
        run()
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    assert not any(e.action == "export.completed" for e in list(engine.audit.entries())[before:])


def test_wrong_destinations_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    engine = make_engine(make_adapter("memory"))
    with pytest.raises(pk.WrongTypeError, match="not int"):
        engine.export(ANN, 42, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(pk.WrongTypeError, match="not bytes"):
        engine.export(ANN, b"out.zip", now=NOW)  # type: ignore[arg-type]
    with pytest.raises(pk.WrongTypeError, match="text stream"):
        engine.export(ANN, io.StringIO(), now=NOW)  # type: ignore[arg-type]
    with (tmp_path / "t.zip").open("w") as text_file, pytest.raises(pk.WrongTypeError):
        engine.export(ANN, text_file, now=NOW)  # type: ignore[arg-type]

    class _TextLike:
        def write(self, data: str) -> int:
            return len(data + "")

    with pytest.raises(pk.WrongTypeError, match="does not take bytes"):
        engine.export(ANN, _TextLike(), now=NOW)  # type: ignore[arg-type]
    closed = io.BytesIO()
    closed.close()
    with pytest.raises(pk.ConfigurationError, match="closed"):
        engine.export(ANN, closed, now=NOW)
    with pytest.raises(pk.ConfigurationError, match="folder cannot be written to a stream"):
        engine.export(ANN, io.BytesIO(), now=NOW, format="folder")
    # A WrongTypeError is also a TypeError, as before, but says what to pass.
    assert issubclass(pk.WrongTypeError, TypeError)
    with pytest.raises(pk.ConfigurationError, match="batch_size"):
        engine.export_stream(ANN, now=NOW, batch_size=0)
    with pytest.raises(pk.SubjectError):
        engine.export_stream(pk.Subject.of("end_user", emial="x@example.com"), now=NOW)
    assert list(tmp_path.iterdir()) == [tmp_path / "t.zip"]


def test_iter_export_takes_a_scope_like_export_subject() -> None:
    engine = make_engine(make_adapter("memory"))
    stream = iter_export(engine.scope(ANN), policy=engine.policy, now=NOW, formats=["ndjson"])
    members = _members(b"".join(stream))
    assert sorted(members) == ["manifest.json", "records/bookings.ndjson", "summary.html"]
    assert repr(stream).endswith("(done)>")


def test_stream_memory_is_bounded_by_a_batch_not_the_volume() -> None:
    """20,000 records (about 6 MB of record files): the chunks stay small and the peak of
    Python allocations stays far below the bundle's uncompressed size."""
    rows = example_rows()
    template = rows["bookings"][0]
    n = 20_000
    rows["bookings"] = [
        {**template, "id": 10_000 + i, "invitee_notes": f"note {i} " + "x" * 60} for i in range(n)
    ]
    spy = SpyAdapter(make_adapter("memory", rows), track=False)
    engine = make_engine(spy)
    stream = engine.export_stream(ANN, now=NOW, batch_size=500, compression_level=0)
    tracemalloc.start()
    try:
        total = 0
        biggest = 0
        for chunk in stream:
            total += len(chunk)
            biggest = max(biggest, len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stream.result is not None
    assert stream.result.counts == {"bookings": n}
    assert total > 6_000_000
    assert biggest <= 1 << 17  # one piece of a member (64 KiB) and the zip's headers
    # The store's rows themselves live in the adapter (allocated before tracing began);
    # what the export adds is a batch, the spooled files' first MiB each and a chunk.
    assert peak < 8_000_000, peak
