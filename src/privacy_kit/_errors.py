"""The exception family of privacy_kit.

Every error privacy_kit raises on purpose derives from :class:`PrivacyKitError`, so that an
application can catch the whole family in one place. Where a builtin exception fits, the error
inherits it too, so ``except ValueError`` keeps working in code that does not know privacy_kit::

    PrivacyKitError
    ├── PolicyError (ValueError)           a policy or data map is malformed or inconsistent
    ├── ConfigurationError (ValueError)    an argument or setting is refused (override out of range, ...)
    ├── SubjectError (ValueError)          a data subject that cannot be resolved (unknown kind or identity, bad value)
    ├── AdapterError (RuntimeError)        a storage adapter failed; names adapter, record type, operation
    │   └── SchemaMismatchError            the store lacks a record type or field the data map names
    ├── PlanError (RuntimeError)           a plan cannot be applied (stale, already applied elsewhere, ...)
    ├── RequestError (ValueError)          a data-subject request is invalid
    │   └── InvalidTransitionError         an illegal request state change
    ├── VerificationError (PermissionError) identity verification failed
    ├── AuditIntegrityError (ValueError)   the audit log was edited, reordered or truncated
    └── DisclosureError (PermissionError)  a disclosure the policy does not allow
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = [
    "AdapterError",
    "AuditIntegrityError",
    "ConfigurationError",
    "DisclosureError",
    "InvalidTransitionError",
    "PlanError",
    "PolicyError",
    "PrivacyKitError",
    "Problem",
    "RequestError",
    "SchemaMismatchError",
    "SubjectError",
    "VerificationError",
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
