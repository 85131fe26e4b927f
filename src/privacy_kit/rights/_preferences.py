"""Subjects' recorded choices: objections, restrictions, opt-outs, and the decisions they imply.

A :class:`Preferences` registry keeps, per subject *reference* (``engine.reference(subject)``),
the purposes objected to, the active restrictions with their Art. 18(1) ground, the
communications opted out of, and the opt-out of sale or sharing (including a Global Privacy
Control signal), each with the time it took effect and, once lifted, the time it ended. Questions
are asked *as of* a time: ``may_process(ref, purpose, now=...)`` and
``may_send(ref, communication, now=...)`` return a :class:`Decision` saying whether, why, and
under which article.

The registry is kept in memory, per instance, or in a :class:`~privacy_kit.audit.StateStore`
(``Preferences(state=store)``), shared by every process that opens the store, each change one
atomic update; :meth:`Preferences.save_json` /
:meth:`Preferences.load_json` and :meth:`Preferences.save_sqlite` / :meth:`Preferences.load_sqlite`
persist a snapshot of it (:mod:`._preference_store`). The records and decisions are defined in
:mod:`._preference_records`; unsubscribe links carry a token from :mod:`._unsubscribe`.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from .._errors import ConfigurationError
from ..audit._state import StateStore
from ..model._policy_rights import Communication, CommunicationKind
from ..model._taxonomy import LegalBasis, Purpose
from . import _preference_store
from ._preference_records import (
    Decision,
    PreferenceRecord,
    RecordKind,
    RestrictionGround,
    _allow,
    _covers,
    _refuse,
    _to_utc,
)
from ._preference_store import MemoryRecords, StateRecords

__all__ = ["Preferences"]


class Preferences:
    """Each subject's objections, restrictions and opt-outs, and the decisions they imply.

    Args:
        storage_purposes: purpose keys (and their sub-keys) that amount to storage only, which
            Art. 18(2) still allows while processing is restricted.
        legal_claims_purposes: purpose keys (and sub-keys) for the establishment, exercise or
            defence of legal claims, which Art. 18(2) also allows while restricted.
        restriction_blocks_transactional: whether a restriction also stops transactional
            messages (default ``False``; see :meth:`may_send`).
        state: a :class:`~privacy_kit.audit.StateStore` to keep the records in (collection
            ``preferences``, key ``subject|kind|key``): an objection recorded in one process is
            honoured in every other. ``None`` keeps them in memory, per instance.

    Example:
        >>> prefs = Preferences()
        >>> now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
        >>> ads = Purpose(key="marketing.email", name="Promotional email",
        ...               legal_basis="consent", direct_marketing=True)
        >>> prefs.may_process("subj_1", ads, now=now).allowed
        True
        >>> _ = prefs.object_to("subj_1", "marketing", now=now)
        >>> print(prefs.may_process("subj_1", ads, now=now))
        refused: objected to 'marketing' (direct marketing: the objection is absolute) (GDPR Art. 21(3))
    """

    def __init__(
        self,
        *,
        storage_purposes: Iterable[str] = ("storage",),
        legal_claims_purposes: Iterable[str] = ("legal.claims",),
        restriction_blocks_transactional: bool = False,
        state: StateStore | None = None,
    ) -> None:
        self.storage_purposes = tuple(storage_purposes)
        self.legal_claims_purposes = tuple(legal_claims_purposes)
        self.restriction_blocks_transactional = restriction_blocks_transactional
        self.state = state
        self._records: MemoryRecords | StateRecords = (
            MemoryRecords() if state is None else StateRecords(state)
        )

    # -- recording --------------------------------------------------------------------------
    def _start(
        self,
        subject_ref: str,
        kind: RecordKind,
        key: str,
        now: dt.datetime,
        *,
        note: str | None = None,
        source: str | None = None,
    ) -> PreferenceRecord:
        if not subject_ref:
            raise ValueError("subject_ref must be a non-empty reference string")
        if not key:
            raise ValueError(f"{kind}: key must not be empty")
        at = _to_utc(now, "now")
        record = PreferenceRecord(subject_ref, kind, key, at, None, note, source)

        def start(current: PreferenceRecord | None) -> PreferenceRecord:
            if current is not None and current.active(at):
                return current  # idempotent: already in effect
            return record

        kept = self._records.change(subject_ref, kind, key, start)
        return record if kept is None else kept

    def _end(
        self, subject_ref: str, kind: RecordKind, key: str, now: dt.datetime
    ) -> PreferenceRecord | None:
        at = _to_utc(now, "now")
        ended: list[bool] = []

        def end(current: PreferenceRecord | None) -> PreferenceRecord | None:
            ended.clear()  # the store may call this again: the last call is the one kept
            if current is None or not current.active(at):
                return current
            ended.append(True)
            return attrs.evolve(current, ended_at=at)

        kept = self._records.change(subject_ref, kind, key, end)
        return kept if ended else None

    def object_to(
        self,
        subject_ref: str,
        purpose_key: str,
        *,
        now: dt.datetime,
        reason: str | None = None,
    ) -> PreferenceRecord:
        """Record an objection to ``purpose_key`` (and the purposes beneath it).

        Args:
            subject_ref: the subject's reference.
            purpose_key: the purpose objected to.
            now: when the objection was made.
            reason: the subject's grounds, if they gave any (kept here, never in the audit log).

        Returns:
            The record (the existing one if the objection is already in effect).
        """
        return self._start(subject_ref, "objection", purpose_key, now, note=reason)

    def withdraw_objection(
        self, subject_ref: str, purpose_key: str, *, now: dt.datetime
    ) -> PreferenceRecord | None:
        """End an objection (``None`` if none was in effect)."""
        self._end(subject_ref, "compelling_grounds", purpose_key, now)
        return self._end(subject_ref, "objection", purpose_key, now)

    def record_compelling_grounds(
        self, subject_ref: str, purpose_key: str, grounds: str, *, now: dt.datetime
    ) -> PreferenceRecord:
        """Record the controller's compelling legitimate grounds that override an objection (Art. 21(1)).

        They only matter for purposes on legitimate interests or a public task; they never
        override an objection to direct marketing (Art. 21(3)).

        Raises:
            ValueError: ``grounds`` is empty.
        """
        if not grounds or not grounds.strip():
            raise ValueError("compelling grounds must be stated (Art. 21(1))")
        return self._start(subject_ref, "compelling_grounds", purpose_key, now, note=grounds)

    def restrict(
        self, subject_ref: str, *, ground: RestrictionGround | str, now: dt.datetime
    ) -> PreferenceRecord:
        """Restrict processing of the subject's data on an Art. 18(1) ground.

        Raises:
            ValueError: ``ground`` is not one of :class:`RestrictionGround`.
        """
        try:
            ground = RestrictionGround(ground)
        except ValueError:
            raise ValueError(
                f"unknown restriction ground {ground!r}; expected one of "
                f"{', '.join(g.value for g in RestrictionGround)} (GDPR Art. 18(1))"
            ) from None
        return self._start(subject_ref, "restriction", ground.value, now)

    def lift_restriction(
        self,
        subject_ref: str,
        *,
        now: dt.datetime,
        ground: RestrictionGround | str | None = None,
    ) -> tuple[PreferenceRecord, ...]:
        """Lift the restriction on ``ground`` (every ground if ``None``); returns what was lifted.

        Art. 18(3): the subject must be told before a restriction is lifted.
        """
        grounds = list(RestrictionGround) if ground is None else [RestrictionGround(ground)]
        lifted = (self._end(subject_ref, "restriction", g.value, now) for g in grounds)
        return tuple(r for r in lifted if r is not None)

    def restrictions(self, subject_ref: str, *, now: dt.datetime) -> tuple[PreferenceRecord, ...]:
        """The restrictions in effect at ``now``."""
        return tuple(self._active(subject_ref, "restriction", _to_utc(now, "now")))

    def opt_out(
        self,
        subject_ref: str,
        key: str | CommunicationKind,
        *,
        now: dt.datetime,
        source: str | None = None,
    ) -> PreferenceRecord:
        """Opt out of one communication (by key) or of a whole kind (``CommunicationKind.PROMOTIONAL``).

        Raises:
            ConfigurationError: an opt-out of transactional messages (they are needed to run
                the service; the policy promises they are still sent).
        """
        if isinstance(key, CommunicationKind):
            if key is CommunicationKind.TRANSACTIONAL:
                raise ConfigurationError(
                    "transactional messages cannot be opted out of: they are needed to run the service"
                )
            key = f"kind:{key.value}"
        return self._start(subject_ref, "opt_out", key, now, source=source)

    def opt_in(
        self, subject_ref: str, key: str | CommunicationKind, *, now: dt.datetime
    ) -> PreferenceRecord | None:
        """End an opt-out (``None`` if none was in effect)."""
        if isinstance(key, CommunicationKind):
            key = f"kind:{key.value}"
        return self._end(subject_ref, "opt_out", key, now)

    def opt_out_of_sale(
        self, subject_ref: str, *, now: dt.datetime, source: str = "request"
    ) -> PreferenceRecord:
        """Opt out of the sale or sharing of personal data (CCPA/CPRA)."""
        return self._start(subject_ref, "sale_opt_out", "sale", now, source=source)

    def record_gpc(
        self, subject_ref: str, header_value: str | None, *, now: dt.datetime
    ) -> PreferenceRecord | None:
        """Record a Global Privacy Control signal: an opt-out only when ``Sec-GPC`` is exactly ``1``.

        Example:
            >>> prefs = Preferences()
            >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> prefs.record_gpc("subj_1", "true", now=now) is None
            True
            >>> prefs.record_gpc("subj_1", "1", now=now).source
            'gpc'
        """
        if header_value != "1":
            return None
        return self.opt_out_of_sale(subject_ref, now=now, source="gpc")

    # -- decisions --------------------------------------------------------------------------
    def _active(self, subject_ref: str, kind: str, now: dt.datetime) -> list[PreferenceRecord]:
        return [r for r in self._records.scan(subject_ref, kind) if r.active(now)]

    def may_process(self, subject_ref: str, purpose: Purpose, *, now: dt.datetime) -> Decision:
        """May the subject's data be processed for ``purpose`` at ``now``?

        In order: a restriction allows only storage and legal claims (Art. 18(2)); an objection
        to a direct-marketing purpose is absolute (Art. 21(3)); an objection to a purpose on
        consent withdraws that consent (Art. 7(3)); an objection to a purpose on legitimate
        interests or a public task stops it unless compelling legitimate grounds were recorded
        (Art. 21(1)); an objection to a purpose on another basis (contract, legal obligation,
        vital interests) has no effect under Art. 21 and is reported as such. An objection to
        ``marketing`` covers ``marketing.email``.

        Example:
            >>> prefs = Preferences()
            >>> now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
            >>> research = Purpose(key="product.research", name="Research",
            ...                    legal_basis="legitimate_interests")
            >>> _ = prefs.object_to("subj_1", "product.research", now=now)
            >>> prefs.may_process("subj_1", research, now=now).citation
            'GDPR Art. 21(1)'
            >>> _ = prefs.record_compelling_grounds("subj_1", "product.research", "fraud study", now=now)
            >>> prefs.may_process("subj_1", research, now=now).allowed
            True
        """
        at = _to_utc(now, "now")
        restrictions = self._active(subject_ref, "restriction", at)
        if restrictions:
            grounds = ", ".join(sorted(r.key for r in restrictions))
            if any(_covers(k, purpose.key) for k in self.storage_purposes):
                return _allow(f"restricted ({grounds}), but storage is allowed", "GDPR Art. 18(2)")
            if any(_covers(k, purpose.key) for k in self.legal_claims_purposes):
                return _allow(
                    f"restricted ({grounds}), but legal claims are allowed",
                    "GDPR Art. 18(2)",
                )
            return _refuse(
                f"processing is restricted ({grounds}): only storage and legal claims are allowed",
                "GDPR Art. 18(2)",
            )
        objections = [
            r for r in self._active(subject_ref, "objection", at) if _covers(r.key, purpose.key)
        ]
        if not objections:
            return _allow("no objection or restriction recorded")
        objected = min(objections, key=lambda r: len(r.key)).key
        if purpose.direct_marketing:
            return _refuse(
                f"objected to {objected!r} (direct marketing: the objection is absolute)",
                "GDPR Art. 21(3)",
            )
        basis = purpose.legal_basis
        if basis is LegalBasis.CONSENT:
            return _refuse(f"objected to {objected!r}: consent withdrawn", "GDPR Art. 7(3)")
        if basis.objectionable:
            grounds_recorded = [
                r
                for r in self._active(subject_ref, "compelling_grounds", at)
                if _covers(r.key, purpose.key)
            ]
            if grounds_recorded:
                return _allow(
                    f"objected to {objected!r}, but compelling legitimate grounds were recorded",
                    "GDPR Art. 21(1)",
                )
            return _refuse(
                f"objected to {objected!r} ({basis.value}); no compelling legitimate grounds recorded",
                "GDPR Art. 21(1)",
            )
        return _allow(
            f"objection to {objected!r} recorded, but processing on {basis.value} "
            f"({basis.article}) is not open to objection",
            "GDPR Art. 21(1)",
        )

    def may_send(
        self,
        subject_ref: str,
        communication: Communication,
        *,
        now: dt.datetime,
        purpose: Purpose | None = None,
    ) -> Decision:
        """May ``communication`` be sent to the subject at ``now``?

        Transactional messages (confirmations, security notices) are always allowed, even while
        processing is restricted, unless the registry was built with
        ``restriction_blocks_transactional=True``. The default is a deliberate choice: they are
        part of the service the subject uses (the policy promises they are still sent), and
        the controller must still be able to tell the subject before lifting a restriction
        (Art. 18(3)). Hosts that read Art. 18(2) strictly can turn that on.

        Promotional messages are refused after an opt-out of that communication or of all
        promotional messages, while processing is restricted, and, when ``purpose`` is given,
        whenever :meth:`may_process` refuses that purpose (an objection to direct marketing).

        Example:
            >>> prefs = Preferences()
            >>> now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
            >>> news = Communication(key="newsletter", kind="promotional",
            ...                      purpose="marketing.email", description="News")
            >>> _ = prefs.opt_out("subj_1", "newsletter", now=now)
            >>> print(prefs.may_send("subj_1", news, now=now))
            refused: opted out of 'newsletter' (GDPR Art. 21(3))
        """
        at = _to_utc(now, "now")
        restricted = self._active(subject_ref, "restriction", at)
        if communication.kind is CommunicationKind.TRANSACTIONAL:
            if restricted and self.restriction_blocks_transactional:
                return _refuse(
                    "processing is restricted and this registry blocks transactional messages too",
                    "GDPR Art. 18(2)",
                )
            suffix = (
                " (sent despite the restriction: needed to run the service)" if restricted else ""
            )
            return _allow(f"transactional message{suffix}")
        for record in self._active(subject_ref, "opt_out", at):
            if record.key in (communication.key, f"kind:{communication.kind.value}"):
                what = (
                    f"{communication.key!r}"
                    if record.key == communication.key
                    else f"all {communication.kind.value} messages"
                )
                return _refuse(f"opted out of {what}", "GDPR Art. 21(3)")
        if restricted:
            grounds = ", ".join(sorted(r.key for r in restricted))
            return _refuse(f"processing is restricted ({grounds})", "GDPR Art. 18(2)")
        if purpose is not None:
            decision = self.may_process(subject_ref, purpose, now=at)
            if not decision:
                return decision
        return _allow("promotional message; no opt-out recorded")

    def may_sell(self, subject_ref: str, *, now: dt.datetime) -> Decision:
        """May the subject's data be sold or shared (CCPA/CPRA) at ``now``?

        Example:
            >>> prefs = Preferences()
            >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> _ = prefs.record_gpc("subj_1", "1", now=now)
            >>> prefs.may_sell("subj_1", now=now).reason
            'opted out of sale or sharing (via gpc)'
        """
        at = _to_utc(now, "now")
        for record in self._active(subject_ref, "sale_opt_out", at):
            return _refuse(
                f"opted out of sale or sharing (via {record.source})",
                "Cal. Civ. Code 1798.120; CCPA regs 7025-7026",
            )
        return _allow("no opt-out of sale or sharing recorded")

    # -- inspection and persistence ---------------------------------------------------------
    def records(self, subject_ref: str | None = None) -> Iterator[PreferenceRecord]:
        """Every record (of one subject, if given), active or ended."""
        yield from self._records.scan(subject_ref)

    def to_json(self) -> bytes:
        """A JSON snapshot of every record."""
        return _preference_store.to_json(self.records())

    def _load(self, rows: Iterable[PreferenceRecord]) -> None:
        self._records.replace(rows)

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write a snapshot to ``path`` (atomically: a temporary file, then a rename)."""
        _preference_store.write_json(path, self.to_json())

    @classmethod
    def load_json(cls, path: str | os.PathLike[str], **options: Any) -> Preferences:
        """A registry from a :meth:`save_json` snapshot.

        With ``state=store`` among ``options``, the snapshot's records are written into the
        store (each replacing the stored record of the same subject, kind and key).

        Raises:
            ValueError: the file is not a snapshot; names the file and the bad record.
        """
        records = _preference_store.read_json(path)
        prefs = cls(**options)
        prefs._load(records)
        return prefs

    def save_sqlite(
        self,
        path_or_connection: str | os.PathLike[str] | sqlite3.Connection,
        *,
        table: str = "privacy_kit_preferences",
    ) -> None:
        """Replace the table's rows with a snapshot (one transaction).

        The table: ``subject TEXT, kind TEXT, key TEXT, at TEXT, ended_at TEXT, note TEXT,
        source TEXT, PRIMARY KEY (subject, kind, key)``; times are ISO 8601 in UTC.
        """
        _preference_store.write_sqlite(path_or_connection, table, self.records())

    @classmethod
    def load_sqlite(
        cls,
        path_or_connection: str | os.PathLike[str] | sqlite3.Connection,
        *,
        table: str = "privacy_kit_preferences",
        **options: Any,
    ) -> Preferences:
        """A registry from a :meth:`save_sqlite` table (empty if the table does not exist)."""
        records = _preference_store.read_sqlite(path_or_connection, table)
        prefs = cls(**options)
        prefs._load(records)
        return prefs
