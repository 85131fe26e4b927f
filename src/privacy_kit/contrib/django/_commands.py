"""What the management commands share: parsing a subject and ``--now``, and turning privacy_kit's
errors into ``CommandError`` with the exit codes of the ``privacy-kit`` command line (1: findings,
2: bad input)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.core.management.base import CommandError
from django.utils import timezone

from ..._errors import (
    AdapterError,
    ConfigurationError,
    PlanError,
    PolicyError,
    PrivacyKitError,
    SubjectError,
    UnknownNameError,
)
from ..._scope import Subject
from ...model import DataMap

__all__ = ["BAD_INPUT", "FINDINGS", "add_subject_arguments", "as_of", "command_errors", "subject"]

FINDINGS = 1
BAD_INPUT = 2


def add_subject_arguments(parser: Any) -> None:
    """``kind`` and one or more ``identity=value`` arguments, and ``--now``."""
    parser.add_argument("kind", help="the subject's kind in the data map (customer, member, ...)")
    parser.add_argument(
        "identities",
        nargs="+",
        metavar="identity=value",
        help="one or more identities of the subject, e.g. email=ann@example.com",
    )
    add_now_argument(parser)


def add_now_argument(parser: Any) -> None:
    """``--now``: the instant the operation is evaluated at (default: the current time)."""
    parser.add_argument(
        "--now",
        help="ISO 8601 instant with an offset, e.g. 2026-01-01T00:00:00+00:00 (default: now)",
    )


def as_of(text: str | None) -> dt.datetime:
    """``--now`` as an aware datetime (the current time when not given).

    Raises:
        CommandError: not ISO 8601, or without an offset (exit code 2).
    """
    if text is None:
        now: dt.datetime = timezone.now()
        return now
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--now {text!r} is not an ISO 8601 instant (e.g. 2026-01-01T00:00:00+00:00)",
            returncode=BAD_INPUT,
        ) from None
    if value.utcoffset() is None:
        raise CommandError(
            f"--now {text!r} has no offset: add one (+00:00 for UTC)", returncode=BAD_INPUT
        )
    return value


def subject(kind: str, identities: Sequence[str], *, datamap: DataMap | None = None) -> Subject:
    """The subject the ``kind`` and ``identity=value`` arguments name
    (:meth:`~privacy_kit.Subject.parse`), checked against ``datamap`` when given.

    Raises:
        CommandError: an argument without ``=``, an empty name or value, an identity given
            twice, or an unknown kind or identity (exit code 2).
    """
    try:
        return Subject.parse(identities, kind=kind, argument="identities", datamap=datamap)
    except SubjectError as exc:
        raise CommandError(_one_line(exc), returncode=BAD_INPUT) from exc


@contextlib.contextmanager
def command_errors() -> Iterator[None]:
    """privacy_kit's errors as ``CommandError`` (one line, no traceback): bad input (policy,
    data map, settings, subject, unknown names) exits 2, a store or plan failure 1."""
    try:
        yield
    except (ConfigurationError, PolicyError, SubjectError, UnknownNameError) as exc:
        raise CommandError(_one_line(exc), returncode=BAD_INPUT) from exc
    except (AdapterError, PlanError, PrivacyKitError) as exc:
        raise CommandError(_one_line(exc), returncode=FINDINGS) from exc


def _one_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return f"{type(exc).__name__}: {text}"
