"""The engine's collaborators (audit log, legal holds, preferences, commitments), made on use.

An :class:`~privacy_kit.Engine` given none of them makes the default one the first time it is
needed, so constructing an engine does not import (or build) what a program never uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ..audit._log import AuditLog
    from ..audit._state import StateStore
    from ..retention._commitments import CommitmentRegistry
    from ..retention._holds import HoldRegistry
    from ..rights._preferences import Preferences

__all__ = ["Collaborators"]


class Collaborators:
    """The engine's audit log, holds, preferences and commitments (a base of the Engine).

    Each is the one given to the engine, or a default made on first access (in the engine's
    state store when it has one, else in memory); assigning one replaces it.
    """

    state: StateStore | None
    _audit: AuditLog | None
    _holds: HoldRegistry | None
    _preferences: Preferences | None
    _commitments: CommitmentRegistry | None

    @property
    def audit(self) -> AuditLog:
        """The :class:`~privacy_kit.AuditLog` every operation records to (default: in memory)."""
        if self._audit is None:
            from ..audit._log import AuditLog  # noqa: PLC0415 - on use

            self._audit = AuditLog.memory()
        return self._audit

    @audit.setter
    def audit(self, value: AuditLog) -> None:
        self._audit = value

    @property
    def holds(self) -> HoldRegistry:
        """The legal holds (default: a :class:`~privacy_kit.HoldRegistry` in the state store,
        or in memory)."""
        if self._holds is None:
            from ..retention._holds import HoldRegistry  # noqa: PLC0415 - on use

            self._holds = HoldRegistry(state=self.state)
        return self._holds

    @holds.setter
    def holds(self, value: HoldRegistry) -> None:
        self._holds = value

    @property
    def preferences(self) -> Preferences:
        """The subjects' recorded choices (default: in the state store, or in memory)."""
        if self._preferences is None:
            from ..rights._preferences import Preferences  # noqa: PLC0415 - on use

            self._preferences = Preferences(state=self.state)
        return self._preferences

    @preferences.setter
    def preferences(self, value: Preferences) -> None:
        self._preferences = value

    @property
    def commitments(self) -> CommitmentRegistry:
        """What erasures keep "until" a date, for the sweep to carry out then (default: in the
        state store, or in memory)."""
        if self._commitments is None:
            from ..retention._commitments import CommitmentRegistry  # noqa: PLC0415 - on use

            self._commitments = CommitmentRegistry(state=self.state)
        return self._commitments

    @commitments.setter
    def commitments(self, value: CommitmentRegistry) -> None:
        self._commitments = value
