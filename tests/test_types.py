"""Duration (parsing, errors, calendar arithmetic, ordering) and LocalizedText."""

from __future__ import annotations

import datetime as dt
import operator
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
import pytest
from dateutil.relativedelta import relativedelta

import privacy_kit as pk
from privacy_kit import Duration, LocalizedText
from privacy_kit._types import Model, closest, require_aware

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P1Y", Duration(years=1)),
        ("P1Y6M", Duration(years=1, months=6)),
        ("P30D", Duration(days=30)),
        ("P2W", Duration(weeks=2)),
        ("PT72H", Duration(hours=72)),
        ("PT1H30M", Duration(hours=1, minutes=30)),
        ("P1DT12H", Duration(days=1, hours=12)),
        ("PT45S", Duration(seconds=45)),
        ("p30d", Duration(days=30)),
        ("  P6Y  ", Duration(years=6)),
        ("P0D", Duration()),
    ],
)
def test_parse_iso(text: str, expected: Duration) -> None:
    assert Duration.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30 days", Duration(days=30)),
        ("1 day", Duration(days=1)),
        ("1 year 6 months", Duration(years=1, months=6)),
        ("1 year, 6 months and 2 days", Duration(years=1, months=6, days=2)),
        ("72 hours", Duration(hours=72)),
        ("2 Weeks", Duration(weeks=2)),
        ("30days", Duration(days=30)),
        ("1 minute 1 second", Duration(minutes=1, seconds=1)),
        ("3 days 2 days", Duration(days=5)),
    ],
)
def test_parse_words(text: str, expected: Duration) -> None:
    assert Duration.parse(text) == expected


def test_parse_accepts_a_duration() -> None:
    d = Duration(days=3)
    assert Duration.parse(d) is d


@pytest.mark.parametrize("text", ["-P1D", "-3 days", " -1 year"])
def test_negative_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="negative"):
        Duration.parse(text)


def test_negative_parts_are_refused() -> None:
    with pytest.raises(ValueError, match=r"must not be negative \(days=-1\)"):
        Duration(days=-1)


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "P1DT", "forever", "P1.5Y", "1.5 years", "P-1D", "3 days 2", "Y1P"]
)
def test_garbage_is_refused_with_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid duration|unknown duration unit") as info:
        Duration.parse(text)
    assert "P30D" in str(info.value) or "use years, months" in str(info.value)


def test_unknown_unit_is_named() -> None:
    with pytest.raises(ValueError, match="unknown duration unit 'fortnight'"):
        Duration.parse("3 fortnights")


def test_too_long_is_refused_instead_of_crashing_comparisons() -> None:
    assert Duration.parse("P1000Y") > Duration.parse("P999Y")
    for text in ("P1001Y", "P99999Y", "P99999999999999999999D"):
        with pytest.raises(ValueError, match="too long"):
            Duration.parse(text)


def test_zero() -> None:
    assert Duration().is_zero()
    assert Duration.parse("0 days").is_zero()
    assert not Duration(seconds=1).is_zero()
    assert str(Duration()) == "P0D"
    assert Duration().describe() == "0 days"


@pytest.mark.parametrize(
    ("duration", "text", "words"),
    [
        (Duration(years=1, months=6), "P1Y6M", "1 year 6 months"),
        (Duration(hours=72), "PT72H", "72 hours"),
        (Duration(days=1, minutes=5), "P1DT5M", "1 day 5 minutes"),
        (Duration(weeks=1, seconds=2), "P1WT2S", "1 week 2 seconds"),
    ],
)
def test_str_and_describe(duration: Duration, text: str, words: str) -> None:
    assert str(duration) == text
    assert duration.describe() == words
    assert Duration.parse(text) == duration == Duration.parse(words)


# --- calendar arithmetic ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "duration", "end"),
    [
        # month ends clamp to the last day of the shorter month
        (dt.datetime(2024, 1, 31, tzinfo=UTC), "P1M", dt.datetime(2024, 2, 29, tzinfo=UTC)),
        (dt.datetime(2023, 1, 31, tzinfo=UTC), "P1M", dt.datetime(2023, 2, 28, tzinfo=UTC)),
        (dt.datetime(2024, 3, 31, tzinfo=UTC), "P1M", dt.datetime(2024, 4, 30, tzinfo=UTC)),
        (dt.datetime(2024, 1, 31, tzinfo=UTC), "P2M", dt.datetime(2024, 3, 31, tzinfo=UTC)),
        # leap day plus a year lands on 28 February; plus four years on 29 February
        (dt.datetime(2024, 2, 29, tzinfo=UTC), "P1Y", dt.datetime(2025, 2, 28, tzinfo=UTC)),
        (dt.datetime(2024, 2, 29, tzinfo=UTC), "P4Y", dt.datetime(2028, 2, 29, tzinfo=UTC)),
        # a year is not 365 days across a leap year
        (dt.datetime(2023, 6, 1, tzinfo=UTC), "P1Y", dt.datetime(2024, 6, 1, tzinfo=UTC)),
        (dt.datetime(2023, 6, 1, tzinfo=UTC), "P365D", dt.datetime(2024, 5, 31, tzinfo=UTC)),
        (dt.datetime(2024, 5, 1, 9, tzinfo=UTC), "PT72H", dt.datetime(2024, 5, 4, 9, tzinfo=UTC)),
    ],
)
def test_after_is_calendar_aware(start: dt.datetime, duration: str, end: dt.datetime) -> None:
    assert Duration.parse(duration).after(start) == end


def test_before_is_the_inverse_on_ordinary_dates() -> None:
    now = dt.datetime(2024, 3, 31, 12, tzinfo=UTC)
    assert Duration.parse("P1M").before(now) == dt.datetime(2024, 2, 29, 12, tzinfo=UTC)
    assert Duration.parse("P6Y").before(now) == dt.datetime(2018, 3, 31, 12, tzinfo=UTC)
    start = dt.datetime(2024, 5, 15, tzinfo=UTC)
    assert Duration.parse("P1Y2M3DT4H").before(Duration.parse("P1Y2M3DT4H").after(start)) == start


def test_after_keeps_the_timezone() -> None:
    tz = dt.timezone(dt.timedelta(hours=3))
    assert Duration.parse("P1D").after(dt.datetime(2024, 1, 1, tzinfo=tz)).tzinfo is tz


def test_ordering_is_by_length_on_the_calendar() -> None:
    assert Duration.parse("P1M") < Duration.parse("P31D")
    assert Duration.parse("P1Y") > Duration.parse("P11M")
    assert Duration.parse("PT72H") <= Duration.parse("P3D")
    assert Duration.parse("PT72H") >= Duration.parse("P3D")
    # equal length, different spelling: ordered equal, not ==
    assert Duration.parse("PT72H") != Duration.parse("P3D")
    assert Duration.parse("P1W") != Duration.parse("P7D")
    assert sorted(map(Duration.parse, ["P1Y", "P1D", "P1M"])) == list(
        map(Duration.parse, ["P1D", "P1M", "P1Y"])
    )


def test_total_hint_and_relativedelta() -> None:
    assert Duration.parse("P2D").total_hint() == dt.timedelta(days=2)
    rd = Duration.parse("P1Y2M").to_relativedelta()
    assert (rd.years, rd.months) == (1, 2)


_STARTS = [
    dt.datetime(2024, 1, 31, 10, 30, tzinfo=UTC),
    dt.datetime(2024, 2, 29, tzinfo=UTC),
    dt.datetime(2023, 3, 31, 23, 59, 59, 999999, tzinfo=UTC),
    dt.datetime(2000, 12, 31, tzinfo=UTC),
    dt.datetime(1900, 2, 28, tzinfo=UTC),
    dt.datetime(2026, 3, 29, 0, 30, tzinfo=ZoneInfo("Europe/London")),
    dt.datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=ZoneInfo("Europe/London")),
    dt.datetime(2026, 5, 31, 12),  # naive: the arithmetic is the same
    dt.datetime(1, 1, 31, tzinfo=UTC),
    dt.datetime(9999, 11, 30, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 23, tzinfo=UTC),
]
_SPANS = [
    "P0D",
    "P1M",
    "P1Y",
    "P11M",
    "P12M",
    "P13M",
    "P1Y11M",
    "P2M3DT4H",
    "P1W",
    "PT25H",
    "P59D",
    "PT90M",
    "PT3601S",
    "P400Y",
    "P999Y11M",
    "P1Y1M1W1DT1H1M1S",
    "P100M",
    "P48M",
]


def _outcome(compute: Any, *args: Any) -> Any:
    try:
        value = compute(*args)
    except (ValueError, OverflowError) as exc:
        return type(exc), str(exc)
    return value, value.tzinfo, value.fold


@pytest.mark.parametrize("text", _SPANS)
def test_after_and_before_add_as_relativedelta_does(text: str) -> None:
    """``after``/``before`` do their own calendar arithmetic (dateutil is not imported to load a
    policy): the same instants as ``relativedelta``, the same errors at the calendar's ends."""
    duration = Duration.parse(text)
    delta = relativedelta(
        **{u: getattr(duration, u) for u in ("years", "months", "weeks")},
        **{u: getattr(duration, u) for u in ("days", "hours", "minutes", "seconds")},
    )
    for start in _STARTS:
        assert _outcome(duration.after, start) == _outcome(operator.add, start, delta)
        assert _outcome(duration.before, start) == _outcome(operator.sub, start, delta)
    day = dt.date(2024, 1, 31)  # a date: relativedelta's own rules
    assert duration.after(day) == day + delta  # type: ignore[arg-type]
    assert duration.before(day) == day - delta  # type: ignore[arg-type]


def test_duration_is_hashable_and_frozen() -> None:
    d = Duration(days=1)
    assert {d, Duration(days=1)} == {d}
    with pytest.raises(AttributeError):
        d.days = 2  # type: ignore[misc]


# --- in pydantic models -------------------------------------------------------------------------


class _Holder(Model):
    duration: Duration
    text: LocalizedText | None = None


def test_duration_in_a_model_validates_and_serialises() -> None:
    h = _Holder.model_validate({"duration": "1 year 6 months"})
    assert h.duration == Duration(years=1, months=6)
    assert h.model_dump(mode="json") == {"duration": "P1Y6M", "text": None}
    assert _Holder.model_validate_json(h.model_dump_json()) == h
    assert _Holder(duration=Duration(days=1)).duration.days == 1


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (30, "expected a duration string"),
        ("soon", "invalid duration 'soon'"),
        ("-P1D", "negative"),
    ],
)
def test_bad_duration_in_a_model(value: object, fragment: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=fragment):
        _Holder.model_validate({"duration": value})


def test_duration_json_schema() -> None:
    schema = _Holder.model_json_schema()
    assert schema["properties"]["duration"]["type"] == "string"


# --- LocalizedText ----------------------------------------------------------------------------


def test_localized_text_lookup_and_fallback() -> None:
    t = LocalizedText({"en": "Hello", "ar": "مرحبا"})
    assert t.get_text("ar") == "مرحبا"
    assert t.get_text("ar-EG") == "مرحبا"  # a regional tag falls back to its language
    assert t.get_text("fr") == "Hello"  # then to the fallback language
    assert LocalizedText({"ar": "مرحبا"}).get_text("fr") == "مرحبا"  # then to any language
    assert LocalizedText({"ar": "مرحبا", "fr": "Salut"}).get_text("de", fallback="fr") == "Salut"
    assert LocalizedText({}).get_text("en") == ""
    assert t.has("ar")
    assert t.has("en-GB")
    assert not t.has("fr")
    assert t.languages() == ("ar", "en")


def test_localized_text_is_hashable() -> None:
    a = LocalizedText({"en": "x", "ar": "y"})
    b = LocalizedText({"ar": "y", "en": "x"})
    assert hash(a) == hash(b)
    assert a == b


def test_localized_text_validation() -> None:
    assert _Holder.model_validate({"duration": "P1D", "text": "Hi"}).text == {"en": "Hi"}
    h = _Holder.model_validate({"duration": "P1D", "text": {"en": "Hi", "pt-BR": "Oi"}})
    assert isinstance(h.text, LocalizedText)
    assert h.text.get_text("pt-BR") == "Oi"
    assert h.model_dump(mode="json")["text"] == {"en": "Hi", "pt-BR": "Oi"}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({}, "at least one language"),
        ({"EN": "Hi"}, "invalid language tag 'EN'"),
        ({"english": "Hi"}, "invalid language tag 'english'"),
        ({"en": 3}, "text for 'en' must be a string"),
        (["Hi"], "a string or a mapping of language to string"),
        (42, "a string or a mapping"),
    ],
)
def test_localized_text_errors(value: object, fragment: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=fragment):
        _Holder.model_validate({"duration": "P1D", "text": value})


# --- the base model and helpers ----------------------------------------------------------------


def test_model_is_frozen_and_refuses_unknown_keys_with_a_hint() -> None:
    h = _Holder(duration=Duration(days=1))
    with pytest.raises(pydantic.ValidationError):
        h.duration = Duration(days=2)  # type: ignore[misc]
    with pytest.raises(
        pydantic.ValidationError, match="unknown key 'duraton'; did you mean 'duration'"
    ):
        _Holder.model_validate({"duraton": "P1D"})
    with pytest.raises(pydantic.ValidationError, match=r"unknown key 'zzz'; expected one of"):
        _Holder.model_validate({"duration": "P1D", "zzz": 1})


def test_replace_validates() -> None:
    h = _Holder(duration=Duration(days=1))
    assert h.replace(duration="P2D").duration == Duration(days=2)
    with pytest.raises(pydantic.ValidationError):
        h.replace(duration="nope")


def test_closest_and_require_aware() -> None:
    assert closest("retension", ["retention", "rights"]) == "retention"
    assert closest("xyz", ["retention"]) is None
    aware = dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert require_aware(aware) is aware
    with pytest.raises(ValueError, match="at must be a timezone-aware datetime"):
        require_aware(dt.datetime(2024, 1, 1), "at")


def test_public_names() -> None:
    assert pk.Duration is Duration
    assert pk.LocalizedText is LocalizedText


def test_require_aware_refuses_with_privacy_kit_errors() -> None:
    with pytest.raises(pk.NaiveDatetimeError) as info:
        require_aware(dt.datetime(2024, 1, 1), "as_of")
    err = info.value
    assert isinstance(err, pk.ConfigurationError)
    assert isinstance(err, ValueError)
    assert err.argument == "as_of"
    assert err.value == dt.datetime(2024, 1, 1)
    # a date, a string: not an instant at all (was an AttributeError)
    for value in (dt.date(2024, 1, 1), "2024-01-01T00:00:00+00:00", None):
        with pytest.raises(pk.WrongTypeError, match="now must be a timezone-aware datetime, got"):
            require_aware(value)  # type: ignore[arg-type]


def test_closest_prefers_a_match_that_differs_only_in_case() -> None:
    assert closest("Bookings", ["booking_notes", "bookings"]) == "bookings"
    assert closest("GDPR", ["gdpr", "uk_gdpr"]) == "gdpr"


def test_duration_errors_are_privacy_kit_errors() -> None:
    with pytest.raises(pk.ConfigurationError, match="invalid duration 'forever'") as info:
        Duration.parse("forever")
    assert isinstance(info.value, ValueError)
    with pytest.raises(pk.ConfigurationError, match="must not be negative"):
        Duration(days=-1)
    with pytest.raises(pk.WrongTypeError, match="expected a duration string"):
        Duration.parse(30)  # type: ignore[arg-type]
    with pytest.raises(pk.WrongTypeError, match="duration part days must be an integer"):
        Duration(days="3")  # type: ignore[arg-type]
