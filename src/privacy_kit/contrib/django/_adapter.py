"""A storage adapter over Django ORM models: the data map's record types bound to models.

Each record type is served by one model: the one named for it in ``models=`` (by record type
name), else the model whose ``db_table`` is the record type's table. A data-map field is the
model field whose column, ``attname`` or name it is (so ``author_id`` finds ``author =
ForeignKey(...)``). Selections compile to ``Q`` objects in SQL's three-valued logic
(:mod:`._compile`); reads page through the primary key; deletes and updates are set-based
statements run by the database, each in a transaction (``transaction.atomic``).

Deletes are the database's own ``DELETE ... WHERE <selection>`` (Django's ``_raw_delete``, the
statement its collector uses when nothing cascades): no ORM cascade and no ``pre_delete`` /
``post_delete`` signals, because a cascade would delete records the plan never named. Records
another model still references make the database refuse the statement (Django creates its
foreign keys in the database); privacy_kit deletes children first, in the order of the data map
and of the models' foreign keys (:meth:`DjangoAdapter.foreign_keys`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import django.conf
from django.apps import apps as django_apps
from django.db import connections, transaction
from django.db.models import Count, Field, Model, Q, QuerySet

from ..._errors import ConfigurationError, Problem
from ...adapters import BaseAdapter, Capability, Record, RecordKey, Selection, missing_problems
from ...adapters._base import check_batch_size
from ...adapters._sql import COUNTS_PER_STATEMENT, comparable_values
from ...model._datamap import DataMap, RecordType
from ...model._order import ForeignKey
from ._compile import Condition, ModelInfo, compile_condition

__all__ = ["DjangoAdapter"]

ModelRef = type[Model] | str
"""A model class or its ``"app_label.ModelName"``."""

_KEYS_PER_STATEMENT = 500  # update_by_key: keys per transaction


def _model_class(ref: object) -> type[Model]:
    if isinstance(ref, str):
        try:
            model: type[Model] = django_apps.get_model(ref)
        except (LookupError, ValueError) as exc:
            raise ConfigurationError(f"DjangoAdapter: no installed model {ref!r}: {exc}") from exc
        return model
    if isinstance(ref, type) and issubclass(ref, Model):
        return ref
    raise ConfigurationError(
        f"DjangoAdapter: expected a model class or 'app_label.ModelName', got {ref!r}"
    )


class DjangoAdapter(BaseAdapter):
    """The Django ORM as a privacy_kit store.

    Args:
        models: which models serve the record types. ``None`` (default): every installed model,
            matched by ``db_table``. An iterable of models (or ``"app_label.Model"``): those,
            by ``db_table``. A mapping ``{record type name: model}``: those by name, any other
            record type by ``db_table`` among the installed models.
        using: the database alias (``django.conf.settings.DATABASES``) every statement runs on.
        name: shown in errors and reports (default ``django:<alias>``).
        store: the data-map store this adapter serves (``None``: any).

    Raises:
        ConfigurationError: ``USE_TZ`` is off (timestamps must be aware), the alias is unknown,
            or a model reference names no installed model.

    Example:
        >>> from privacy_kit.contrib.django import DjangoAdapter   # doctest: +SKIP
        >>> adapter = DjangoAdapter({"members": "lending.Member"}, using="default")  # doctest: +SKIP
    """

    capabilities = frozenset(
        {
            Capability.COUNT,
            Capability.TRANSACTIONS,
            Capability.RELATED,
            Capability.FOREIGN_KEYS,
            Capability.ATOMIC,
        }
    )

    def __init__(
        self,
        models: Mapping[str, ModelRef] | Iterable[ModelRef] | None = None,
        *,
        using: str = "default",
        name: str | None = None,
        store: str | None = None,
    ) -> None:
        super().__init__(name=name or f"django:{using}", store=store)
        if not django.conf.settings.USE_TZ:
            raise ConfigurationError(
                "DjangoAdapter needs USE_TZ = True: privacy_kit compares and returns timestamps "
                "as timezone-aware instants"
            )
        if using not in django.conf.settings.DATABASES:
            raise ConfigurationError(
                f"DjangoAdapter: no database {using!r} in django.conf.settings.DATABASES "
                f"(known: {', '.join(sorted(django.conf.settings.DATABASES))})"
            )
        self.using = using
        self._by_name: dict[str, type[Model]] = {}
        by_table: Iterable[ModelRef]
        if models is None:
            by_table = django_apps.get_models()
        elif isinstance(models, Mapping):
            self._by_name = {rt: _model_class(ref) for rt, ref in models.items()}
            by_table = django_apps.get_models()
        else:
            by_table = list(models)
        self._by_table: dict[str, type[Model]] = {}
        for ref in by_table:
            model = _model_class(ref)
            if model._meta.proxy:
                continue  # its concrete model serves the table
            known = self._by_table.get(model._meta.db_table)
            if known is None or (model._meta.managed and not known._meta.managed):
                self._by_table[model._meta.db_table] = model

    # -- models and fields ----------------------------------------------------------------------
    def atomic(self) -> transaction.Atomic:
        """The writes of the block in one transaction (``Capability.ATOMIC``):
        ``transaction.atomic(using=...)``, so each write's own block becomes a savepoint in it.

        Example:
            >>> with adapter.atomic():  # doctest: +SKIP
            ...     adapter.delete(bookings, where.eq("host_id", 7))
        """
        return transaction.atomic(using=self.using)

    def model_for(self, record_type: RecordType) -> type[Model] | None:
        """The model serving ``record_type`` (``None``: none is mapped or has its table).

        Example:
            >>> adapter.model_for(datamap.record_type("members"))   # doctest: +SKIP
            <class 'lending.models.Member'>
        """
        model = self._by_name.get(record_type.name)
        return model if model is not None else self._by_table.get(record_type.table_name)

    def _model(self, record_type: RecordType) -> type[Model]:
        model = self.model_for(record_type)
        if model is None:
            raise LookupError(
                f"no Django model serves record type {record_type.name!r} (table "
                f"{record_type.table_name!r}): give one in DjangoAdapter(models={{...}}) or set "
                "the model's Meta.db_table"
            )
        return model

    @staticmethod
    def _fields(model: type[Model]) -> dict[str, Field]:
        found: dict[str, Field] = {}
        for field in model._meta.concrete_fields:
            for key in (field.name, field.attname, field.column):
                found.setdefault(key, field)
        for field in model._meta.concrete_fields:  # the column wins over another field's name
            found[field.column] = field
        return found

    def _info(self, record_type: RecordType) -> ModelInfo:
        model = self._model(record_type)
        fields = self._fields(model)

        def attname(name: str) -> str:
            field = fields.get(name)
            if field is None:
                raise LookupError(
                    f"model {model._meta.label} has no field or column {name!r} "
                    f"(record type {record_type.name!r})"
                )
            return str(field.attname)

        return ModelInfo(record_type, model._base_manager.using(self.using).all(), attname)

    def _selected(self, info: ModelInfo, selection: Selection) -> QuerySet[Any]:
        condition = compile_condition(selection, info, self._resolve)
        return self._filter(info.queryset, condition)

    @staticmethod
    def _filter(queryset: QuerySet[Any], condition: Condition) -> QuerySet[Any]:
        if condition is True:
            return queryset
        if condition is False:
            return queryset.none()
        return queryset.filter(condition)

    def _resolve(self, record_type: RecordType) -> ModelInfo:
        return self._info(record_type)

    def _pk(self, info: ModelInfo) -> str:
        return str(info.queryset.model._meta.pk.attname)

    # -- the protocol ---------------------------------------------------------------------------
    def iter_records(
        self,
        record_type: RecordType,
        selection: Selection,
        *,
        fields: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[Record]]:
        """The matching records, in batches of at most ``batch_size``, paged by primary key."""
        check_batch_size(batch_size)
        with self.wrap_errors("read", record_type):
            info = self._info(record_type)
            names = list(fields) if fields is not None else list(record_type.field_names)
            columns = {name: info.attname(name) for name in names}
            pk = self._pk(info)
            selected = self._selected(info, selection).order_by(pk)
            wanted = list(dict.fromkeys([pk, *columns.values()]))
        last: Any = None
        while True:
            with self.wrap_errors("read", record_type):
                page = selected if last is None else selected.filter(**{f"{pk}__gt": last})
                rows = list(page.values(*wanted)[:batch_size])
            if not rows:
                return
            last = rows[-1][pk]
            yield [{name: row[column] for name, column in columns.items()} for row in rows]
            if len(rows) < batch_size:
                return

    def count(self, record_type: RecordType, selection: Selection) -> int:
        """How many records match (one ``SELECT COUNT(*)``)."""
        with self.wrap_errors("count", record_type):
            return int(self._selected(self._info(record_type), selection).count())

    def counts(self, record_type: RecordType, selections: Sequence[Selection]) -> list[int]:
        """How many records match each selection: one ``aggregate`` of filtered ``COUNT`` s per
        64 selections (a plan's counts of one record type in one scan)."""
        with self.wrap_errors("count", record_type):
            info = self._info(record_type)
            conditions = [compile_condition(s, info, self._resolve) for s in selections]
            found: list[int] = [0] * len(conditions)
            asked = [(i, c) for i, c in enumerate(conditions) if c is not False]
            pk = self._pk(info)
            for start in range(0, len(asked), COUNTS_PER_STATEMENT):
                chunk = asked[start : start + COUNTS_PER_STATEMENT]
                aggregates = {
                    f"c{i}": Count(pk) if c is True else Count(pk, filter=c) for i, c in chunk
                }
                result = info.queryset.aggregate(**aggregates)
                for i, _ in chunk:
                    found[i] = int(result[f"c{i}"] or 0)
            return found

    def delete(
        self, record_type: RecordType, selection: Selection, *, batch_size: int | None = None
    ) -> int:
        """Delete the matching records: one ``DELETE`` (or one per ``batch_size`` keys), each in
        its own transaction; no ORM cascade, no signals."""
        check_batch_size(batch_size)
        with self.wrap_errors("delete", record_type):
            info = self._info(record_type)
            condition = compile_condition(selection, info, self._resolve)
            if condition is False:
                return 0  # Django runs no statement for an empty queryset
            selected = self._filter(info.queryset, condition)
            if batch_size is None:
                with transaction.atomic(using=self.using):
                    return int(selected._raw_delete(self.using))
            deleted = 0
            for keys in self._key_batches(info, selected, batch_size):
                with transaction.atomic(using=self.using):
                    batch = selected.filter(**{f"{self._pk(info)}__in": keys})
                    deleted += int(batch._raw_delete(self.using))
            return deleted

    def update(
        self,
        record_type: RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int | None = None,
    ) -> int:
        """Set constant ``values`` on the matching records: one ``UPDATE`` (or one per
        ``batch_size`` keys, walking the primary key so each record is visited once)."""
        check_batch_size(batch_size)
        with self.wrap_errors("update", record_type):
            info = self._info(record_type)
            changes = {info.attname(name): value for name, value in values.items()}
            selected = self._selected(info, selection)
            if batch_size is None:
                with transaction.atomic(using=self.using):
                    return int(selected.update(**changes))
            updated = 0
            for keys in self._key_batches(info, selected, batch_size):
                with transaction.atomic(using=self.using):
                    batch = selected.filter(**{f"{self._pk(info)}__in": keys})
                    updated += int(batch.update(**changes))
            return updated

    def update_by_key(
        self, record_type: RecordType, changes: Sequence[tuple[RecordKey, Mapping[str, Any]]]
    ) -> int:
        """Write per-record values by primary key (one ``UPDATE`` per key, 500 keys per
        transaction); returns how many keys were found. A key that cannot equal the primary key's
        type (``"7"`` for an integer key) is not found."""
        with self.wrap_errors("update_by_key", record_type):
            info = self._info(record_type)
            pk = info.attname(record_type.primary_key)
            kind = info.kind(record_type.primary_key)
            found = 0
            for start in range(0, len(changes), _KEYS_PER_STATEMENT):
                with transaction.atomic(using=self.using):
                    for key, values in changes[start : start + _KEYS_PER_STATEMENT]:
                        if key is None or not comparable_values(kind, [key], strict_text=True):
                            continue
                        columns = {info.attname(name): value for name, value in values.items()}
                        found += min(1, info.queryset.filter(**{pk: key}).update(**columns))
            return found

    def _key_batches(
        self, info: ModelInfo, selected: QuerySet[Any], batch_size: int
    ) -> Iterator[list[Any]]:
        """The keys of the selected records, ``batch_size`` at a time, in key order (read anew
        after each batch was written: keyset pagination past the last key)."""
        pk = self._pk(info)
        last: Any = None
        while True:
            page = selected if last is None else selected.filter(**{f"{pk}__gt": last})
            keys = list(page.order_by(pk).values_list(pk, flat=True)[:batch_size])
            if not keys:
                return
            yield keys
            last = keys[-1]

    def verify(self, datamap: DataMap) -> list[Problem]:
        """Every record type without a model (or whose table the database lacks: run
        ``migrate``) and every field the model or its table lacks."""
        existing: dict[str, set[str] | None] = {}
        problems: list[Problem] = []
        with self.wrap_errors("verify"):
            connection = connections[self.using]
            with connection.cursor() as cursor:
                tables = set(connection.introspection.table_names(cursor))
                for i, rt in enumerate(datamap.record_types):
                    if not self.serves(rt):
                        continue
                    model = self.model_for(rt)
                    if model is None:
                        continue  # reported by missing_problems below
                    table = model._meta.db_table
                    if table not in tables:
                        problems.append(
                            Problem(
                                f"record_types[{i}]",
                                f"table {table!r} of model {model._meta.label} does not exist in "
                                f"database {self.using!r} (run migrate)",
                            )
                        )
                        existing[rt.table_name] = set(rt.field_names)
                        continue
                    described = connection.introspection.get_table_description(cursor, table)
                    columns = {column.name for column in described}
                    fields = self._fields(model)
                    existing[rt.table_name] = {
                        name
                        for name in rt.field_names
                        if name in fields and fields[name].column in columns
                    }
        return problems + missing_problems(datamap, self.store, existing)

    def foreign_keys(self, record_types: Sequence[RecordType]) -> tuple[ForeignKey, ...]:
        """The models' foreign keys between ``record_types`` (from ``Model._meta``).

        Example:
            >>> adapter.foreign_keys(datamap.record_types)   # doctest: +SKIP
            (ForeignKey(record_type='loans', references='members', fields=('member_id',), referenced_fields=('id',)),)
        """
        served = [rt for rt in record_types if self.serves(rt)]
        by_model: dict[type[Model], list[RecordType]] = {}
        for rt in served:
            model = self.model_for(rt)
            if model is not None:
                by_model.setdefault(model, []).append(rt)
        found: list[ForeignKey] = []
        for rt in served:
            model = self.model_for(rt)
            if model is None:
                continue
            for field in model._meta.concrete_fields:
                target = field.related_model if field.many_to_one or field.one_to_one else None
                if not isinstance(target, type) or target not in by_model:
                    continue
                parent_column = field.target_field.column
                found.extend(
                    ForeignKey(rt.name, parent.name, (field.column,), (parent_column,))
                    for parent in by_model[target]
                )
        return tuple(found)

    def condition(self, record_type: RecordType, selection: Selection) -> Q | bool:
        """The ``Q`` object (or ``True`` / ``False``) a selection compiles to, for inspection.

        Example:
            >>> adapter.condition(members, where.eq("id", 7))   # doctest: +SKIP
            <Q: (AND: ('id__in', [7]))>
        """
        with self.wrap_errors("compile", record_type):
            return compile_condition(selection, self._info(record_type), self._resolve)
