"""``privacy-kit sweep``, ``export`` and ``erase`` end to end on SQLite files (and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from conftest import create_database
from privacy_kit import example_path, load_datamap, load_policy
from privacy_kit.adapters import All, SQLiteAdapter
from privacy_kit.cli import generate, main

NOW = "2027-01-01T00:00:00+00:00"
POLICY = str(example_path("policy.yaml"))
DATAMAP = str(example_path("datamap.yaml"))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A sample database of the example (made once; each test works on a copy)."""
    path = tmp_path_factory.mktemp("cli-store") / "template.sqlite"
    datamap = load_datamap(DATAMAP, policy=load_policy(POLICY))
    db = SQLiteAdapter(path)
    db.create_schema(datamap)
    summary = generate(db, datamap, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), customers=8, seed=7)
    assert summary.closed_ids  # the sweep has accounts to act on
    db.close()
    return path, summary


@pytest.fixture
def database(template: tuple[Path, Any], tmp_path: Path) -> Path:
    target = tmp_path / "app.sqlite"
    target.write_bytes(template[0].read_bytes())
    return target


def counts(path: Path) -> dict[str, int]:
    datamap = load_datamap(DATAMAP)
    with sqlite3.connect(path) as conn:
        return {
            rt.name: conn.execute(f'SELECT COUNT(*) FROM "{rt.table_name}"').fetchone()[0]
            for rt in datamap.record_types
        }


def dump(path: Path) -> list[Any]:
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out)
    return code, out.getvalue()


def base(command: str, db: Path | str, *extra: str) -> list[str]:
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    return [command, "--policy", POLICY, "--datamap", DATAMAP, "--db", url, *extra]


def test_sweep_dry_run_changes_nothing(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = dump(database)
    code, text = run(*base("sweep", database, "--now", NOW, "--dry-run"))
    assert code == 0
    assert text.startswith(f"Retention plan as of {NOW}")
    assert "dry run: nothing changed" in text
    assert dump(database) == before
    assert "warning: no --state" in capsys.readouterr().err


def test_sweep_deletes_exactly_what_the_plan_said(database: Path, tmp_path: Path) -> None:
    before = counts(database)
    code, text = run(*base("sweep", database, "--now", NOW, "--dry-run", "--json"))
    assert code == 0
    planned = json.loads(text)
    assert planned["dry_run"] is True
    assert planned["report"] is None
    deletes: dict[str, int] = {}
    for row in planned["plan"]["entries"]:
        if row["action"] == "delete":
            deletes[row["record_type"]] = deletes.get(row["record_type"], 0) + row["count"]
    assert sum(deletes.values()) > 0

    audit = tmp_path / "audit.jsonl"
    code, text = run(*base("sweep", database, "--now", NOW, "--json", "--audit", str(audit)))
    assert code == 0
    applied = json.loads(text)
    assert applied["plan"]["entries"] == planned["plan"]["entries"]
    assert applied["report"]["total"] == planned["plan"]["total"]
    after = counts(database)
    assert {rt: before[rt] - after[rt] for rt in before} == {
        rt: deletes.get(rt, 0) for rt in before
    }
    actions = [json.loads(line)["action"] for line in audit.read_text().splitlines()]
    assert actions
    assert any("retention" in a for a in actions)


def test_export_writes_a_zip_whose_manifest_counts_match(
    database: Path, template: tuple[Path, Any], tmp_path: Path
) -> None:
    email = template[1].invitee_emails[0]
    target = tmp_path / "bundle.zip"
    code, text = run(
        *base("export", database, "--subject", f"end_user:email={email}", "--now", NOW),
        "--out",
        str(target),
        "--json",
    )
    assert code == 0
    document = json.loads(text)
    assert document["total"] > 0
    assert document["path"] == str(target)
    with zipfile.ZipFile(target) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
        assert sorted(bundle.namelist()) == sorted(document["files"])
    assert manifest["total_records"] == document["total"]
    assert manifest["subject"]["reference"] == document["subject_reference"]
    per_type = {e["name"]: e["count"] for e in manifest["record_types"]}
    assert per_type == document["counts"]


def test_export_of_nobody_exits_1_and_says_where_it_searched(
    database: Path, tmp_path: Path
) -> None:
    code, text = run(
        *base("export", database, "--subject", "end_user:email=nobody@example.org", "--now", NOW),
        "--out",
        str(tmp_path / "empty.zip"),
    )
    assert code == 1
    assert "exported 0 record(s)" in text
    assert "problem: nothing is held about this subject; searched: bookings (invitee)" in text


def test_erase_dry_run_then_for_real(
    database: Path, template: tuple[Path, Any], tmp_path: Path
) -> None:
    summary = template[1]
    closed = set(summary.closed_ids) | set(summary.deactivated_ids)
    user_id = next(i for i in summary.customer_ids if i not in closed)
    args = base("erase", database, "--subject", f"customer:user_id={user_id}", "--now", NOW)
    secret = tmp_path / "secret"
    secret.write_text("a-long-enough-secret-for-tests\n")
    args += ["--secret-file", str(secret)]
    before, snapshot = counts(database), dump(database)

    code, text = run(*args, "--dry-run", "--json")
    assert code == 0
    plan = json.loads(text)
    assert plan["dry_run"] is True
    assert plan["report"] is None
    assert plan["plan"]["deleted"]["bookings"] > 0
    assert dump(database) == snapshot

    code, text = run(*args)
    assert code == 0
    assert "dry run" not in text
    after = counts(database)
    for record_type, n in plan["plan"]["deleted"].items():
        assert before[record_type] - after[record_type] == n
    # the same secret: the same reference in the plan and in a second dry run
    code, text = run(*args, "--dry-run", "--json")
    again = json.loads(text)
    assert again["plan"]["subject_reference"] == plan["plan"]["subject_reference"]
    assert code == 0
    assert not any(again["plan"]["deleted"].values())


def test_shared_state_store_silences_the_warning(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = f"sqlite:///{tmp_path / 'state.db'}"
    code, text = run(
        *base("sweep", database, "--now", NOW, "--dry-run", "--state", state, "--json")
    )
    assert code == 0
    assert json.loads(text)["warnings"] == []
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--now", "2027-01-01T00:00:00"], 2, "--now must be a timezone-aware datetime"),
        (["--now", "next tuesday"], 64, "invalid instant 'next tuesday'"),
        ([], 64, "the following arguments are required: --now"),
    ],
)
def test_now_is_required_and_aware(
    database: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    code: int,
    message: str,
) -> None:
    before = dump(database)
    with pytest.raises(SystemExit) if code == 64 else _nothing() as raised:
        result = main(base("sweep", database, *extra))
    assert (raised.value.code if code == 64 else result) == code
    assert message in capsys.readouterr().err
    assert dump(database) == before


class _nothing:  # noqa: N801 - reads like pytest.raises in the test above
    value: Any = None

    def __enter__(self) -> _nothing:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize(
    "subject",
    [
        "customer",
        "customer:",
        "customer:user_id",
        "customer:a=1,a=2",
        ":email=x",
        "customer:email=",
    ],
)
def test_a_malformed_subject_is_bad_input(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], subject: str
) -> None:
    args = base("erase", database, "--subject", subject, "--now", NOW)
    assert main(args) == 2
    assert "expected kind:identity=value" in capsys.readouterr().err


def test_an_unknown_identity_is_refused_naming_the_argument_before_anything_is_read(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.zip"
    args = base("export", database, "--subject", "customer:mail=x", "--now", NOW, "--out", str(out))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--subject 'customer:mail=x': a customer has no identity 'mail'" in err
    assert "did you mean 'email'" in err
    assert not out.exists()


def test_a_missing_sqlite_file_is_refused_and_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.sqlite"
    assert main(base("sweep", missing, "--now", NOW)) == 2
    assert "no such database file" in capsys.readouterr().err
    assert not missing.exists()


def test_a_server_url_without_sqlalchemy_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    assert main(base("sweep", "postgresql://db/app", "--now", NOW)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "needs SQLAlchemy: pip install 'privacy-kit[sqlalchemy]'" in err


def test_a_short_secret_file_is_refused(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("short")
    assert main(base("sweep", database, "--now", NOW, "--secret-file", str(secret))) == 2
    assert "at least 16 bytes" in capsys.readouterr().err


@pytest.mark.postgres
def test_sweep_and_erase_on_postgresql(postgres_engine: Any, template: tuple[Path, Any]) -> None:
    import sqlalchemy as sa

    name = f"pk_cli_{uuid.uuid4().hex[:12]}"  # a database of its own: sessions share the server
    server = postgres_engine.execution_options(isolation_level="AUTOCOMMIT")
    create_database(server, name)
    url = postgres_engine.url.set(database=name).render_as_string(hide_password=False)
    try:
        from privacy_kit.adapters import SQLAlchemyAdapter

        datamap = load_datamap(DATAMAP)
        pg = SQLAlchemyAdapter(url)
        pg.create_schema(datamap)
        summary = generate(
            pg, datamap, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), customers=8, seed=7
        )
        code, text = run(*base("sweep", url, "--now", NOW, "--dry-run", "--json"))
        assert code == 0
        planned = json.loads(text)["plan"]["total"]
        assert planned > 0
        code, text = run(*base("sweep", url, "--now", NOW, "--json"))
        assert code == 0
        assert json.loads(text)["report"]["total"] == planned
        user_id = summary.customer_ids[0]
        code, text = run(
            *base("erase", url, "--subject", f"customer:user_id={user_id}", "--now", NOW, "--json")
        )
        assert json.loads(text)["report"] is not None
        users = datamap.record_type("users")
        deleted = json.loads(text)["report"]["deleted"].get("users", 0)
        assert pg.count(users, All()) == len(summary.customer_ids) - deleted
        pg.close()
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_erase_of_nobody_exits_1_and_changes_nothing(database: Path) -> None:
    before = dump(database)
    code, text = run(
        *base("erase", database, "--subject", "customer:user_id=999999", "--now", NOW, "--json")
    )
    assert code == 1
    document = json.loads(text)
    assert document["ok"] is False
    assert document["problems"][0].startswith("nothing is held about this subject; searched: ")
    assert dump(database) == before


@pytest.mark.parametrize(
    ("command", "again"), [("sweep", "sweep"), ("erase", "erasure")], ids=["sweep", "erase"]
)
def test_a_store_failure_while_applying_is_partial_exit_1(
    database: Path,
    template: tuple[Path, Any],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    again: str,
) -> None:
    from privacy_kit import AdapterError, Engine

    def failing(self: Any, plan: Any, **kwargs: Any) -> Any:
        raise AdapterError("disk I/O error", adapter="SQLiteAdapter", operation="delete")

    monkeypatch.setattr(Engine, "apply", failing)
    extra = ["--now", NOW]
    if command == "erase":
        extra += ["--subject", f"customer:user_id={template[1].customer_ids[0]}"]
    code, text = run(*base(command, database, *extra, "--json"))
    assert code == 1
    document = json.loads(text)
    assert document["report"] is None
    assert document["ok"] is False
    assert document["dry_run"] is False
    assert document["problems"][-1].startswith("stopped: AdapterError: ")
    assert document["problems"][-1].endswith(f"(run the {again} again to resume)")
    code, text = run(*base(command, database, *extra, "--plain"))
    assert code == 1
    last = text.splitlines()[-1]
    assert last.startswith("problem: stopped: AdapterError: ")
    assert last.endswith(f"(run the {again} again to resume)")
    assert "dry run" not in text


# == progress, colour and language ===================================================================
class _Terminal(io.StringIO):
    """A stream that says it is a terminal (as sys.stdout is in an interactive shell)."""

    def isatty(self) -> bool:
        return True


def test_piped_each_step_is_one_line_on_stderr_with_what_it_counted(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = run(*base("sweep", database, "--now", NOW, "--json"))
    assert code == 0
    document = json.loads(text)
    steps = [ln for ln in capsys.readouterr().err.splitlines() if ": warning: " not in ln]
    assert [line.split(": ")[1] for line in steps] == [
        "[1/3] Open the database",
        "[2/3] Plan the sweep",
        "[3/3] Apply the plan",
    ]
    assert all(line.startswith("privacy-kit sweep: ") for line in steps)
    assert f"{document['plan']['total']} record(s) in " in steps[1]
    assert f": {document['report']['total']} record(s) done (" in steps[2]
    code, _ = run(*base("erase", database, "--subject", "customer:user_id=1", "--now", NOW,
                        "--dry-run"))  # fmt: skip
    erase = [ln for ln in capsys.readouterr().err.splitlines() if ": warning: " not in ln]
    assert [line.split(": ")[1] for line in erase] == [
        "[1/2] Open the database",
        "[2/2] Plan the erasure",
    ]


def test_piped_results_are_plain_and_on_a_terminal_problems_are_red(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("rich", reason="colour and the live bar need the [cli] extra (rich)")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    args = base("export", database, "--subject", "end_user:email=nobody@example.org", "--now", NOW)
    piped = io.StringIO()
    assert main([*args, "--out", str(tmp_path / "piped.zip")], out=piped) == 1
    assert "\x1b[" not in piped.getvalue()
    assert "problem: nothing is held about this subject" in piped.getvalue()

    terminal, err = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert main([*args, "--out", str(tmp_path / "terminal.zip")], out=terminal) == 1
    shown = terminal.getvalue()
    assert "\x1b[1;31mproblem: nothing is held about this subject" in shown
    # The bar is drawn and cleared on stderr: no step is left as a plain line.
    assert "[1/2] Open the database" not in err.getvalue()
    assert "\x1b[33mprivacy-kit export: warning: no --state" in err.getvalue()

    plain, err = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert main([*args, "--out", str(tmp_path / "plain.zip"), "--plain"], out=plain) == 1
    assert "\x1b[" not in plain.getvalue() + err.getvalue()
    assert "privacy-kit export: [1/2] Open the database: " in err.getvalue()


def test_export_lang_is_the_bundles_language(
    database: Path, template: tuple[Path, Any], tmp_path: Path
) -> None:
    email = template[1].invitee_emails[0]
    target = tmp_path / "bundle.zip"
    args = base("export", database, "--subject", f"end_user:email={email}", "--now", NOW)
    code, text = run(*args, "--out", str(target), "--lang", "AR", "--json")
    assert code == 0
    assert json.loads(text)["lang"] == "ar"
    with zipfile.ZipFile(target) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
        summary = bundle.read("summary.html").decode()
    policy = load_policy(POLICY)
    assert manifest["policy"]["title"] == policy.title.get_text("ar")
    # the names the summary lists are Arabic (the policy's, else the taxonomy's), and so are
    # its fixed phrases, right to left
    assert "البريد الإلكتروني" in summary
    assert '<html lang="ar" dir="rtl">' in summary
    assert "بياناتك لدى" in summary
    assert manifest["lang"] == "ar"
    # A language with no phrase table: English fixed text, and a warning that says so.
    code, text = run(*args, "--out", str(tmp_path / "fr.zip"), "--lang", "fr", "--json")
    assert code == 0
    assert any("no phrase table for 'fr'" in w for w in json.loads(text)["warnings"])


def test_an_invalid_lang_is_bad_input(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = base("export", database, "--subject", "end_user:email=a@example.org", "--now", NOW)
    assert main([*args, "--out", str(tmp_path / "x.zip"), "--lang", "not a tag"]) == 2
    assert "--lang: invalid language tag 'not a tag'" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()
