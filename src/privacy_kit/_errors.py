"""The exception family of privacy_kit.

Every error privacy_kit raises on purpose derives from :class:`PrivacyKitError`, so that an
application can catch the whole family in one place. Where a builtin exception fits, the error
inherits it too, so ``except ValueError`` keeps working in code that does not know privacy_kit::

    PrivacyKitError
    ├── PolicyError (ValueError)           a policy or data map is malformed or inconsistent
    ├── ConfigurationError (ValueError)    an argument or setting is refused (override out of range, ...)
    │   └── NaiveDatetimeError             a datetime without a timezone where an instant is needed
    ├── SubjectError (ValueError)          a data subject that cannot be resolved (unknown kind or identity, bad value)
    ├── UnknownNameError (KeyError)        an unknown record type, field, jurisdiction, ... (did you mean?)
    ├── WrongTypeError (TypeError)         an argument of the wrong type (a path where a Policy is expected)
    ├── AdapterError (RuntimeError)        a storage adapter failed; names adapter, record type, operation
    │   └── SchemaMismatchError            the store lacks a record type or field the data map names
    ├── PlanError (RuntimeError)           a plan cannot be applied (stale, already applied elsewhere, ...)
    │   └── PlanFormatError (ValueError)   a plan's JSON document is corrupt or of an unknown format
    ├── RequestError (ValueError)          a data-subject request is invalid
    │   └── InvalidTransitionError         an illegal request state change
    ├── VerificationError (PermissionError) identity verification failed
    ├── AuditIntegrityError (ValueError)   the audit log was edited, reordered or truncated
    └── DisclosureError (PermissionError)  a disclosure the policy does not allow
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = [
    "AdapterError",
    "AuditIntegrityError",
    "ConfigurationError",
    "DisclosureError",
    "InvalidTransitionError",
    "NaiveDatetimeError",
    "PlanError",
    "PlanFormatError",
    "PolicyError",
    "PrivacyKitError",
    "Problem",
    "RequestError",
    "SchemaMismatchError",
    "SubjectError",
    "UnknownNameError",
    "VerificationError",
    "WrongTypeError",
]


class PrivacyKitError(Exception):
    """Base class of every error privacy_kit raises on purpose.

    Example:
        >>> import privacy_kit as pk
        >>> issubclass(pk.PolicyError, pk.PrivacyKitError)
        True
    """


@attrs.frozen
class Problem:
    """One thing wrong with an input: where it is and what was expected.

    Attributes:
        location: a path inside the document, such as ``retention[2].duration`` (empty for the root).
        message: what is wrong and, where possible, what was expected or meant.

    Example:
        >>> str(Problem("retention[2].duration", "must be positive"))
        'retention[2].duration: must be positive'
    """

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class PolicyError(PrivacyKitError, ValueError):
    """A policy or data map is malformed or its cross-references do not hold.

    Attributes:
        source: the file (or ``"<mapping>"``) the document came from.
        problems: every problem found, each with its location inside the document.

    Example:
        >>> err = PolicyError("policy.yaml", [Problem("version", "field required")])
        >>> print(err)
        policy.yaml: version: field required
    """

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.problems) == 1:
            return f"{self.source}: {self.problems[0]}"
        lines = [f"{self.source}: {len(self.problems)} problems"]
        lines.extend(f"  {problem}" for problem in self.problems)
        return "\n".join(lines)


class ConfigurationError(PrivacyKitError, ValueError):
    """An argument or setting is refused, such as a retention override outside the allowed range.

    Example:
        >>> raise ConfigurationError("override P20Y is outside P1D..P10Y")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.ConfigurationError: override P20Y is outside P1D..P10Y
    """


class SubjectError(PrivacyKitError, ValueError):
    """A data subject that cannot be resolved: an unknown kind or identity, or a value of the wrong type.

    Raised before any store is read, so a typo never becomes an empty export or erasure.

    Example:
        >>> import privacy_kit as pk
        >>> issubclass(pk.SubjectError, ValueError)
        True
    """


class NaiveDatetimeError(ConfigurationError):
    """A datetime without a timezone was given where an instant is needed (``now=``, ``as_of=``).

    It is a :class:`ConfigurationError`, so also a ``ValueError``.

    Attributes:
        argument: the name of the argument (``"now"``).
        value: the naive datetime that was given.

    Example:
        >>> import datetime as dt
        >>> err = NaiveDatetimeError("now", dt.datetime(2026, 1, 1))
        >>> print(err)
        now must be a timezone-aware datetime, got 2026-01-01 00:00:00 (naive)
        >>> isinstance(err, ValueError)
        True
    """

    def __init__(self, argument: str, value: object) -> None:
        self.argument = argument
        self.value = value
        super().__init__(f"{argument} must be a timezone-aware datetime, got {value} (naive)")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.argument, self.value))


class UnknownNameError(PrivacyKitError, KeyError):
    """A name that is not known: a record type, a field, a jurisdiction, ...

    It is also a ``KeyError`` (so a ``LookupError``); unlike a plain ``KeyError`` its ``str()`` is
    the readable message, with a "did you mean" hint when a known name is close.

    Attributes:
        kind: what was looked up (``"record type"``, ``"field"``, ``"jurisdiction"``).
        name: the name that was given.
        hint: the closest known name, or ``None``.
        known: the known names, when the message lists them.
        owner: where it was looked up (``"record type 'users'"``), or ``None``.

    Example:
        >>> err = UnknownNameError("record type", "booking", hint="bookings")
        >>> print(err)
        unknown record type 'booking'; did you mean 'bookings'?
        >>> print(UnknownNameError("field", "mail", owner="record type 'users'", known=["id", "email"]))
        record type 'users' has no field 'mail'; known: id, email
        >>> isinstance(err, KeyError)
        True
    """

    def __init__(
        self,
        kind: str,
        name: object,
        *,
        hint: str | None = None,
        known: Sequence[str] = (),
        owner: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.hint = hint
        self.known: tuple[str, ...] = tuple(known)
        self.owner = owner
        message = f"{owner} has no {kind} {name!r}" if owner else f"unknown {kind} {name!r}"
        if hint is not None:
            message += f"; did you mean {hint!r}?"
        if self.known:
            message += f"{' (' if hint is not None else '; '}known: {', '.join(self.known)}"
            message += ")" if hint is not None else ""
        super().__init__(message)

    def __str__(self) -> str:
        # KeyError's own __str__ shows the repr of its argument, quotes and all.
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        rebuild = functools.partial(type(self), hint=self.hint, known=self.known, owner=self.owner)
        return (rebuild, (self.kind, self.name))


class WrongTypeError(PrivacyKitError, TypeError):
    """An argument of the wrong type, such as a path where a :class:`~privacy_kit.Policy` is expected.

    Example:
        >>> raise WrongTypeError("policy must be a Policy, a path or a mapping, got int")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.WrongTypeError: policy must be a Policy, a path or a mapping, got int
    """


class AdapterError(PrivacyKitError, RuntimeError):
    """A storage adapter failed; the message names the adapter, record type and operation.

    The original exception is chained as ``__cause__``.

    Example:
        >>> str(AdapterError("boom", adapter="SQLiteAdapter", record_type="bookings", operation="delete"))
        'SQLiteAdapter: delete on bookings failed: boom'
    """

    def __init__(
        self,
        message: str,
        *,
        adapter: str,
        record_type: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.adapter = adapter
        self.record_type = record_type
        self.operation = operation
        self.detail = message
        where = adapter
        if operation and record_type:
            where = f"{adapter}: {operation} on {record_type} failed"
        elif operation:
            where = f"{adapter}: {operation} failed"
        elif record_type:
            where = f"{adapter}: {record_type}"
        super().__init__(f"{where}: {message}")


class SchemaMismatchError(AdapterError):
    """The store lacks record types or fields that the data map names (found by ``verify``)."""


class PlanError(PrivacyKitError, RuntimeError):
    """A plan cannot be applied as it stands."""


class PlanFormatError(PlanError, ValueError):
    """A plan's JSON document (``to_json``) cannot be read: corrupt, truncated, or of a format
    this version does not know. It is a :class:`PlanError`, and a ``ValueError`` too.

    Attributes:
        location: where in the document, such as ``plan.entries[2].cutoff`` (empty: the whole).
        detail: what is wrong there.

    Example:
        >>> print(PlanFormatError("plan.entries[2].cutoff", "expected an ISO 8601 datetime"))
        plan document: plan.entries[2].cutoff: expected an ISO 8601 datetime
    """

    def __init__(self, location: str, detail: str) -> None:
        self.location = location
        self.detail = detail
        where = f"plan document: {location}" if location else "plan document"
        super().__init__(f"{where}: {detail}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.location, self.detail))


class RequestError(PrivacyKitError, ValueError):
    """A data-subject request is invalid."""


class InvalidTransitionError(RequestError):
    """A data-subject request was asked to move to a state it cannot reach from its current one."""


class VerificationError(PrivacyKitError, PermissionError):
    """Identity verification failed (wrong, expired or reused code, or too many attempts)."""


class AuditIntegrityError(PrivacyKitError, ValueError):
    """The audit log does not verify: an entry was edited, removed or reordered."""


class DisclosureError(PrivacyKitError, PermissionError):
    """A disclosure the policy does not allow (undisclosed recipient, category or purpose)."""
