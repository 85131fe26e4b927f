"""Conditions on a record's state, and the conditional retention entries of a record type.

A record type of the data map may take several retention rules, each for the records in one
state: ``retention: [{rule: trashed_items, when: {field: trashed_at, is_null: false}}, ...]``.
A :class:`Condition` says which records an entry covers; it reads the record's own fields only
and is two-valued: a NULL field never equals a value, so ``not: {field: f, equals: x}`` covers the
records whose ``f`` is NULL too. Entries are tried in order and the first that matches wins; a
last entry without ``when`` takes every record no earlier entry matched.
"""

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from .._errors import Problem
from .._types import Model, closest


class _Typed(Protocol):
    @property
    def type(self) -> str: ...


class _RecordFields(Protocol):
    """What the checks read of a record type (``RecordType``, which imports this module)."""

    @property
    def name(self) -> str: ...
    @property
    def retention(self) -> object: ...
    @property
    def field_names(self) -> tuple[str, ...]: ...
    def has_field(self, name: str) -> bool: ...
    def field(self, name: str) -> _Typed: ...


__all__ = ["Condition", "RetentionChoice"]

Scalar = str | int | float | bool
_FORMS = ("is_null", "equals", "in_", "all_", "any_", "not_")
_SHOWN = {"in_": "in", "all_": "all", "any_": "any", "not_": "not"}


class Condition(Model):
    """A condition on a record's fields (the ``when`` of a conditional retention entry).

    One form per condition: ``{field, is_null}``, ``{field, equals}``, ``{field, in}``,
    ``{all: [...]}``, ``{any: [...]}`` or ``{not: ...}``.

    Example:
        >>> trashed = Condition.model_validate({"field": "trashed_at", "is_null": False})
        >>> trashed.describe()
        'trashed_at is not null'
        >>> trashed.evaluate({"trashed_at": None})
        False
        >>> Condition.model_validate({"not": {"field": "status", "equals": "x"}}).evaluate({})
        True
    """

    field: str | None = Field(default=None, min_length=1, max_length=128)
    is_null: bool | None = None
    equals: Scalar | None = None
    in_: tuple[Scalar, ...] | None = Field(default=None, alias="in", min_length=1)
    all_: "tuple[Condition, ...] | None" = Field(default=None, alias="all", min_length=1)
    any_: "tuple[Condition, ...] | None" = Field(default=None, alias="any", min_length=1)
    not_: "Condition | None" = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> "Condition":
        given = [f for f in _FORMS if f in self.model_fields_set]
        names = ", ".join(_SHOWN.get(f, f) for f in given)
        if len(given) != 1:
            raise PydanticCustomError(
                "condition",
                "a condition takes exactly one of is_null, equals, in, all, any, not"
                + (f" (got {names})" if given else ""),
            )
        form = given[0]
        if form in ("is_null", "equals", "in_"):
            if self.field is None:
                raise PydanticCustomError(
                    "condition", "{form!r} needs a 'field'", {"form": _SHOWN.get(form, form)}
                )
            if form == "is_null" and self.is_null is None:
                raise PydanticCustomError("condition", "'is_null' must be true or false")
            if form == "equals" and self.equals is None:
                raise PydanticCustomError(
                    "condition", "'equals' needs a value; use 'is_null: true' for a missing value"
                )
        elif self.field is not None:
            raise PydanticCustomError(
                "condition",
                "'field' goes inside each condition of {form!r}, not beside it",
                {"form": _SHOWN[form]},
            )
        return self

    @property
    def form(self) -> str:
        """``is_null``, ``equals``, ``in``, ``all``, ``any`` or ``not``."""
        form = next(f for f in _FORMS if f in self.model_fields_set)
        return _SHOWN.get(form, form)

    def parts(self) -> "tuple[Condition, ...]":
        """The nested conditions (of ``all``, ``any`` or ``not``)."""
        if self.not_ is not None:
            return (self.not_,)
        return self.all_ or self.any_ or ()

    def fields(self) -> Iterator[str]:
        """Every field the condition reads."""
        if self.field is not None:
            yield self.field
        for part in self.parts():
            yield from part.fields()

    def values(self) -> tuple[Scalar, ...]:
        """The values a leaf compares with (``equals`` or ``in``)."""
        if self.in_ is not None:
            return self.in_
        return () if self.equals is None else (self.equals,)

    def evaluate(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` is in the state (two-valued: NULL equals nothing)."""
        form = self.form
        if form in ("is_null", "equals", "in"):
            value = record.get(self.field or "")
            if form == "is_null":
                return (value is None) is bool(self.is_null)
            return value is not None and any(_same(value, v) for v in self.values())
        if form == "all":
            return all(p.evaluate(record) for p in self.parts())
        if form == "any":
            return any(p.evaluate(record) for p in self.parts())
        return not self.parts()[0].evaluate(record)

    def describe(self) -> str:
        """In words, e.g. ``trashed_at is not null and status = 'open'``."""
        form = self.form
        if form == "is_null":
            return f"{self.field} is {'' if self.is_null else 'not '}null"
        if form == "equals":
            return f"{self.field} = {self.equals!r}"
        if form == "in":
            return f"{self.field} in ({', '.join(repr(v) for v in self.values())})"
        if form == "not":
            return f"not ({self.parts()[0].describe()})"
        return f" {form.replace('all', 'and').replace('any', 'or')} ".join(
            f"({p.describe()})" if p.form in ("all", "any") else p.describe() for p in self.parts()
        )


def _same(actual: Any, expected: Scalar) -> bool:
    # True == 1 in Python, but a boolean field is never an integer one: compare kinds too.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
    return bool(actual == expected)


class RetentionChoice(Model):
    """One entry of a record type's conditional ``retention``: a rule, for records in a state.

    Attributes:
        rule: the retention rule's key.
        when: the state it covers (``None``: the catch-all, only as the last entry).
        trigger_field: the time field the rule's trigger reads for this record type (e.g.
            ``trashed_at`` for a rule counted from trashing); a ``timestamp`` field of the record.

    Example:
        >>> RetentionChoice.model_validate(
        ...     {"rule": "trash", "when": {"field": "trashed_at", "is_null": False},
        ...      "trigger_field": "trashed_at"}).when.describe()
        'trashed_at is not null'
    """

    rule: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    when: Condition | None = None
    trigger_field: str | None = Field(default=None, min_length=1, max_length=128)


_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "integer": (int,),
    "real": (int, float),
    "boolean": (bool,),
}


def retention_entry_problems(rt: _RecordFields, where: str) -> Iterator[Problem]:
    """Located problems of ``rt``'s conditional ``retention`` list (fields, types, order)."""
    entries = rt.retention
    if not isinstance(entries, tuple):
        return
    if not entries:
        yield Problem(f"{where}.retention", "give a rule key or at least one entry")
        return
    last = len(entries) - 1
    for j, entry in enumerate(entries):
        assert isinstance(entry, RetentionChoice)
        at = f"{where}.retention[{j}]"
        if entry.when is None and j != last:
            yield Problem(
                f"{at}.when",
                "only the last entry may leave out 'when' (it takes every record no earlier "
                "entry matched)",
            )
        if entry.when is not None:
            yield from _condition_problems(rt, entry.when, f"{at}.when")
        if entry.trigger_field is not None:
            yield from _field_problem(rt, entry.trigger_field, f"{at}.trigger_field", "time field")
            if rt.has_field(entry.trigger_field) and rt.field(entry.trigger_field).type != (
                "timestamp"
            ):
                yield Problem(
                    f"{at}.trigger_field",
                    f"time field {entry.trigger_field!r} must have type: timestamp "
                    f"(it has {rt.field(entry.trigger_field).type!r})",
                )


def _field_problem(rt: _RecordFields, name: str, location: str, what: str) -> Iterator[Problem]:
    if not rt.has_field(name):
        hint = closest(name, rt.field_names)
        suffix = f"; did you mean {hint!r}?" if hint else ""
        yield Problem(location, f"{what} {name!r} is not a field of {rt.name!r}{suffix}")


def _condition_problems(rt: _RecordFields, cond: Condition, at: str) -> Iterator[Problem]:
    form = cond.form
    if form in ("all", "any", "not"):
        parts = cond.parts()
        for k, part in enumerate(parts):
            yield from _condition_problems(
                rt, part, f"{at}.not" if form == "not" else f"{at}.{form}[{k}]"
            )
        return
    name = cond.field or ""
    found = list(_field_problem(rt, name, f"{at}.field", "condition field"))
    if found:
        yield from found
        return
    if form == "is_null":
        return
    kind = rt.field(name).type
    accepted = _TYPES.get(kind)
    if accepted is None:
        yield Problem(
            f"{at}.{form}",
            f"{name!r} has type {kind!r}: compare it with is_null only (equals and in take "
            "text, integer, real or boolean fields)",
        )
        return
    for k, value in enumerate(cond.values()):
        ok = isinstance(value, accepted) and (kind == "boolean" or not isinstance(value, bool))
        if not ok:
            spot = f"{at}.in[{k}]" if form == "in" else f"{at}.equals"
            yield Problem(spot, f"{value!r} is not a {kind} value, but {name!r} has type {kind!r}")
