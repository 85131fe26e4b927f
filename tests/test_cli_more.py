"""The command line's habits: --version, --json, exit codes, a table that fits, progress on stderr."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import privacy_kit as pk
from privacy_kit.cli._main import main
from privacy_kit.cli._output import Progress, terminal_width
from strategies import example_policy_data

SRC = str(Path(pk.__file__).resolve().parents[1])
ENV = {**os.environ, "PYTHONPATH": SRC}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out)
    return code, out.getvalue(), capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"privacy-kit {pk.__version__}\n"


def test_python_dash_m_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "privacy_kit", "--version"],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
        timeout=120,
    )
    assert done.stdout == f"privacy-kit {pk.__version__}\n"


# -- --json ----------------------------------------------------------------------------------


def test_validate_json_is_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["validate", "--json"], capsys)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["policy"]["path"] == str(pk.example_path("policy.yaml"))
    assert doc["policy"]["version"] == "2024.1"
    assert doc["policy"]["effective"] == "2024-05-01"
    assert doc["policy"]["jurisdictions"] == ["gdpr", "uk_gdpr", "ccpa"]
    assert len(doc["policy"]["categories"]) == 18
    assert len(doc["datamap"]["record_types"]) == 8
    assert doc["check"] == {
        "ok": True,
        "counts": {"error": 0, "warning": 0, "info": doc["check"]["counts"]["info"]},
        "findings": doc["check"]["findings"],
    }


def test_validate_json_lists_findings_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = example_policy_data()
    data["recipients"][0]["categories"].append("user.health")  # shared but never collected
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(data, default=str))
    code, out, _ = _run(["validate", str(path), "--json"], capsys)
    assert code == 1
    doc = json.loads(out)
    assert doc["datamap"] is None
    assert doc["check"]["ok"] is False
    assert doc["check"]["counts"]["error"] >= 1
    codes = {f["code"] for f in doc["check"]["findings"] if f["severity"] == "error"}
    assert "recipient-undisclosed-category" in codes


def test_validate_json_through_json_tool() -> None:
    """`privacy-kit validate --json | python -m json.tool`, as the issue asks."""
    command = f"{sys.executable} -m privacy_kit validate --json | {sys.executable} -m json.tool"
    done = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, env=ENV, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["check"]["ok"] is True


def test_ropa_json_and_its_conflict_with_another_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(["ropa", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["article"] == "GDPR Art. 30(1)"
    with pytest.raises(SystemExit) as info:
        main(["ropa", "--json", "--format", "csv"], io.StringIO())
    assert info.value.code == 64
    assert "--json and --format csv ask for different outputs" in capsys.readouterr().err


def test_demo_json_on_stdout_progress_on_stderr(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "privacy_kit",
            "demo",
            "--customers",
            "6",
            "--out",
            str(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # nothing but the document on stdout
    assert doc["ok"] is True
    assert doc["database"] == str(tmp_path / "demo.sqlite")
    assert doc["as_of"] == "2026-01-01T00:00:00+00:00"
    assert [s["title"] for s in doc["steps"]][-1] == "Verify the audit log"
    assert any("hash chain intact" in line for line in doc["steps"][-1]["lines"])
    # piped: one line per step, with what it counted
    progress = done.stderr.splitlines()
    assert len(progress) == 6
    assert progress[0].startswith("privacy-kit demo: [1/6] Create a sample database: ")
    assert " records in demo.sqlite" in progress[0]
    assert progress[5].startswith("privacy-kit demo: [6/6] Verify the audit log: ")
    assert "hash chain intact" in progress[5]


def test_demo_text_keeps_results_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["demo", "--customers", "5", "--plain", "--out", str(tmp_path)], capsys)
    assert code == 0
    assert "[1/6] Create a sample database (" in out
    assert "All steps completed." in out
    assert err.count("\n") == 6
    assert "privacy-kit demo: [1/6]" not in out


# -- exit codes ------------------------------------------------------------------------------


def test_usage_and_unreadable_input_have_distinct_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", "--no-such-option"], io.StringIO())
    assert info.value.code == 64
    capsys.readouterr()
    garbled = tmp_path / "policy.yaml"
    garbled.write_text("version: [unclosed")
    code, _, err = _run(["validate", str(garbled)], capsys)
    assert code == 2
    assert err.startswith(f"privacy-kit: {garbled}")
    code, _, err = _run(["validate", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2
    assert "cannot read file" in err


# -- ropa table: fitted to the terminal --------------------------------------------------------


@pytest.mark.parametrize("columns", [60, 100, 140])
def test_ropa_table_fits_the_terminal(
    columns: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    out = _Terminal()
    assert main(["ropa"], out) == 0
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= columns
    assert any(len(line) > columns - 15 for line in lines if line.startswith("+"))
    assert "Records of processing activities" in lines[0]
    assert "Security measures:" in out.getvalue()


def test_ropa_table_into_a_pipe_is_not_wrapped_to_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    code, out, _ = _run(["ropa"], capsys)
    assert code == 0
    records = pk.records_of_processing(pk.load_policy(pk.example_path()))
    assert out == str(records) + "\n"
    assert max(len(line) for line in out.splitlines()) > 60


def test_a_tiny_terminal_gets_the_narrowest_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "20")
    assert terminal_width(_Terminal()) == 50
    assert terminal_width(io.StringIO()) is None
    records = pk.records_of_processing(pk.load_policy(pk.example_path()))
    with pytest.raises(ValueError, match="width must be at least 50, got 49"):
        records.to_text(width=49)


# -- progress ----------------------------------------------------------------------------------


def test_progress_is_a_rich_bar_on_a_terminal() -> None:
    pytest.importorskip("rich", reason="rich is the cli extra")
    err = _Terminal()
    with Progress(err, total=2, label="work") as progress:
        assert progress.fancy
        with progress.step("first"):
            pass
        progress.done("first", 0.1, "3 records")
    assert "privacy-kit" not in err.getvalue()
    assert "work: [1/2]" not in err.getvalue()  # not the plain line


def test_progress_is_plain_lines_without_a_terminal() -> None:
    err = io.StringIO()
    with Progress(err, total=2, label="work") as progress:
        assert not progress.fancy
        for title in ("first", "second"):
            with progress.step(title):
                pass
            progress.done(title, 0.25, f"{title} counted")
    assert err.getvalue() == (
        "work: [1/2] first: first counted (0.25s)\nwork: [2/2] second: second counted (0.25s)\n"
    )
