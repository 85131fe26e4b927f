"""The command line: validate and schema, in-process through main() and once as `privacy-kit`."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import privacy_kit as pk
from privacy_kit.cli._main import main
from strategies import example_policy_data

MALFORMED = Path(__file__).parent / "malformed"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out)
    return code, out.getvalue(), capsys.readouterr().err


def test_validate_the_example_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["validate"], capsys)
    assert code == 0, err
    assert "(no policy given: checking the built-in example" in out
    assert "Appointlet privacy notice (version 2024.1, effective 2024-05-01)" in out
    assert "Covers: Customer, End user, Account administrator" in out
    assert "Collects 18 categories:" in out
    assert "booking_data" in out
    assert "customer may set P1D..P10Y" in out
    assert "Breach: customer told within 72 hours" in out
    assert "Minimum age: 16" in out
    assert "Data map: 8 record types" in out
    assert "Check: no findings." in out
    assert err == ""


def test_validate_explicit_paths(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        ["validate", str(pk.example_path()), "--datamap", str(pk.example_path("datamap.yaml"))],
        capsys,
    )
    assert code == 0
    assert "no policy given" not in out
    assert "Check: no findings." in out
    code, out, _ = _run(["validate", str(pk.example_path())], capsys)  # policy alone
    assert code == 0
    assert "Data map:" not in out


def test_an_error_finding_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = example_policy_data()
    data["recipients"][0]["categories"].append("user.health")  # shared but never collected
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, out, err = _run(["validate", str(path)], capsys)
    assert code == 1
    assert "Check: 1 error(s)" in out
    assert "recipient-undisclosed-category" in out
    assert "policy:recipients[0].categories[6]" in out
    assert err == ""


def test_warnings_alone_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = example_policy_data()
    data["collection"][0]["purposes"] = []
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(data, default=str), encoding="utf-8")
    code, out, _ = _run(["validate", str(path)], capsys)
    assert code == 0
    assert "0 error(s), 1 warning(s)" in out
    assert "category-without-purpose" in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["validate", "MISSING/policy.yaml"], "cannot read file"),
        (
            ["validate", str(MALFORMED / "policy_invalid_yaml.yaml")],
            "line 4, column 9: invalid YAML",
        ),
        (["validate", str(MALFORMED / "policy_invalid_json.json")], "invalid JSON"),
        (["validate", str(MALFORMED / "policy_not_utf8.yaml")], "not UTF-8"),
        (
            ["validate", str(MALFORMED / "policy_inverted_override.yaml")],
            "retention[0].override: inverted range",
        ),
        (
            [
                "validate",
                str(pk.example_path()),
                "--datamap",
                str(MALFORMED / "datamap_unknown_category_with_policy.yaml"),
            ],
            "record_types[0].fields[2].categories[0]: unknown category 'user.contact.emial'",
        ),
    ],
)
def test_unreadable_or_unparsable_input_exits_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert err.startswith("privacy-kit: ")
    assert fragment in err
    assert "Traceback" not in err
    assert "Traceback" not in out


@pytest.mark.parametrize("which", ["policy", "datamap"])
def test_schema_prints_json_schema(which: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["schema", which], capsys)
    assert code == 0
    schema = json.loads(out)
    model = pk.Policy if which == "policy" else pk.DataMap
    assert schema == json.loads(json.dumps(model.model_json_schema()))
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert "$defs" in schema


def test_schema_validates_the_example_when_jsonschema_is_available(
    capsys: pytest.CaptureFixture[str],
) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    _, out, _ = _run(["schema", "policy"], capsys)
    policy = pk.load_policy(pk.example_path())
    jsonschema.validate(policy.model_dump(mode="json"), json.loads(out))


def test_bad_arguments_are_argparse_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["schema", "nonsense"])
    assert info.value.code == 64  # EX_USAGE
    assert "invalid choice" in capsys.readouterr().err


def test_the_installed_command(tmp_path: Path) -> None:
    exe = shutil.which("privacy-kit")
    argv = [exe] if exe else [sys.executable, "-m", "privacy_kit"]
    ok = subprocess.run(
        [*argv, "validate"], capture_output=True, text=True, check=False, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert "Check: no findings." in ok.stdout
    bad = subprocess.run(
        [*argv, "validate", str(MALFORMED / "policy_garbage_duration.json")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "retention[0].duration: invalid duration 'eternally'" in bad.stderr
    assert "Traceback" not in bad.stderr
    schema = subprocess.run(
        [*argv, "schema", "datamap"], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(schema.stdout)["title"] == "DataMap"


# -- never a traceback ------------------------------------------------------------------------------


def _this_checkout() -> list[str]:
    """``python -m privacy_kit`` running the code under test (not whatever is installed)."""
    return [sys.executable, "-m", "privacy_kit"]


def _env() -> dict[str, str]:
    src = str(Path(pk.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def test_a_closed_pipe_exits_141_without_a_traceback() -> None:
    # The reader goes away before a byte is read: every write fails with EPIPE.
    proc = subprocess.Popen(
        [*_this_checkout(), "validate"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert err == ""


@pytest.mark.skipif(shutil.which("head") is None, reason="needs head(1)")
def test_validate_piped_into_head_prints_one_line_and_no_traceback() -> None:
    command = " ".join([*_this_checkout(), "validate"])
    result = subprocess.run(
        ["sh", "-c", f"{command} | head -1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=_env(),
    )
    assert result.returncode == 0
    assert result.stdout.startswith("(no policy given: checking the built-in example")
    assert result.stdout.count("\n") == 1
    assert result.stderr == ""


def test_a_refused_operation_is_one_line_on_stderr_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(["demo", "--customers", "0", "--plain", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert err.startswith("privacy-kit: ConfigurationError: customers must be >= 1")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_any_privacy_kit_error_is_reported_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object, out: object) -> int:
        raise pk.SchemaMismatchError(
            "the store does not match the data map:\n  users: no column 'email'",
            adapter="SQLiteAdapter",
            operation="verify",
        )

    monkeypatch.setattr("privacy_kit.cli._main._cmd_schema", broken)
    code, _, err = _run(["schema", "policy"], capsys)
    assert code == 2
    assert err == (
        "privacy-kit: SchemaMismatchError: SQLiteAdapter: verify failed: the store does not "
        "match the data map: users: no column 'email'\n"
    )


def test_an_unwritable_output_is_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "such" / "folder" / "notice.md"
    code, _, err = _run(["render", "-o", str(target)], capsys)
    assert code == 2
    assert err == f"privacy-kit: {target}: No such file or directory\n"
