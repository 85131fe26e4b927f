"""The Django ORM adapter passes privacy_kit.testing's conformance kit, on SQLite and PostgreSQL.

Each conformance test gets models made for its data map (in a registry of their own, so nothing
is added to the project's apps), their tables created with Django's schema editor and dropped
afterwards. The other tests use the test project's ``lending`` models.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "django", reason="Django is not installed (extra [django]): the Django integration is untested"
)

import django_setup
import privacy_kit as pk
from privacy_kit.adapters import Capability, Record, Related, where
from privacy_kit.model import ForeignKey
from privacy_kit.model._datamap import DataMap
from privacy_kit.testing import AdapterConformance, AdapterFactory

UTC = dt.UTC
DATAMAP = Path(__file__).resolve().parent / "django_project" / "privacy" / "datamap.yaml"
_counter = itertools.count()


@pytest.fixture(params=[django_setup.SQLITE, django_setup.POSTGRES], ids=["sqlite", "postgres"])
def alias(request: pytest.FixtureRequest) -> str:
    if request.param == django_setup.POSTGRES:
        request.applymarker(pytest.mark.postgres)
    return django_setup.database(request.param)


def _model_for(rt: Any, registry: Any) -> Any:
    from django.db import models

    kinds = {
        "text": models.TextField,
        "integer": models.BigIntegerField,
        "real": models.FloatField,
        "boolean": models.BooleanField,
        "timestamp": models.DateTimeField,
        "date": models.DateField,
        "json": models.JSONField,
    }
    meta = type("Meta", (), {"db_table": rt.table_name, "apps": registry, "app_label": "pkc"})
    body: dict[str, Any] = {"__module__": __name__, "Meta": meta}
    for field in rt.fields:
        if field.name == rt.primary_key:
            body[field.name] = kinds[field.type](primary_key=True)
        else:
            body[field.name] = kinds[field.type](null=True)
    return type(f"Conformance{next(_counter)}", (models.Model,), body)


def _django_factory(alias: str) -> Iterator[AdapterFactory]:
    from django.apps.registry import Apps
    from django.db import connections

    from privacy_kit.contrib.django import DjangoAdapter

    made: list[Any] = []

    def factory(datamap: DataMap, records: Mapping[str, Sequence[Record]]) -> DjangoAdapter:
        registry = Apps(installed_apps=())
        models = [_model_for(rt, registry) for rt in datamap.record_types]
        with connections[alias].schema_editor() as editor:
            for model in models:
                editor.create_model(model)
                made.append(model)
        for rt, model in zip(datamap.record_types, models, strict=True):
            rows = records.get(rt.name, ())
            model.objects.using(alias).bulk_create([model(**row) for row in rows])
        return DjangoAdapter(models, using=alias)

    yield factory
    with connections[alias].schema_editor() as editor:
        for model in made:
            editor.delete_model(model)


class TestDjangoConformance(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, alias: str) -> Iterator[AdapterFactory]:
        yield from _django_factory(alias)


# -- the lending models ----------------------------------------------------------------------


@pytest.fixture
def library(alias: str) -> Iterator[dict[str, Any]]:
    from django_project.lending.models import Fine, Loan, Member
    from privacy_kit.contrib.django import DjangoAdapter

    ann = Member.objects.using(alias).create(
        full_name="Ann", email="ann@example.com", card_number="C1",
        joined_at=dt.datetime(2020, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    Loan.objects.using(alias).create(
        member=ann, book_title="Moby-Dick", borrowed_at=dt.datetime(2024, 1, 1, tzinfo=UTC)
    )
    Fine.objects.using(alias).create(
        member_id=ann.pk, amount_cents=150, issued_at=dt.datetime(2024, 2, 1, tzinfo=UTC)
    )
    datamap = pk.load_datamap(DATAMAP)
    yield {"ann": ann, "datamap": datamap, "adapter": DjangoAdapter(using=alias)}
    for model in (Loan, Fine, Member):
        model.objects.using(alias).all().delete()


def test_record_types_find_their_models_by_table(library: dict[str, Any]) -> None:
    from django_project.lending.models import Loan, Member

    adapter, datamap = library["adapter"], library["datamap"]
    assert adapter.verify(datamap) == []
    assert adapter.model_for(datamap.record_type("members")) is Member
    assert adapter.model_for(datamap.record_type("loans")) is Loan
    # ``member_id`` is the column of ``Loan.member`` (a ForeignKey).
    loans = datamap.record_type("loans")
    [[loan]] = adapter.iter_records(loans, where.eq("member_id", library["ann"].pk))
    assert loan["member_id"] == library["ann"].pk
    assert loan["borrowed_at"] == dt.datetime(2024, 1, 1, tzinfo=UTC)


def test_a_table_goes_to_its_concrete_managed_model(library: dict[str, Any]) -> None:
    from django.apps.registry import Apps
    from django.db import models

    from django_project.lending.models import Member

    registry = Apps(installed_apps=())
    proxy = type(
        "MemberProxy",
        (Member,),
        {
            "__module__": __name__,
            "Meta": type("Meta", (), {"proxy": True, "apps": registry, "app_label": "views"}),
        },
    )
    unmanaged = type(
        "MemberView",
        (models.Model,),
        {
            "__module__": __name__,
            "Meta": type(
                "Meta",
                (),
                {"managed": False, "db_table": "lending_member", "apps": registry,
                 "app_label": "views"},
            ),
        },
    )  # fmt: skip
    from privacy_kit.contrib.django import DjangoAdapter

    members = library["datamap"].record_type("members")
    adapter = DjangoAdapter([proxy, unmanaged, Member], using=library["adapter"].using)
    assert adapter.model_for(members) is Member
    assert DjangoAdapter([unmanaged], using=adapter.using).model_for(members) is unmanaged


def test_foreign_keys_come_from_the_models(library: dict[str, Any]) -> None:
    adapter, datamap = library["adapter"], library["datamap"]
    assert Capability.FOREIGN_KEYS in adapter.capabilities
    assert adapter.foreign_keys(datamap.record_types) == (
        ForeignKey("loans", "members", ("member_id",), ("id",)),
    )


def test_a_delete_never_cascades(library: dict[str, Any]) -> None:
    """Django would delete Ann's loans with her (on_delete=CASCADE); the adapter deletes only what
    it was asked to, so the database refuses and everything stays."""
    from django_project.lending.models import Loan, Member

    adapter, datamap, ann = library["adapter"], library["datamap"], library["ann"]
    members = datamap.record_type("members")
    with pytest.raises(pk.AdapterError) as info:
        adapter.delete(members, where.eq("id", ann.pk))
    assert info.value.operation == "delete"
    assert info.value.record_type == "members"
    assert Member.objects.using(adapter.using).filter(pk=ann.pk).exists()
    assert Loan.objects.using(adapter.using).filter(member_id=ann.pk).count() == 1


def test_an_explicit_mapping_and_its_errors(alias: str) -> None:
    from django.db import connections

    from privacy_kit.contrib.django import DjangoAdapter

    datamap = pk.load_datamap(DATAMAP)
    renamed = pk.RecordType(
        name="members", table="people", store="main", fields=[{"name": "id", "type": "integer"}]
    )
    adapter = DjangoAdapter({"members": "lending.Member"}, using=alias)
    assert adapter.model_for(renamed).__name__ == "Member"
    with pytest.raises(pk.ConfigurationError, match=r"no installed model 'lending\.Nope'"):
        DjangoAdapter({"members": "lending.Nope"}, using=alias)
    with pytest.raises(pk.ConfigurationError, match="no database 'nope'"):
        DjangoAdapter(using="nope")
    # A model whose table was never migrated is named, with the fix.
    with connections[alias].schema_editor() as editor:
        from django_project.lending.models import Fine

        editor.delete_model(Fine)
    try:
        problems = DjangoAdapter(using=alias).verify(datamap)
    finally:
        with connections[alias].schema_editor() as editor:
            editor.create_model(Fine)
    assert [p.location for p in problems] == ["record_types[2]"]
    assert "lending.Fine" in problems[0].message
    assert "run migrate" in problems[0].message


def test_related_compiles_to_a_sub_query_run_with_the_statement(library: dict[str, Any]) -> None:
    """The re-check of a sweep: which loans belong to a closed member is read by the DELETE."""
    from django_project.lending.models import Member

    adapter, datamap, ann = library["adapter"], library["datamap"], library["ann"]
    members, loans = datamap.record_type("members"), datamap.record_type("loans")
    closed = Related("member_id", members, "id", where.not_null("closed_at"))
    assert adapter.count(loans, closed) == 0
    Member.objects.using(adapter.using).filter(pk=ann.pk).update(
        closed_at=dt.datetime(2025, 1, 1, tzinfo=UTC)
    )
    assert adapter.count(loans, closed) == 1
    assert adapter.delete(loans, closed) == 1


def test_uses_no_timezone_naive_settings() -> None:
    django_setup.setup()
    from django.test import override_settings

    from privacy_kit.contrib.django import DjangoAdapter

    with (
        override_settings(USE_TZ=False),
        pytest.raises(pk.ConfigurationError, match="USE_TZ = True"),
    ):
        DjangoAdapter()


def test_importing_privacy_kit_does_not_import_django() -> None:
    import subprocess
    import sys

    code = (
        "import sys, privacy_kit, privacy_kit.contrib.django as d; "
        "assert 'django' not in sys.modules, 'imported'; d.__all__; "
        "assert 'django' not in sys.modules, 'package'; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr
