"""Small value types shared by the models: durations, localisable text and the frozen base model.

A :class:`Duration` is a calendar-aware span (``P1Y``, ``P30D``, ``72 hours``) that adds months and
years the way people count them (as dateutil's ``relativedelta`` does; dateutil is imported only
by :meth:`Duration.to_relativedelta`). :class:`LocalizedText` is the
``{en: ..., ar: ...}`` mapping in which every sentence a notice shows is written.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

import attrs
from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from ._errors import ConfigurationError, NaiveDatetimeError, UnknownNameError, WrongTypeError

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from dateutil.relativedelta import relativedelta

__all__ = [
    "Duration",
    "LocalizedText",
    "Model",
    "closest",
    "language_candidates",
    "normalize_language",
    "require_aware",
    "unknown_name",
]

_ISO = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_WORDS = {
    "year": "years",
    "month": "months",
    "week": "weeks",
    "day": "days",
    "hour": "hours",
    "minute": "minutes",
    "second": "seconds",
}
_HUMAN_PART = re.compile(r"(-?\d+)\s*([a-z]+?)s?\b")
_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
# A fixed, leap-year-containing reference instant: comparing two calendar durations means comparing
# where they land from the same start, which is deterministic and matches intuition (P1M < P31D).
_REFERENCE = dt.datetime(2000, 1, 31, tzinfo=dt.UTC)
_MAX_YEARS = 1000
# No part of a duration within the limit has more digits (1000 years is 31,536,000,000 seconds).
_MAX_DIGITS = 12
_MAX_SHOWN = 200


def _quoted(text: str) -> str:
    """``repr(text)``, cut at 200 characters: an error quotes the input, never all of a huge one."""
    shown = repr(text[: _MAX_SHOWN + 1])
    return shown if len(shown) <= _MAX_SHOWN else shown[: _MAX_SHOWN - 3] + "..."


def _refuse_surrogates(text: str, lang: str) -> None:
    """Refuse text with a lone surrogate: it cannot be written as UTF-8 (a notice could not be)."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PydanticCustomError(
            "text_surrogate",
            f"text for {lang!r} has a lone surrogate {text[exc.start]!r} at character "
            f"{exc.start}, which cannot be written as UTF-8",
        ) from None


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``word`` (for "did you mean" hints), or ``None``.

    A candidate that differs only in case wins outright.

    Example:
        >>> closest("retension", ["retention", "rights"])
        'retention'
        >>> closest("Bookings", ["bookings", "booking_notes"])
        'bookings'
    """
    options = list(candidates)
    folded = [c for c in options if c.casefold() == word.casefold()]
    if folded:
        return folded[0]
    import difflib  # noqa: PLC0415 - only a mistake needs a hint; not imported by a first use

    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_name(
    kind: str,
    name: object,
    candidates: Iterable[str],
    *,
    owner: str | None = None,
    list_known: bool = False,
) -> UnknownNameError:
    """The :class:`~privacy_kit.UnknownNameError` for ``name``, with a hint from ``candidates``.

    Args:
        kind: what was looked up (``"record type"``).
        name: the name given.
        candidates: the known names.
        owner: where it was looked up (``"record type 'users'"``).
        list_known: also list every known name in the message (for short lists).

    Example:
        >>> print(unknown_name("record type", "booking", ["bookings", "users"]))
        unknown record type 'booking'; did you mean 'bookings'?
    """
    known = list(candidates)
    hint = closest(name, known) if isinstance(name, str) else None
    return UnknownNameError(kind, name, hint=hint, known=known if list_known else (), owner=owner)


def require_aware(value: dt.datetime, name: str = "now") -> dt.datetime:
    """Return ``value`` if it is a timezone-aware datetime, else refuse it, naming the argument.

    Raises:
        NaiveDatetimeError: a datetime without a timezone (a ``ValueError`` too).
        WrongTypeError: not a datetime at all (a ``TypeError`` too), such as a date or a string.

    Example:
        >>> require_aware(dt.datetime(2026, 1, 1))
        Traceback (most recent call last):
        ...
        privacy_kit._errors.NaiveDatetimeError: now must be a timezone-aware datetime, got 2026-01-01 00:00:00 (naive)
        >>> require_aware(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).year
        2026
    """
    if not isinstance(value, dt.datetime):
        raise WrongTypeError(
            f"{name} must be a timezone-aware datetime, got {type(value).__name__} {value!r}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(name, value)
    return value


@functools.lru_cache(maxsize=1024)
def _parts(duration: Duration) -> tuple[int, dt.timedelta]:
    """``duration`` as calendar months and a ``timedelta`` (weeks, days, hours, minutes, seconds),
    worked out once per duration value (a sweep's planning adds its durations to dates hundreds
    of times: cutoffs, ordering)."""
    return duration.years * 12 + duration.months, dt.timedelta(
        weeks=duration.weeks,
        days=duration.days,
        hours=duration.hours,
        minutes=duration.minutes,
        seconds=duration.seconds,
    )


def _shift(start: dt.datetime, duration: Duration, sign: int) -> dt.datetime:
    """``start`` plus (``sign`` 1) or minus (-1) ``duration``, as ``relativedelta`` computes it:
    the months first, on the calendar (the day clipped to the end of a shorter month), then the
    rest as a ``timedelta`` on the wall clock. The same errors too: ``ValueError`` for a year
    outside 1..9999, ``OverflowError`` past the last representable instant. Not importing dateutil
    keeps it out of a first use (loading a policy parses durations and compares them)."""
    if not isinstance(start, dt.datetime):  # a date: relativedelta's own rules for dates
        delta = duration.to_relativedelta()
        return start + delta if sign > 0 else start - delta
    months, rest = _parts(duration)
    if months:
        year, month = divmod(start.year * 12 + start.month - 1 + sign * months, 12)
        month += 1
        leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        start = start.replace(
            year=year, month=month, day=min(start.day, _MONTH_DAYS[month - 1] + leap)
        )
    return start + rest if sign > 0 else start - rest


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@functools.lru_cache(maxsize=1024)
def _length(duration: Duration) -> dt.timedelta:
    """``duration.total_hint()``, worked out once per duration value (a timedelta: immutable)."""
    return duration.after(_REFERENCE) - _REFERENCE


@attrs.frozen(order=False)
class Duration:
    """A calendar-aware, non-negative duration.

    Parse it from ISO 8601 (``P1Y6M``, ``P30D``, ``PT72H``) or plain words (``"30 days"``,
    ``"1 year 6 months"``); months and years are added on the calendar, so one month after
    31 January is the last day of February.

    Example:
        >>> d = Duration.parse("1 month")
        >>> str(d)
        'P1M'
        >>> d.after(dt.datetime(2024, 1, 31, tzinfo=dt.UTC)).date()
        datetime.date(2024, 2, 29)
        >>> Duration.parse("PT72H") == Duration.parse("3 days")
        False
        >>> Duration.parse("PT72H").total_hint() == Duration.parse("3 days").total_hint()
        True
    """

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    def __attrs_post_init__(self) -> None:
        for unit in _UNITS:
            value = getattr(self, unit)
            if not isinstance(value, int) or isinstance(value, bool):
                raise WrongTypeError(
                    f"duration part {unit} must be an integer, got {type(value).__name__} {value!r}"
                )
            if value < 0:
                raise ConfigurationError(
                    f"duration parts must not be negative ({unit}={getattr(self, unit)})"
                )
        # Durations are compared by where they land from a reference date; one that lands past
        # the calendar's end would make every comparison (and every policy check) crash instead.
        try:
            end = self.after(_REFERENCE)
        except (ValueError, OverflowError):
            end = None
        if end is None or end > _REFERENCE.replace(year=_REFERENCE.year + _MAX_YEARS):
            raise ConfigurationError(f"duration {self} is too long (at most {_MAX_YEARS} years)")

    @classmethod
    def parse(cls, text: str | Duration) -> Duration:
        """Parse ISO 8601 or words; refuse anything else saying what is accepted.

        Raises:
            ConfigurationError: text that is not a duration (a ``ValueError`` too).
            WrongTypeError: not a string (a ``TypeError`` too).
        """
        if isinstance(text, Duration):
            return text
        if not isinstance(text, str):
            raise WrongTypeError(
                f"expected a duration string such as 'P30D' or '30 days', got {type(text).__name__}"
            )
        raw = text.strip()
        shown = _quoted(text)
        if any(len(digits.lstrip("0")) > _MAX_DIGITS for digits in re.findall(r"\d+", raw)):
            # int() would refuse past 4,300 digits; far fewer are already beyond the limit
            raise ConfigurationError(f"duration {shown} is too long (at most {_MAX_YEARS} years)")
        match = _ISO.match(raw.upper())
        if match:
            return cls(**{k: int(v) for k, v in match.groupdict().items() if v})
        lowered = raw.lower().replace(",", " ").replace(" and ", " ")
        parts = _HUMAN_PART.findall(lowered)
        leftover = _HUMAN_PART.sub("", lowered).strip()
        if parts and not leftover:
            values: dict[str, int] = {}
            for number, unit in parts:
                name = _WORDS.get(unit.rstrip("s")) or _WORDS.get(unit)
                if name is None:
                    raise ConfigurationError(
                        f"unknown duration unit {_quoted(unit)} in {shown} (use years, months, "
                        "weeks, days, hours, minutes or seconds)"
                    )
                if int(number) < 0:
                    raise ConfigurationError(
                        f"duration {shown} is negative; durations must not be negative"
                    )
                values[name] = values.get(name, 0) + int(number)
            return cls(**values)
        if raw.startswith("-"):
            raise ConfigurationError(
                f"duration {shown} is negative; durations must not be negative"
            )
        raise ConfigurationError(
            f"invalid duration {shown}: expected ISO 8601 such as 'P30D', 'P1Y6M', 'PT72H' "
            "or words such as '30 days'"
        )

    def to_relativedelta(self) -> relativedelta:
        """The equivalent ``relativedelta`` (calendar-aware)."""
        from dateutil.relativedelta import relativedelta  # noqa: PLC0415 - not needed to add

        return relativedelta(
            years=self.years,
            months=self.months,
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=self.seconds,
        )

    def after(self, start: dt.datetime) -> dt.datetime:
        """The instant this duration after ``start``."""
        return _shift(start, self, 1)

    def before(self, end: dt.datetime) -> dt.datetime:
        """The instant this duration before ``end`` (the cutoff of a retention sweep)."""
        return _shift(end, self, -1)

    def is_zero(self) -> bool:
        """True for ``P0D``."""
        return not any(getattr(self, unit) for unit in _UNITS)

    def total_hint(self) -> dt.timedelta:
        """Length measured from a fixed reference date; only for ordering and display."""
        return _length(self)

    def __lt__(self, other: Duration) -> bool:
        return self.total_hint() < other.total_hint()

    def __le__(self, other: Duration) -> bool:
        return self.total_hint() <= other.total_hint()

    def __gt__(self, other: Duration) -> bool:
        return self.total_hint() > other.total_hint()

    def __ge__(self, other: Duration) -> bool:
        return self.total_hint() >= other.total_hint()

    def __str__(self) -> str:
        if self.is_zero():
            return "P0D"
        date = "".join(
            f"{getattr(self, unit)}{unit[0].upper()}"
            for unit in ("years", "months", "weeks", "days")
            if getattr(self, unit)
        )
        time = "".join(
            f"{getattr(self, unit)}{unit[0].upper()}"
            for unit in ("hours", "minutes", "seconds")
            if getattr(self, unit)
        )
        return f"P{date}" + (f"T{time}" if time else "")

    def describe(self) -> str:
        """Plain English, e.g. ``'1 year 6 months'``."""
        if self.is_zero():
            return "0 days"
        out = []
        for unit in _UNITS:
            n = getattr(self, unit)
            if n:
                out.append(f"{n} {unit if n != 1 else unit[:-1]}")
        return " ".join(out)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Duration:
            if isinstance(value, Duration):
                return value
            if not isinstance(value, str):
                raise PydanticCustomError(
                    "duration_type", "expected a duration string such as 'P30D' or '30 days'"
                )
            try:
                return cls.parse(value)
            except ValueError as exc:
                raise PydanticCustomError("duration", str(exc)) from None

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "description": "ISO 8601 duration (P30D, P1Y6M, PT72H) or words ('30 days')",
            "examples": ["P30D", "P1Y", "PT72H", "30 days"],
        }


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")


def normalize_language(tag: str) -> str:
    """A BCP 47 language tag in its conventional case (tags are case-insensitive).

    The language subtag lower case, a four-letter script title case, a two-letter region upper
    case, everything else lower case; ``_`` (as in ``pt_BR`` locale names) is read as ``-``.

    Raises:
        ValueError: ``tag`` is not a language tag.

    Example:
        >>> normalize_language("AR"), normalize_language("pt_br"), normalize_language("ZH-hant-tw")
        ('ar', 'pt-BR', 'zh-Hant-TW')
    """
    text = tag.strip().replace("_", "-")
    if not _LANGUAGE_TAG.fullmatch(text):
        raise ValueError(f"invalid language tag {tag!r} (expected e.g. 'en', 'ar', 'pt-BR')")
    first, *rest = text.split("-")
    parts = [first.lower()]
    for i, sub in enumerate(rest):
        if sub.lower() in ("x", "u", "t") or len(sub) == 1:
            parts.extend(p.lower() for p in rest[i:])  # extensions and private use: as they are
            break
        if len(sub) == 4 and sub.isalpha() and i == 0:
            parts.append(sub.title())
        elif len(sub) == 2 and sub.isalpha():
            parts.append(sub.upper())
        else:
            parts.append(sub.lower())
    return "-".join(parts)


def language_candidates(tag: str) -> tuple[str, ...]:
    """The tags to try for ``tag``, most specific first (RFC 4647 lookup), normalised.

    Example:
        >>> language_candidates("zh-hant-tw")
        ('zh-Hant-TW', 'zh-Hant', 'zh')
    """
    parts = normalize_language(tag).split("-")
    return tuple("-".join(parts[:n]) for n in range(len(parts), 0, -1))


class LocalizedText(dict[str, str]):
    """Text a person reads, keyed by language tag: ``{"en": "...", "ar": "..."}``.

    A plain string is accepted and taken as English.

    Example:
        >>> t = LocalizedText({"en": "Hello", "ar": "مرحبا"})
        >>> t.get_text("ar")
        'مرحبا'
        >>> t.get_text("fr")
        'Hello'
        >>> t.languages()
        ('ar', 'en')
    """

    default_language: ClassVar[str] = "en"

    def key_for(self, lang: str) -> str | None:
        """The key of the text that serves ``lang``, or ``None``.

        Tags match case-insensitively and by prefix (``ar-EG`` is served by ``ar``); failing
        that, by language alone (``ar`` is served by ``ar-EG``). An invalid tag matches nothing.

        Example:
            >>> t = LocalizedText({"en": "Hi", "pt-BR": "Oi"})
            >>> t.key_for("EN-gb"), t.key_for("pt"), t.key_for("fr")
            ('en', 'pt-BR', None)
        """
        if lang in self:
            return lang
        try:
            candidates = language_candidates(lang)
        except ValueError:
            return None
        by_lower = {key.lower(): key for key in sorted(self)}
        for candidate in candidates:
            if candidate.lower() in by_lower:
                return by_lower[candidate.lower()]
        primary = candidates[-1].lower()
        return next((k for low, k in by_lower.items() if low.split("-")[0] == primary), None)

    def get_text(self, lang: str, *, fallback: str | None = "en") -> str:
        """The text in ``lang`` (see :meth:`key_for`); else the fallback language; else any
        language; else ``""``."""
        key = self.key_for(lang)
        if key is None and fallback is not None:
            key = self.key_for(fallback)
        if key is not None:
            return self[key]
        return next(iter(self.values()), "")

    def has(self, lang: str) -> bool:
        """Whether the text is written in ``lang`` (no fallback; see :meth:`key_for`)."""
        return self.key_for(lang) is not None

    def languages(self) -> tuple[str, ...]:
        """The languages present, sorted."""
        return tuple(sorted(self))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> LocalizedText:
            if isinstance(value, LocalizedText):
                return value
            if isinstance(value, str):
                _refuse_surrogates(value, cls.default_language)
                return cls({cls.default_language: value})
            if isinstance(value, Mapping):
                if not value:
                    raise PydanticCustomError("text_empty", "text must have at least one language")
                for key, item in value.items():
                    if not isinstance(key, str) or not re.fullmatch(
                        r"[a-z]{2,3}(-[A-Za-z0-9]+)*", key
                    ):
                        raise PydanticCustomError(
                            "text_lang", f"invalid language tag {key!r} (expected e.g. 'en', 'ar')"
                        )
                    if not isinstance(item, str):
                        raise PydanticCustomError(
                            "text_value", f"text for {key!r} must be a string"
                        )
                    _refuse_surrogates(item, key)
                return cls(dict(value))
            raise PydanticCustomError(
                "text_type", "expected text: a string or a mapping of language to string"
            )

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(dict),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "string"},
                {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1},
            ],
            "description": "Text shown to people, as a string (English) or {language: text}.",
        }


class Model(BaseModel):
    """Base of privacy_kit's edge models: frozen, no unknown keys, with "did you mean" hints."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        use_enum_values=False,
        validate_default=False,
        str_strip_whitespace=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = set(cls.model_fields) | {
                f.alias for f in cls.model_fields.values() if f.alias is not None
            }
            unknown = [k for k in data if isinstance(k, str) and k not in known]
            if unknown:
                key = unknown[0]
                hint = closest(key, known)
                suffix = (
                    f"; did you mean {hint!r}?" if hint else f"; expected one of {sorted(known)}"
                )
                raise PydanticCustomError("unknown_key", f"unknown key {key!r}{suffix}")
        return data

    def replace(self, **changes: Any) -> Self:
        """A validated copy with ``changes`` applied (models are frozen)."""
        data = self.model_dump(mode="python", by_alias=False)
        data.update(changes)
        return type(self).model_validate(data)
