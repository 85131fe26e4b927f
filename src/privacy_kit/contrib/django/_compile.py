"""Compiling privacy_kit selections to Django ``Q`` objects, in SQL's three-valued logic.

Django's own negation is not SQL's: ``~Q(age=34)`` on a nullable field becomes
``NOT (age = 34 AND age IS NOT NULL)``, which selects the records whose ``age`` is NULL, where the
selection language (and SQL) says *unknown*, so not selected. The compiler therefore never
negates a condition whose value may be unknown. It compiles each selection twice: to the
condition under which it is *true* and to the one under which it is *false*, and ``Not`` swaps
them (``And`` is false when any part is false; ``Or`` when every part is). Constants stay Python
``True`` / ``False`` until the end, because Django's empty ``Q()`` means "no filter" and would
turn ``x OR nothing`` into everything.

A :class:`~privacy_kit.adapters.Related` compiles to ``EXISTS`` sub-queries on the other
model, evaluated by the database when the statement runs, with ``IN``'s meaning: nothing
selected is false, a NULL ``field`` is unknown, and a NULL among the selected keys makes "equal
to none" unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce
from typing import Any, TypeAlias

from django.db.models import Exists, OuterRef, Q, QuerySet

from ...adapters import After, All, And, Before, Eq, In, IsNull, Not, Or, Related, Selection
from ...adapters._sql import comparable_values
from ...model._datamap import RecordType

__all__ = ["Condition", "ModelInfo", "compile_condition"]

Condition: TypeAlias = bool | Q
"""``True`` (every record), ``False`` (none) or a ``Q`` (those it selects)."""


class ModelInfo:
    """What the compiler needs of one record type's model: its queryset and column names.

    Args:
        record_type: the data map's record type.
        queryset: ``Model.objects.using(alias)`` (or the host's base queryset).
        attname: the data map's field name -> the model field's ``attname``.
    """

    def __init__(
        self, record_type: RecordType, queryset: QuerySet[Any], attname: Callable[[str], str]
    ) -> None:
        self.record_type = record_type
        self.queryset = queryset
        self.attname = attname

    def kind(self, field: str) -> str | None:
        """The data-map type of ``field`` (``None`` for a field the data map does not declare)."""
        rt = self.record_type
        return rt.field(field).type if rt.has_field(field) else None


Resolve = Callable[[RecordType], ModelInfo]
"""``resolve(record_type)``: the :class:`ModelInfo` of another record type (for ``Related``)."""


def _all(parts: Sequence[Condition]) -> Condition:
    if any(p is False for p in parts):
        return False
    qs = [p for p in parts if not isinstance(p, bool)]
    return reduce(lambda a, b: a & b, qs) if qs else True


def _any(parts: Sequence[Condition]) -> Condition:
    if any(p is True for p in parts):
        return True
    qs = [p for p in parts if not isinstance(p, bool)]
    return reduce(lambda a, b: a | b, qs) if qs else False


def _values(info: ModelInfo, field: str, values: Sequence[Any]) -> tuple[list[Any], bool]:
    """The non-NULL values that can equal what ``field`` holds, and whether a NULL was among them.

    As in the in-memory reference adapter (Python equality): a string never equals a number,
    ``2.0`` equals 2, and a number never equals text (Django would convert ``"1"`` to 1).
    """
    kept = comparable_values(info.kind(field), values, strict_text=True)
    return [v for v in kept if v is not None], any(v is None for v in values)


def compile_condition(
    selection: Selection, info: ModelInfo, resolve: Resolve, *, truth: bool = True
) -> Condition:
    """The condition under which ``selection`` is true (``truth=True``) or false on ``info``'s model.

    Args:
        selection: the selection.
        info: the record type's model.
        resolve: how to find the model of a ``Related``'s other record type.
        truth: compile "is true" (what a read, count, delete or update selects) or "is false".

    Raises:
        TypeError: a selection of an unknown kind.
    """

    def walk(sel: Selection, want: bool) -> Condition:
        if isinstance(sel, All):
            return want
        if isinstance(sel, Not):
            return walk(sel.item, not want)
        if isinstance(sel, And):
            parts = [walk(item, want) for item in sel.items]
            return _all(parts) if want else _any(parts)
        if isinstance(sel, Or):
            parts = [walk(item, want) for item in sel.items]
            return _any(parts) if want else _all(parts)
        if isinstance(sel, IsNull):
            return Q(**{f"{info.attname(sel.field)}__isnull": want})
        if isinstance(sel, Eq | In):
            return _membership(sel, want)
        if isinstance(sel, Before | After):
            column = info.attname(sel.field)
            below = isinstance(sel, Before) == want
            inclusive = sel.inclusive == want
            lookup = ("lt" if below else "gt") + ("e" if inclusive else "")
            return Q(**{f"{column}__{lookup}": sel.instant})
        if isinstance(sel, Related):
            return _related(sel, want)
        raise TypeError(f"cannot compile selection {sel!r} for the Django ORM")

    def _membership(sel: Eq | In, want: bool) -> Condition:
        given = [sel.value] if isinstance(sel, Eq) else list(sel.values)
        if isinstance(sel, In) and not given:
            return not want  # IN () is false for every record, NULL included
        column = info.attname(sel.field)
        values, has_null = _values(info, sel.field, given)
        matches: Condition = Q(**{f"{column}__in": values}) if values else False
        if want:
            return matches
        if has_null:
            return False  # "equal to none of them" is unknown when one of them is NULL
        not_null = Q(**{f"{column}__isnull": False})
        # On a non-NULL column Django's negation is SQL's: NOT (col IN (...)).
        return not_null & ~matches if isinstance(matches, Q) else not_null

    def _related(sel: Related, want: bool) -> Condition:
        other = resolve(sel.record_type)
        inner = compile_condition(sel.selection, other, resolve)
        if inner is False:
            return not want  # nothing selected: false for every record
        keys = other.queryset if inner is True else other.queryset.filter(inner)
        key = other.attname(sel.key)
        column = info.attname(sel.field)
        equal = Exists(keys.filter(**{key: OuterRef(column)}))
        if want:
            return Q(equal)
        nothing = ~Exists(keys)
        no_null_key = ~Exists(keys.filter(**{f"{key}__isnull": True}))
        return Q(nothing) | (Q(**{f"{column}__isnull": False}) & Q(no_null_key) & ~Q(equal))

    return walk(selection, truth)
