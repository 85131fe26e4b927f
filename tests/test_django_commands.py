"""The management commands, the settings and the admin action, end to end in the test project.

A lending library (``tests/django_project``): members, their loans and their late-return fees,
on SQLite and on PostgreSQL. The commands run through ``call_command`` (and once through
``manage.py`` in a subprocess) against the project's migrated tables.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "django", reason="Django is not installed (extra [django]): the Django integration is untested"
)

import django_setup
import privacy_kit as pk

UTC = dt.UTC
NOW = "2026-06-01T00:00:00+00:00"
PROJECT = Path(__file__).resolve().parent / "django_project"


@pytest.fixture(params=[django_setup.SQLITE, django_setup.POSTGRES], ids=["sqlite", "postgres"])
def alias(request: pytest.FixtureRequest) -> str:
    if request.param == django_setup.POSTGRES:
        request.applymarker(pytest.mark.postgres)
    return django_setup.database(request.param)


@pytest.fixture
def project(alias: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The library's data on ``alias``, and PRIVACY_KIT pointing at it with a fresh state store."""
    from django.conf import settings
    from django.test import override_settings

    from django_project.lending.models import Fine, Loan, Member

    members = Member.objects.using(alias)
    ann = members.create(
        full_name="Ann", email="ann@example.com", card_number="C-1",
        joined_at=dt.datetime(2020, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    bo = members.create(
        full_name="Bo", email="bo@example.com", card_number="C-2",
        joined_at=dt.datetime(2021, 1, 1, tzinfo=UTC), closed_at=dt.datetime(2025, 12, 1, tzinfo=UTC),
    )  # fmt: skip
    cy = members.create(
        full_name="Cy", email=None, card_number="C-3",
        joined_at=dt.datetime(2022, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    loans = Loan.objects.using(alias)
    old = loans.create(
        member=ann, book_title="Emma", borrowed_at=dt.datetime(2024, 1, 10, tzinfo=UTC)
    )
    recent = loans.create(
        member=ann, book_title="Dune", borrowed_at=dt.datetime(2026, 3, 1, tzinfo=UTC)
    )
    bos = loans.create(
        member=bo, book_title="Ulysses", borrowed_at=dt.datetime(2025, 1, 5, tzinfo=UTC)
    )
    cys = loans.create(
        member=cy, book_title="Beloved", borrowed_at=dt.datetime(2026, 5, 1, tzinfo=UTC)
    )
    fines = Fine.objects.using(alias)
    ann_fine = fines.create(
        member_id=ann.pk, amount_cents=150, issued_at=dt.datetime(2024, 2, 1, tzinfo=UTC)
    )
    bo_fine = fines.create(
        member_id=bo.pk, amount_cents=90, issued_at=dt.datetime(2019, 1, 1, tzinfo=UTC)
    )
    config = {**settings.PRIVACY_KIT, "DATABASE": alias, "STATE": str(tmp_path / "state.db")}
    with override_settings(PRIVACY_KIT=config):
        yield {
            "alias": alias, "ann": ann, "bo": bo, "cy": cy,
            "loans": {"old": old.pk, "recent": recent.pk, "bo": bos.pk, "cy": cys.pk},
            "fines": {"ann": ann_fine.pk, "bo": bo_fine.pk}, "tmp": tmp_path,
        }  # fmt: skip
    for model in (Loan, Fine, Member):
        model.objects.using(alias).all().delete()


def run(*args: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def ids(alias: str, model: str) -> set[int]:
    from django_project.lending import models

    return set(getattr(models, model).objects.using(alias).values_list("pk", flat=True))


def test_check_passes_on_the_migrated_project(project: dict[str, Any]) -> None:
    out = run("privacy_kit_check")
    assert "3 record type(s)" in out
    assert "0 error(s), 0 warning(s)" in out
    assert "0 problem(s)" in out
    document = json.loads(run("privacy_kit_check", "--json"))
    assert document == {"ok": True, "findings": [], "store": []}


def test_check_reports_a_data_map_the_models_do_not_match(
    project: dict[str, Any], tmp_path: Path
) -> None:
    from django.conf import settings
    from django.core.management.base import CommandError
    from django.test import override_settings

    text = (PROJECT / "privacy" / "datamap.yaml").read_text()
    broken = tmp_path / "datamap.yaml"
    broken.write_text(text.replace("name: card_number", "name: library_card"))
    from django.core.management import call_command

    out = io.StringIO()
    with (
        override_settings(PRIVACY_KIT={**settings.PRIVACY_KIT, "DATAMAP": broken}),
        pytest.raises(CommandError, match="1 error") as info,
    ):
        call_command("privacy_kit_check", stdout=out)
    assert info.value.returncode == 1
    assert "record_types[0].fields[3]" in out.getvalue()
    assert "'library_card'" in out.getvalue()


def test_sweep_dry_run_changes_nothing_then_the_sweep_deletes_what_expired(
    project: dict[str, Any],
) -> None:
    alias, loans, fines = project["alias"], project["loans"], project["fines"]
    before = {m: ids(alias, m) for m in ("Member", "Loan", "Fine")}
    out = run("privacy_kit_sweep", "--now", NOW, "--dry-run")
    assert "Retention plan as of 2026-06-01T00:00:00+00:00" in out
    assert "dry run: nothing changed (4 record(s) planned)" in out
    assert {m: ids(alias, m) for m in ("Member", "Loan", "Fine")} == before

    out = run("privacy_kit_sweep", "--now", NOW)
    # Loans older than a year (Ann's old one, Bo's), Bo's card (closed), Bo's 2019 fee.
    assert ids(alias, "Loan") == {loans["recent"], loans["cy"]}
    assert ids(alias, "Member") == {project["ann"].pk, project["cy"].pk}
    assert ids(alias, "Fine") == {fines["ann"]}
    assert "changed 4 record(s)" in out
    # Nothing is left to do: a second sweep deletes nothing.
    run("privacy_kit_sweep", "--now", NOW)
    assert ids(alias, "Loan") == {loans["recent"], loans["cy"]}


def test_export_writes_the_members_bundle(project: dict[str, Any]) -> None:
    out_file = project["tmp"] / "ann.zip"
    out = run(
        "privacy_kit_export", "customer", f"member_id={project['ann'].pk}",
        "--out", str(out_file), "--now", NOW,
    )  # fmt: skip
    assert "exported 4 record(s) about customer" in out
    with zipfile.ZipFile(out_file) as bundle:
        names = bundle.namelist()
        loans = json.loads(bundle.read(next(n for n in names if n.endswith("loans.json"))))
    assert sorted(r["book_title"] for r in loans) == ["Dune", "Emma"]
    assert "Beloved" not in json.dumps(loans)  # Cy's loan is not Ann's

    # By e-mail, which the data map normalises to lower case.
    out = run(
        "privacy_kit_export", "customer", "email=ANN@example.com",
        "--out", str(project["tmp"] / "by-email"), "--format", "folder", "--now", NOW,
    )  # fmt: skip
    assert "exported 4 record(s)" in out


def test_export_of_nobody_says_what_was_searched(project: dict[str, Any]) -> None:
    out = run(
        "privacy_kit_export", "customer", "member_id=999999",
        "--out", str(project["tmp"] / "nobody.zip"), "--now", NOW,
    )  # fmt: skip
    assert "exported 0 record(s)" in out
    assert "nothing is held about this subject; searched: " in out
    assert "loans" in out


def test_erase_dry_run_then_erase_keeps_the_fee_the_law_keeps(project: dict[str, Any]) -> None:
    alias, ann = project["alias"], project["ann"]
    subject = f"member_id={ann.pk}"
    before = {m: ids(alias, m) for m in ("Member", "Loan", "Fine")}
    out = run("privacy_kit_erase", "customer", subject, "--now", NOW, "--dry-run")
    assert "DELETE" in out
    assert "KEEP       fines" in out
    assert "dry run: nothing changed" in out
    assert {m: ids(alias, m) for m in ("Member", "Loan", "Fine")} == before

    out = run("privacy_kit_erase", "customer", subject, "--now", NOW)
    assert ann.pk not in ids(alias, "Member")
    assert ids(alias, "Loan") == {project["loans"]["bo"], project["loans"]["cy"]}
    assert project["fines"]["ann"] in ids(alias, "Fine")  # accounting law keeps it
    assert "deleted" in out


def test_bad_input_exits_2_with_one_line(project: dict[str, Any]) -> None:
    from django.core.management.base import CommandError

    cases = [
        (("privacy_kit_sweep", "--now", "2026-06-01"), "has no offset"),
        (("privacy_kit_sweep", "--now", "soon"), "not an ISO 8601 instant"),
        (("privacy_kit_export", "customer", "member_id", "--out", "x.zip"), "identity=value"),
        (("privacy_kit_export", "customer", "member_id=", "--out", "x.zip"), "empty value"),
        (
            ("privacy_kit_erase", "customer", "member_id=1", "member_id=2", "--now", NOW),
            "identities 'member_id=1 member_id=2': identity 'member_id' is given twice",
        ),
        (("privacy_kit_erase", "visitor", "member_id=1", "--now", NOW), "SubjectError"),
        (
            ("privacy_kit_erase", "customer", "card=1", "--now", NOW),
            "identities 'card=1': .*'card'",
        ),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message) as info:
            run(*args)
        assert info.value.returncode == 2, args


def test_settings_errors_name_the_key(project: dict[str, Any]) -> None:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    from privacy_kit.contrib.django import PrivacyKitSettingsError, get_engine

    base = dict(settings.PRIVACY_KIT)
    cases = [
        ({**base, "POLICIES": "x"}, r"unknown key\(s\) 'POLICIES'"),
        ({k: v for k, v in base.items() if k != "POLICY"}, r"PRIVACY_KIT\['POLICY'\]"),
        ({**base, "STATE": None}, "needs 'STATE'"),
        ({**base, "STATE": 3}, r"PRIVACY_KIT\['STATE'\] must be"),
        ({**base, "DATABASE": "other"}, r"PRIVACY_KIT\['DATABASE'\]"),
        ({**base, "SECRET": 12}, r"PRIVACY_KIT\['SECRET'\]"),
        (None, "settings.PRIVACY_KIT is not set"),
    ]
    for config, message in cases:
        with override_settings(PRIVACY_KIT=config):
            with pytest.raises(PrivacyKitSettingsError, match=message) as info:
                get_engine()
            assert isinstance(info.value, ImproperlyConfigured)
            assert isinstance(info.value, pk.ConfigurationError)


def test_the_engine_is_built_once_and_rebuilt_when_the_setting_changes(
    project: dict[str, Any],
) -> None:
    from django.conf import settings
    from django.test import override_settings

    from privacy_kit.contrib.django import get_engine

    engine = get_engine()
    assert get_engine() is engine
    assert [a.name for a in engine.adapters.values()] == [f"django:{project['alias']}"]
    secret = "s" * 32
    with override_settings(PRIVACY_KIT={**settings.PRIVACY_KIT, "STATE": None, "SECRET": secret}):
        other = get_engine()
        assert other is not engine
        assert other.secret == secret.encode()
    assert get_engine() is not other


def test_admin_action_downloads_the_selected_members_export(project: dict[str, Any]) -> None:
    from django.contrib import admin
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.test import RequestFactory

    from django_project.lending.models import Member

    model_admin = admin.site._registry[Member]
    [action] = model_admin.actions
    request = RequestFactory().post("/admin/lending/member/")
    request._messages = CookieStorage(request)
    members = Member.objects.using(project["alias"])

    response = action(model_admin, request, members.filter(pk=project["ann"].pk))
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="personal-data-')
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        assert any(n.endswith("loans.json") for n in bundle.namelist())

    assert action(model_admin, request, members.all()) is None
    assert [str(m) for m in request._messages._queued_messages] == [
        "Select exactly one person to export."
    ]


def test_manage_py_runs_the_commands(project: dict[str, Any]) -> None:
    """The real command line, in a process of its own (SQLite only: the PostgreSQL database
    name is this process's)."""
    if project["alias"] != django_setup.SQLITE:
        pytest.skip("the subprocess uses the SQLite settings")
    src = str(Path(pk.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src, "DJANGO_SETTINGS_MODULE": "django_project.settings"}
    result = subprocess.run(
        [sys.executable, str(PROJECT / "manage.py"), "privacy_kit_sweep", "--now", NOW, "--dry-run"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "dry run: nothing changed (4 record(s) planned)" in result.stdout
    result = subprocess.run(
        [sys.executable, str(PROJECT / "manage.py"), "privacy_kit_sweep", "--now", "2026-06-01"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "has no offset" in result.stderr
