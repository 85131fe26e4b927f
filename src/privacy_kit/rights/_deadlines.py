"""Deadline arithmetic for data-subject requests: :func:`add_deadline` counts a period from a
date (calendar months, so received 31 January is due 28 or 29 February; or business days,
Monday to Friday), and :data:`STOP_THE_CLOCK` says, per jurisdiction and with its source, whether
time spent awaiting the subject's identity stops the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import NamedTuple

from .._types import Duration

__all__ = ["STOP_THE_CLOCK", "ClockRule", "add_deadline"]


class ClockRule(NamedTuple):
    """Whether awaiting the subject's identity stops a regime's clock, and where that comes from.

    A tuple, so ``rule[0]`` (stops) and ``rule[1]`` (source) read as before.

    Attributes:
        stops: whether the deadline does not run while identity is awaited.
        source: why, with the provision it comes from.
        confirmed: whether the provision was confirmed against the official text (``False``:
            the rule is applied as stated, but its exact citation is still to be confirmed).

    Example:
        >>> STOP_THE_CLOCK["uk_gdpr"].stops, STOP_THE_CLOCK["uk_gdpr"].confirmed
        (True, False)
    """

    stops: bool
    source: str
    confirmed: bool = True


#: Whether time spent awaiting identity stops the clock, per jurisdiction, and why.
STOP_THE_CLOCK: Mapping[str, ClockRule] = {
    "uk_gdpr": ClockRule(
        stops=True,
        source=(
            "UK GDPR Art. 12 as amended by the Data (Use and Access) Act 2025: the time limit "
            "does not run while the controller awaits information needed to confirm identity; "
            "the exact article of the 2025 Act was not confirmed against the official text"
        ),
        confirmed=False,
    ),
    "gdpr": ClockRule(
        stops=False,
        source=(
            "privacy_kit's conservative choice: GDPR Art. 12(3) counts one month from receipt and "
            "has no stop-the-clock rule; pass stop_the_clock=True to follow a supervisory "
            "authority that counts from receipt of the identity information"
        ),
    ),
    "ccpa": ClockRule(
        stops=False,
        source="CCPA regs 7021(b): the 45 days begin on receipt, regardless of the time needed to verify",
    ),
    "lgpd": ClockRule(stops=False, source="LGPD Art. 19: no provision pauses the 15 days"),
    "pipeda": ClockRule(stops=False, source="PIPEDA s. 8(3): no provision pauses the 30 days"),
}


def _add_business_days(start: dt.date, days: int) -> dt.date:
    current = start
    while days > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def add_deadline(start: dt.date, duration: Duration, *, business_days: bool = False) -> dt.date:
    """The date ``duration`` after ``start`` (calendar months; Mon-Fri if ``business_days``).

    Example:
        >>> add_deadline(dt.date(2024, 1, 31), Duration(months=1))
        datetime.date(2024, 2, 29)
        >>> add_deadline(dt.date(2026, 1, 2), Duration(days=10), business_days=True)  # a Friday
        datetime.date(2026, 1, 16)
    """
    if not business_days:
        return duration.after(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)).date()
    if duration.years or duration.months or duration.hours or duration.minutes or duration.seconds:
        raise ValueError(f"business-day deadlines must be whole days or weeks, got {duration}")
    return _add_business_days(start, duration.days + 7 * duration.weeks)
