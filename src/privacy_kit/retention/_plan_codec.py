"""The JSON documents plans travel in: the envelope, the values inside, and reading them back.

A plan document (:meth:`~privacy_kit.RetentionPlan.to_json`,
:meth:`~privacy_kit.ErasurePlan.to_json`, :meth:`~privacy_kit.rights.ExportJob.to_json`) is one
JSON object::

    {"format": "privacy_kit.plan", "version": 1, "kind": "retention",
     "policy_version": "2025-01", "datamap_digest": "<sha-256>", "plan": {...}}

``version`` is the document format's (:data:`FORMAT_VERSION`): a document from a newer format is
refused rather than half-read. ``policy_version`` and ``datamap_digest``
(:func:`~privacy_kit.datamap_digest`) are those the plan was made under; :func:`check_origin`
refuses to apply it under any other. Reading goes through :class:`Reader`, so a corrupt document
fails with a :class:`~privacy_kit.PlanFormatError` naming the place (``plan.entries[2].cutoff``).

Values inside selections keep their Python type: instants (with their zone), dates, decimals,
UUIDs and bytes are tagged objects (``{"$datetime": "..."}``); a :class:`~privacy_kit.adapters.Related`
carries its record type's definition, which the data-map digest then vouches for.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import uuid
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

import orjson
import pydantic

from .._errors import ConfigurationError, PlanError, PlanFormatError, PrivacyKitError
from .._types import Duration
from ..adapters import After, All, And, Before, Eq, In, IsNull, Not, Or, Related, Selection
from ..model._datamap import DataMap, RecordType
from ..model._digest import datamap_digest

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Reader",
    "check_origin",
    "instant_to_data",
    "open_document",
    "open_head",
    "selection_to_json",
    "value_to_json",
    "write_document",
]

FORMAT = "privacy_kit.plan"
#: The plan document format this version writes and the newest it reads.
FORMAT_VERSION = 1

T = TypeVar("T")


# == writing =======================================================================================
def instant_to_data(value: dt.datetime) -> str:
    """An aware instant as ISO 8601 text (its offset kept)."""
    return value.isoformat()


def value_to_json(value: Any, where: str) -> Any:
    """A value compared by a selection, in JSON (tagged when JSON has no such type).

    Raises:
        ConfigurationError: a value a plan document cannot carry (``where`` names it).
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ConfigurationError(f"{where}: {value!r} cannot be written to a plan document")
        return value
    if isinstance(value, dt.datetime):
        out: dict[str, Any] = {"$datetime": value.isoformat()}
        if isinstance(value.tzinfo, zoneinfo.ZoneInfo):
            out["zone"] = value.tzinfo.key
        return out
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    raise ConfigurationError(
        f"{where}: a {type(value).__name__} value cannot be written to a plan document "
        "(JSON values, datetimes, dates, decimals, UUIDs and bytes can)"
    )


def selection_to_json(selection: Selection, where: str = "selection") -> dict[str, Any]:
    """``selection`` as JSON (every operator, :class:`~privacy_kit.adapters.Related` included)."""
    s = selection
    if isinstance(s, All):
        return {"op": "all"}
    if isinstance(s, Eq):
        return {"op": "eq", "field": s.field, "value": value_to_json(s.value, f"{where}.value")}
    if isinstance(s, In):
        return {
            "op": "in",
            "field": s.field,
            "values": [value_to_json(v, f"{where}.values[{i}]") for i, v in enumerate(s.values)],
        }
    if isinstance(s, Before | After):
        return {
            "op": "before" if isinstance(s, Before) else "after",
            "field": s.field,
            "instant": value_to_json(s.instant, f"{where}.instant"),
            "inclusive": s.inclusive,
        }
    if isinstance(s, IsNull):
        return {"op": "is_null", "field": s.field}
    if isinstance(s, And | Or):
        return {
            "op": "and" if isinstance(s, And) else "or",
            "items": [selection_to_json(x, f"{where}.items[{i}]") for i, x in enumerate(s.items)],
        }
    if isinstance(s, Not):
        return {"op": "not", "item": selection_to_json(s.item, f"{where}.item")}
    if isinstance(s, Related):
        return {
            "op": "related",
            "field": s.field,
            "record_type": s.record_type.model_dump(mode="json"),
            "key": s.key,
            "selection": selection_to_json(s.selection, f"{where}.selection"),
        }
    raise ConfigurationError(f"{where}: cannot write selection {s!r} to a plan document")


def write_document(
    kind: str, body: Mapping[str, Any], *, policy_version: str | None, digest: str | None
) -> str:
    """The JSON document of a plan of ``kind`` (see the module's docstring).

    Raises:
        ConfigurationError: the plan records no policy version or data-map digest (it was not
            made by an engine), so no process could check it before applying it.
    """
    if policy_version is None or digest is None:
        raise ConfigurationError(
            f"this {kind} plan records no policy version or data-map digest (it was not made by "
            "an Engine), so it cannot be written: another process could not check it"
        )
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": kind,
        "policy_version": policy_version,
        "datamap_digest": digest,
        "plan": body,
    }
    return orjson.dumps(document).decode("utf-8")


# == reading =======================================================================================
class Reader:
    """A JSON object read with its location: every problem raises a located
    :class:`~privacy_kit.PlanFormatError`.

    Example:
        >>> r = Reader({"count": "x"}, "plan")
        >>> r.integer("count")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.PlanFormatError: plan document: plan.count: expected an integer, got 'x'
    """

    def __init__(self, data: Any, location: str) -> None:
        if not isinstance(data, Mapping):
            raise PlanFormatError(location, f"expected an object, got {_shown(data)}")
        self.data: Mapping[str, Any] = data
        self.location = location

    def at(self, key: str | int) -> str:
        """The location of ``key`` inside this object."""
        if isinstance(key, int):
            return f"{self.location}[{key}]"
        return f"{self.location}.{key}" if self.location else key

    def fail(self, key: str | int, detail: str) -> NoReturn:
        """Raise a :class:`~privacy_kit.PlanFormatError` at ``key``."""
        raise PlanFormatError(self.at(key), detail)

    def raw(self, key: str) -> Any:
        """The value at ``key`` as it is (missing: an error)."""
        if key not in self.data:
            self.fail(key, "missing")
        return self.data[key]

    def _typed(self, key: str, kind: type | tuple[type, ...], what: str, optional: bool) -> Any:
        value = self.raw(key)
        if value is None and optional:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            self.fail(key, f"expected {what}, got {_shown(value)}")
        return value

    def text(self, key: str) -> str:
        """A string."""
        value: str = self._typed(key, str, "a string", optional=False)
        return value

    def opt_text(self, key: str) -> str | None:
        """A string or ``null``."""
        value: str | None = self._typed(key, str, "a string or null", optional=True)
        return value

    def integer(self, key: str) -> int:
        """A non-negative integer."""
        value: int = self._typed(key, int, "an integer", optional=False)
        if value < 0:
            self.fail(key, f"expected a non-negative integer, got {value}")
        return value

    def opt_integer(self, key: str) -> int | None:
        """A non-negative integer or ``null``."""
        return None if self.raw(key) is None else self.integer(key)

    def integers(self, key: str) -> tuple[int, ...]:
        """A list of non-negative integers."""
        items = self._typed(key, list, "a list of integers", optional=False)
        for i, item in enumerate(items):
            if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                raise PlanFormatError(
                    f"{self.at(key)}[{i}]", f"expected a non-negative integer, got {_shown(item)}"
                )
        return tuple(items)

    def flag(self, key: str) -> bool:
        """``true`` or ``false``."""
        value: bool = self._typed(key, bool, "true or false", optional=False)
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of strings."""
        items = self._typed(key, list, "a list of strings", optional=False)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise PlanFormatError(
                    f"{self.at(key)}[{i}]", f"expected a string, got {_shown(item)}"
                )
        return tuple(items)

    def instant(self, key: str) -> dt.datetime:
        """An aware ISO 8601 instant."""
        text = self.text(key)
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(key, f"expected an ISO 8601 datetime, got {text!r}")
        if value.utcoffset() is None:
            self.fail(key, f"expected a datetime with a timezone, got {text!r}")
        return value

    def opt_instant(self, key: str) -> dt.datetime | None:
        """An aware instant or ``null``."""
        return None if self.raw(key) is None else self.instant(key)

    def duration(self, key: str) -> Duration:
        """A duration (ISO 8601 text)."""
        text = self.text(key)
        try:
            return Duration.parse(text)
        except PrivacyKitError as exc:
            self.fail(key, str(exc))

    def opt_duration(self, key: str) -> Duration | None:
        """A duration or ``null``."""
        return None if self.raw(key) is None else self.duration(key)

    def obj(self, key: str) -> Reader:
        """The object at ``key``."""
        return Reader(self.raw(key), self.at(key))

    def objs(self, key: str) -> list[Reader]:
        """The list of objects at ``key``."""
        items = self._typed(key, list, "a list", optional=False)
        return [Reader(item, f"{self.at(key)}[{i}]") for i, item in enumerate(items)]

    def pairs(self, key: str) -> list[tuple[Any, Any]]:
        """A list of two-item lists (``[[a, b], ...]``)."""
        items = self._typed(key, list, "a list of pairs", optional=False)
        for i, item in enumerate(items):
            if not isinstance(item, list) or len(item) != 2:
                raise PlanFormatError(
                    f"{self.at(key)}[{i}]", f"expected a pair, got {_shown(item)}"
                )
        return [(a, b) for a, b in items]

    def each(self, key: str, read: Callable[[Reader], T]) -> tuple[T, ...]:
        """``read`` applied to each object of the list at ``key``."""
        return tuple(read(item) for item in self.objs(key))

    def build(self, key: str | int, make: Callable[[], T]) -> T:
        """``make()``, any refusal of the value's own checks reported at ``key``."""
        try:
            return make()
        except (PrivacyKitError, ValueError, TypeError, KeyError) as exc:
            if isinstance(exc, PlanFormatError):
                raise
            self.fail(key, f"{type(exc).__name__}: {exc}")

    def value(self, key: str) -> Any:
        """A value compared by a selection (see :func:`value_to_json`)."""
        return _value(self.raw(key), self.at(key))

    def values(self, key: str) -> tuple[Any, ...]:
        """A list of values (see :func:`value_to_json`)."""
        items = self._typed(key, list, "a list of values", optional=False)
        return tuple(_value(v, f"{self.at(key)}[{i}]") for i, v in enumerate(items))

    def selection(self, key: str) -> Selection:
        """A selection (see :func:`selection_to_json`)."""
        return _selection(self.obj(key))

    def opt_selection(self, key: str) -> Selection | None:
        """A selection or ``null``."""
        return None if self.raw(key) is None else self.selection(key)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TAGS: dict[str, Callable[[str], Any]] = {
    "$date": dt.date.fromisoformat,
    "$decimal": decimal.Decimal,
    "$uuid": uuid.UUID,
    "$bytes": lambda text: base64.b64decode(text.encode("ascii"), validate=True),
}


def _value(value: Any, where: str) -> Any:
    if not isinstance(value, Mapping):
        if isinstance(value, list):
            raise PlanFormatError(where, f"expected a value, got {_shown(value)}")
        return value
    try:
        if "$datetime" in value:
            instant = dt.datetime.fromisoformat(value["$datetime"])
            if "zone" in value:
                instant = instant.astimezone(zoneinfo.ZoneInfo(value["zone"]))
            return instant
        ((tag, text),) = value.items()
        return _TAGS[tag](text)
    except (KeyError, ValueError, TypeError, decimal.InvalidOperation) as exc:
        raise PlanFormatError(where, f"not a stored value: {_shown(dict(value))} ({exc})") from None


def _selection(r: Reader) -> Selection:
    op = r.text("op")
    if op == "all":
        return All()
    if op == "is_null":
        return IsNull(r.text("field"))
    if op == "eq":
        return Eq(r.text("field"), r.value("value"))
    if op == "in":
        return In(r.text("field"), r.values("values"))
    if op in ("before", "after"):
        instant = r.value("instant")
        if not isinstance(instant, dt.datetime):
            r.fail("instant", f"expected a stored datetime, got {_shown(r.raw('instant'))}")
        cls = Before if op == "before" else After
        return r.build("instant", lambda: cls(r.text("field"), instant, r.flag("inclusive")))
    if op in ("and", "or"):
        items = tuple(_selection(item) for item in r.objs("items"))
        return And(items) if op == "and" else Or(items)
    if op == "not":
        return Not(r.selection("item"))
    if op == "related":
        rt_data = r.raw("record_type")
        try:
            rt = RecordType.model_validate(rt_data)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            inner = ".".join(str(p) for p in first["loc"])
            r.fail("record_type", f"not a record type ({inner}: {first['msg']})")
        field, key, sub = r.text("field"), r.text("key"), r.selection("selection")
        return r.build("key", lambda: Related(field, rt, key, sub))
    return r.fail("op", f"unknown selection operator {op!r}")


def open_head(
    data: str | bytes | bytearray | memoryview, form: str, newest: int, kind: str
) -> Reader:
    """The top object of a versioned document (a plan's, a shard's) of format ``form`` and
    ``kind``, in a format version from 1 to ``newest``.

    Raises:
        PlanFormatError: not JSON (truncated, say), of another format or kind, or of a version
            this privacy_kit does not read (names the place).
    """
    if not isinstance(data, str | bytes | bytearray | memoryview):
        raise PlanFormatError("", f"expected JSON text or bytes, got {type(data).__name__}")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise PlanFormatError("", f"not valid JSON (truncated or corrupt?): {exc}") from None
    head = Reader(document, "")
    if head.raw("format") != form:
        head.fail("format", f"expected {form!r}, got {_shown(head.raw('format'))}")
    version = head.integer("version")
    if version > newest or version < 1:
        head.fail(
            "version",
            f"format version {version} is not one this privacy_kit reads (1 to {newest}); "
            "use the privacy_kit that wrote it, or plan again",
        )
    found = head.text("kind")
    if found != kind:
        head.fail("kind", f"this is a {found!r} document, not a {kind!r} one")
    return head


def open_document(data: str | bytes | bytearray | memoryview, kind: str) -> tuple[Reader, Reader]:
    """The header and body of a plan document of ``kind``.

    Raises:
        PlanFormatError: not JSON (truncated, say), not a plan document, a plan of another kind,
            or a format version newer than :data:`FORMAT_VERSION` (names the place).
    """
    head = open_head(data, FORMAT, FORMAT_VERSION, kind)
    head.text("policy_version")
    digest = head.text("datamap_digest")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        head.fail("datamap_digest", f"expected 64 hex digits, got {_shown(digest)}")
    return head, head.obj("plan")


def check_origin(
    what: str,
    made_under: tuple[str | None, str | None],
    *,
    policy_version: str | None,
    datamap: DataMap | None,
    again: str = "plan again",
) -> None:
    """Refuse a plan made under another policy version or data map than the applying one's.

    ``made_under`` is the plan's ``(policy_version, datamap_digest)``; ``None`` on either side
    (a plan made without an engine, an applier that did not say) leaves that part unchecked.

    Raises:
        PlanError: naming both versions, or both digests.
    """
    plan_policy, plan_digest = made_under
    if policy_version is not None and plan_policy is not None and plan_policy != policy_version:
        raise PlanError(
            f"the {what} was made under policy {plan_policy!r} but the engine has policy "
            f"{policy_version!r}; {again}"
        )
    if datamap is not None and plan_digest is not None:
        digest = datamap_digest(datamap)
        if digest != plan_digest:
            raise PlanError(
                f"the {what} was made under data map {plan_digest[:12]}... but the engine's data "
                f"map is {digest[:12]}... (another version of the data map); {again}"
            )
