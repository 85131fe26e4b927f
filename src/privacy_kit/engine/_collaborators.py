"""The engine's collaborators (audit log, legal holds, preferences, commitments, identity
verifier), made on use.

An :class:`~privacy_kit.Engine` given none of them makes the default one the first time it is
needed, so constructing an engine does not import (or build) what a program never uses.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ..audit._log import AuditLog
    from ..audit._state import StateStore
    from ..retention._commitments import CommitmentRegistry
    from ..retention._holds import HoldRegistry
    from ..rights._preferences import Preferences
    from ..rights._verification import Verifier

__all__ = ["Collaborators"]


class Collaborators:
    """The engine's audit log, holds, preferences, commitments and verifier (a base of the Engine).

    Each is the one given to the engine, or a default made on first access (in the engine's
    state store when it has one, else in memory); assigning one replaces it.
    """

    state: StateStore | None
    secret: bytes
    _audit: AuditLog | None
    _holds: HoldRegistry | None
    _preferences: Preferences | None
    _commitments: CommitmentRegistry | None
    _verifier: Verifier | None = None

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

    @property
    def verifier(self) -> Verifier:
        """The identity :class:`~privacy_kit.Verifier` (default: a
        :class:`~privacy_kit.CodeVerifier` whose challenges live in the state store, so a code
        issued by one process is checked by another and works once across all of them; without
        a store, one in memory, for this engine only, keyed by a key derived from its secret).

        Example:
            >>> import privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> from privacy_kit.audit import MemoryStateStore
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> store = MemoryStateStore()
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm,
            ...     InMemoryAdapter({rt.table_name: [] for rt in dm.record_types}), state=store)
            >>> engine.verifier.state is store
            True
        """
        if self._verifier is None:
            from ..rights._verification import CodeVerifier  # noqa: PLC0415 - on use

            if self.state is not None:
                self._verifier = CodeVerifier.shared(self.state)
            else:
                # A key of its own: the engine's secret also signs references and tokens.
                key = hmac.new(self.secret, b"privacy_kit.verification", hashlib.sha256).digest()
                self._verifier = CodeVerifier(key)
        return self._verifier

    @verifier.setter
    def verifier(self, value: Verifier) -> None:
        self._verifier = value
