"""``privacy-kit demo``: end to end, in-process and as the installed command."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import privacy_kit as pk
from privacy_kit.cli import DEFAULT_AS_OF, run_demo
from privacy_kit.cli._main import main


def test_demo_in_process(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_demo(tmp_path / "demo", stream=out, fancy=False)
    text = out.getvalue()
    assert result.ok
    assert [s.title for s in result.steps] == [
        "Create a sample database",
        "Validate the policy against the data map",
        "Export one invitee's data (access / portability)",
        "Erase one host (right to be forgotten)",
        "Plan and apply retention as of 2026-01-01",
        "Verify the audit log",
    ]
    assert "[6/6] Verify the audit log" in text
    assert "hash chain intact" in text
    assert "All steps completed." in text
    # The files it names exist and hold what it says.
    assert result.database.exists()
    assert result.export.exists()
    assert result.audit_log.exists()
    with zipfile.ZipFile(result.export) as bundle:
        assert "manifest.json" in bundle.namelist()
    conn = sqlite3.connect(result.database)
    users = conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]
    bookings = conn.execute("SELECT COUNT(*) FROM bookings").fetchone()[0]
    conn.close()
    assert users == 60
    assert 0 < bookings < 1500  # retention and the erasure removed some
    actions = [json.loads(line)["action"] for line in result.audit_log.read_text().splitlines()]
    assert "retention.applied" in actions
    assert "hold.placed" in actions
    assert pk.AuditLog.jsonl(result.audit_log).verify().ok
    # Retention showed held records and a record's fate.
    retention = result.steps[4]
    assert any("held (demo-hold)" in line for line in retention.lines)
    assert any(line.startswith("a record's fate: bookings") for line in retention.lines)


def test_demo_is_reproducible(tmp_path: Path) -> None:
    a, b = io.StringIO(), io.StringIO()
    run_demo(tmp_path / "a", stream=a, fancy=False, customers=12, bookings_per_customer=5)
    run_demo(tmp_path / "b", stream=b, fancy=False, customers=12, bookings_per_customer=5)

    def counts(text: str, folder: Path) -> list[str]:
        return [
            line.replace(str(folder), "<out>")
            for line in text.splitlines()
            if " in " not in line or "records in" in line
        ]

    assert counts(a.getvalue(), tmp_path / "a") == counts(b.getvalue(), tmp_path / "b")


def test_demo_with_the_rich_display(tmp_path: Path) -> None:
    pytest.importorskip("rich")
    out = io.StringIO()
    result = run_demo(tmp_path, stream=out, fancy=True, customers=10, bookings_per_customer=4)
    assert result.ok
    assert "✓ [1/6] Create a sample database" in out.getvalue()


def test_demo_refuses_a_used_folder_and_naive_dates(tmp_path: Path) -> None:
    run_demo(tmp_path, stream=io.StringIO(), customers=5, bookings_per_customer=2)
    with pytest.raises(pk.ConfigurationError, match="already exists"):
        run_demo(tmp_path, stream=io.StringIO())
    with pytest.raises(ValueError, match="timezone-aware"):
        run_demo(tmp_path / "x", as_of=dt.datetime(2026, 1, 1), stream=io.StringIO())


def test_demo_via_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    code = main(
        [
            "demo",
            "--out",
            str(tmp_path / "d"),
            "--as-of",
            "2025-06-30",
            "--customers",
            "15",
            "--plain",
        ],
        out,
    )
    assert code == 0
    assert "as of 2025-06-30" in out.getvalue()
    assert main(["demo", "--out", str(tmp_path / "d")], io.StringIO()) == 2  # refused: exit 2
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["demo", "--as-of", "soon"], io.StringIO())
    assert dt.datetime(2026, 1, 1, tzinfo=dt.UTC) == DEFAULT_AS_OF


def test_demo_subprocess(tmp_path: Path) -> None:
    exe = shutil.which("privacy-kit")
    cmd = [exe] if exe else [sys.executable, "-m", "privacy_kit"]
    done = subprocess.run(
        [*cmd, "demo", "--out", str(tmp_path / "tmp")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "All steps completed." in done.stdout
    assert (tmp_path / "tmp" / "demo.sqlite").exists()
    assert "Traceback" not in done.stderr
