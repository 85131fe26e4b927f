"""The engine: the one place where the policy, the data map and the adapters meet.

:class:`Engine` resolves a :class:`Subject` once into an immutable scope and hands that value,
with the narrow collaborators an operation needs, down to :mod:`privacy_kit.rights`,
:mod:`privacy_kit.retention` and :mod:`privacy_kit.lifecycle`.

Layer rule: may import every layer below it; only :mod:`privacy_kit.testing` and
:mod:`privacy_kit.cli` import it.

Example:
    >>> from privacy_kit.engine import Engine, Subject
    >>> str(Subject.of("customer", user_id=7))
    'customer(user_id=7)'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

# name -> the module that defines it
_NAMES: dict[str, str] = {
    "Applying": "._apply",
    "Choices": "._choices",
    "Engine": "._engine",
    "Plan": "._engine",
    "Subject": ".._scope",
    "SubjectResolver": "._resolve",
    "Sweeps": "._sweeps",
    "UnsharedSecretWarning": "._engine",
    "Verifying": "._verifying",
}

__all__ = [
    "Applying",
    "Choices",
    "Engine",
    "Plan",
    "Subject",
    "SubjectResolver",
    "Sweeps",
    "UnsharedSecretWarning",
    "Verifying",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .._scope import Subject
    from ._apply import Applying
    from ._choices import Choices
    from ._engine import Engine, Plan, UnsharedSecretWarning
    from ._resolve import SubjectResolver
    from ._sweeps import Sweeps
    from ._verifying import Verifying
